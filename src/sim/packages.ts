/**
 * Packages only the simulator uses. They are the library's optional peer dependencies: the
 * repository installs them with its development dependencies, an application that installs the
 * library gets none of them, and the simulator loads them when it starts and says which to install
 * when they are missing.
 */

/** What the simulator's engine draws its random numbers with. */
export const SIMULATOR_PACKAGES = ['pure-rand'] as const
/** What the plots are drawn with. */
export const PLOT_PACKAGES = ['vega', 'vega-lite', '@resvg/resvg-js'] as const

/** Packages a part of the simulator needs are not installed. */
export class MissingPackagesError extends Error {
  /** what needs them: "the simulator", "the plots" */
  readonly what: string
  readonly packages: readonly string[]

  constructor (what: string, packages: readonly string[], hint = '') {
    super(`${what} need${what.endsWith('s') ? '' : 's'} ${names(packages)}, not installed here: npm install ${packages.join(' ')}${hint}`)
    this.name = 'MissingPackagesError'
    this.what = what
    this.packages = packages
  }
}

/**
 * `load()`, or a `MissingPackagesError` naming every one of `packages` (`what` needs them) when it
 * fails for want of a package.
 */
export async function importPackages<T> (load: () => Promise<T>, what: string, packages: readonly string[], hint?: string): Promise<T> {
  try {
    return await load()
  } catch (err: any) {
    if (err?.code === 'ERR_MODULE_NOT_FOUND' && packages.some(name => String(err.message).includes(`'${name}`))) {
      throw new MissingPackagesError(what, packages, hint)
    }

    throw err
  }
}

function names (packages: readonly string[]): string {
  return packages.length === 1 ? packages[0] : `${packages.slice(0, -1).join(', ')} and ${packages[packages.length - 1]}`
}

/**
 * Waits for every load of `loads` (an absent one is not wanted). Packages missing for more than
 * one are named in one `MissingPackagesError`, so that one install brings them all.
 */
export async function allPackages (loads: Array<Promise<unknown> | undefined>): Promise<void> {
  const failures = (await Promise.allSettled(loads.filter(load => load != null))).flatMap(result => result.status === 'rejected' ? [result.reason] : [])
  const other = failures.find(err => !(err instanceof MissingPackagesError))

  if (other != null || failures.length === 1) {
    throw other ?? failures[0]
  }

  if (failures.length > 1) {
    throw new MissingPackagesError(names(failures.map(err => err.what)), failures.flatMap(err => err.packages))
  }
}
