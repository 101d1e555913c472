/**
 * `Promise.withResolvers` (ES2024) for Node 20: the libp2p 3.x stack calls it but no package
 * declares that it needs Node 22. Import this module before anything that imports libp2p.
 */

interface PromiseWithResolversFn {
  withResolvers?: <T>() => PromiseWithResolvers<T>
}

interface PromiseWithResolvers<T> {
  promise: Promise<T>
  resolve (value: T | PromiseLike<T>): void
  reject (reason?: unknown): void
}

const promiseConstructor = Promise as unknown as PromiseWithResolversFn

if (typeof promiseConstructor.withResolvers !== 'function') {
  promiseConstructor.withResolvers = function <T> (): PromiseWithResolvers<T> {
    let resolve!: (value: T | PromiseLike<T>) => void
    let reject!: (reason?: unknown) => void
    const promise = new Promise<T>((res, rej) => {
      resolve = res
      reject = rej
    })
    return { promise, resolve, reject }
  }
}

export {}
