/**
 * Packages only the simulator uses. They are the library's optional peer dependencies: the
 * repository installs them with its development dependencies, an application that installs the
 * library gets none of them. The simulator's command looks them up before it starts and says
 * which to install when some are missing; the plots load theirs when they draw.
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

/** What a part of the simulator needs. */
export interface PackageNeed {
  /** the part: "the simulator", "the plots" */
  what: string
  packages: readonly string[]
  /** what else the user may do, said when this part alone misses packages */
  hint?: string
}

/**
 * Throws one `MissingPackagesError` that names every package of each need that lacks one, so
 * that one install brings them all. Packages are looked up without being loaded.
 */
export function checkPackages (needs: readonly PackageNeed[]): void {
  const missing = needs.filter(need => need.packages.some(name => !installed(name)))

  if (missing.length > 0) {
    throw new MissingPackagesError(names(missing.map(need => need.what)), missing.flatMap(need => need.packages), missing.length === 1 ? missing[0].hint : undefined)
  }
}

/** Whether a package can be imported from here (one whose root is not exported is there too). */
function installed (name: string): boolean {
  try {
    import.meta.resolve(name)
    return true
  } catch (err: any) {
    return err?.code !== 'ERR_MODULE_NOT_FOUND'
  }
}
