/**
 * Image references as Docker reads them, for the rules a supplier sets on what it runs: which
 * images (`--allow-image`, glob patterns or pinned digests) and which registries
 * (`--allow-registry`). Both the launch policy of the roles and the Docker runtime match with these.
 */

import { isIPv4, isIPv6 } from 'node:net'

/** The registry of an image reference without one. */
export const DEFAULT_REGISTRY = 'docker.io'

/** An image reference split for matching. */
export interface ImageReference {
  /** where it is pulled from: `docker.io` unless the first path component names a host */
  registry: string
  /** the repository, lower case, without `docker.io/` and `library/`: `nginx`, `ghcr.io/org/app` */
  repository: string
  tag?: string
  /** `sha256:<hex>` */
  digest?: string
}

/** A compiled `--allow-image` pattern. */
export interface ImagePattern {
  repository: RegExp
  tag?: RegExp
  digest?: string
}

/**
 * Split `[registry/]repo[:tag][@digest]`, dropping `docker.io/` and `library/` so that `nginx`
 * = `docker.io/library/nginx`. The first path component is a registry when it holds a `.` or a
 * `:`, or is `localhost`, as Docker decides.
 */
export function parseImageReference (reference: string): ImageReference {
  let rest = reference.trim()
  let digest: string | undefined
  let tag: string | undefined
  const at = rest.indexOf('@')

  if (at >= 0) {
    digest = rest.slice(at + 1)
    rest = rest.slice(0, at)
  }

  const colon = rest.lastIndexOf(':')

  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1)
    rest = rest.slice(0, colon)
  }

  const slash = rest.indexOf('/')
  const first = slash < 0 ? '' : rest.slice(0, slash)
  const named = first.includes('.') || first.includes(':') || first === 'localhost'
  const registry = named ? normaliseRegistry(first) : DEFAULT_REGISTRY
  const repository = rest.toLowerCase().replace(/^(index\.)?docker\.io\//, '').replace(/^library\//, '')
  return { registry, repository, tag, digest }
}

/** The registry `image` is pulled from, lower case: `docker.io`, `ghcr.io`, `127.0.0.1:5000`. */
export function registryOf (image: string): string {
  return parseImageReference(image).registry
}

/** `index.docker.io` and `registry-1.docker.io` are Docker Hub, as `docker.io` is. */
export function normaliseRegistry (registry: string): string {
  const lower = registry.trim().toLowerCase()
  return lower === 'index.docker.io' || lower === 'registry-1.docker.io' ? DEFAULT_REGISTRY : lower
}

/**
 * True for a registry on the supplier's own machine or private network: `localhost`, loopback,
 * private, link-local or unique-local addresses. The engine pulls from those over plain HTTP
 * (loopback) or reaches services a stranger should not make it reach, so a supplier refuses them
 * unless it allows them by name.
 */
export function isLocalRegistry (registry: string): boolean {
  const host = hostOf(registry)

  if (host === 'localhost' || host.endsWith('.localhost') || host.endsWith('.local')) {
    return true
  }

  if (isIPv4(host)) {
    const [a, b] = host.split('.').map(Number)
    return a === 127 || a === 10 || a === 0 || (a === 172 && b >= 16 && b < 32) || (a === 192 && b === 168) || (a === 169 && b === 254) || (a === 100 && b >= 64 && b < 128)
  }

  if (isIPv6(host)) {
    const lower = host.toLowerCase()
    return lower === '::1' || lower === '::' || /^f[cd]/.test(lower) || /^fe[89ab]/.test(lower) || lower.startsWith('::ffff:')
  }

  return false
}

/** The host of `host[:port]` or `[v6]:port`. */
function hostOf (registry: string): string {
  const lower = normaliseRegistry(registry)

  if (lower.startsWith('[')) {
    return lower.slice(1, lower.indexOf(']') < 0 ? undefined : lower.indexOf(']'))
  }

  return isIPv6(lower) ? lower : lower.replace(/:\d+$/, '')
}

/** A `*` glob as an anchored regular expression. */
function glob (pattern: string): RegExp {
  return new RegExp(`^${pattern.split('*').map(part => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`)
}

/**
 * Compile an image pattern: `repository[:tag|@digest]` where `*` matches any characters; without a
 * tag or digest it allows every tag and digest of the repository.
 */
export function parseImagePattern (pattern: string): ImagePattern {
  const { repository, tag, digest } = parseImageReference(pattern)
  return { repository: glob(repository), tag: tag != null ? glob(tag) : undefined, digest }
}

/** True when `image` is allowed by `pattern`. */
export function imageMatches (pattern: ImagePattern, image: string): boolean {
  const ref = parseImageReference(image)

  if (!pattern.repository.test(ref.repository)) {
    return false
  }

  if (pattern.digest != null) {
    return ref.digest === pattern.digest
  }

  if (pattern.tag != null) {
    return pattern.tag.test(ref.tag ?? (ref.digest == null ? 'latest' : ''))
  }

  return true
}

/** True when `image` is allowed by the allow-list `patterns` (empty: any image). */
export function isImageAllowed (patterns: readonly string[], image: string): boolean {
  return patterns.length === 0 || patterns.map(parseImagePattern).some(p => imageMatches(p, image))
}

/** Why `pattern` is no image pattern, or undefined when it is one. */
export function imagePatternProblem (pattern: string): string | undefined {
  if (pattern.trim() === '' || pattern.length > 512 || !/^[a-zA-Z0-9*][a-zA-Z0-9._\-/:@*]*$/.test(pattern)) {
    return 'is not an image pattern ([registry/]repository[:tag|@sha256:digest], * matching any characters)'
  }

  const { digest } = parseImageReference(pattern)

  if (digest != null && !/^sha256:[0-9a-f]{64}$/.test(digest)) {
    return 'pins a digest that is not sha256:<64 hex digits>'
  }

  return undefined
}
