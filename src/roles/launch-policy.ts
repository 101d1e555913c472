/**
 * The supplier's launch policy: who may launch here, which images from which registries, which
 * host ports. The containers manager checks a launch against it before it takes any resource, and
 * refuses one outside it with the reason, so the buyer tries its next offer. The runtime's own
 * limits (processes, open files, logs, network) are the runtime's settings, not checked here.
 */

import { imageMatches, isLocalRegistry, normaliseRegistry, parseImagePattern, parseImageReference } from '../image-ref.js'
import type { SupplierConfig } from '../config/types.js'
import type { ImagePattern } from '../image-ref.js'
import type { ContainerConfig } from '../types.js'

/** The part of `SupplierConfig` a launch is checked against. */
export type LaunchPolicyConfig = Pick<SupplierConfig, 'allowBuyers' | 'allowImages' | 'allowRegistries' | 'hostPorts' | 'network'>

/** A supplier's launch policy, compiled once. */
export class LaunchPolicy {
  private readonly buyers?: ReadonlySet<string>
  private readonly images: Array<{ text: string, pattern: ImagePattern }>
  private readonly registries?: ReadonlySet<string>
  private readonly hostPorts: { min: number, max: number }
  private readonly noNetwork: boolean

  constructor (config: LaunchPolicyConfig) {
    this.buyers = config.allowBuyers.length > 0 ? new Set(config.allowBuyers) : undefined
    this.images = config.allowImages.map(text => ({ text, pattern: parseImagePattern(text) }))
    this.registries = config.allowRegistries.length > 0 ? new Set(config.allowRegistries.map(normaliseRegistry)) : undefined
    this.hostPorts = { ...config.hostPorts }
    this.noNetwork = config.network === 'none'
  }

  /** Why this supplier refuses `containers` from `buyer`, or undefined when it takes them. */
  refusal (buyer: string, containers: readonly ContainerConfig[]): string | undefined {
    if (this.buyers != null && !this.buyers.has(buyer)) {
      return 'this supplier runs containers only for the peers it allows, and not for this one'
    }

    for (const container of containers) {
      const reason = this.imageRefusal(container.image) ?? this.portRefusal(container)

      if (reason != null) {
        return reason
      }
    }

    return undefined
  }

  private imageRefusal (image: string): string | undefined {
    const registry = parseImageReference(image).registry

    if (this.registries != null ? !this.registries.has(registry) : isLocalRegistry(registry)) {
      return this.registries != null
        ? `images from registry ${registry} are not allowed here (allowed: ${[...this.registries].join(', ')})`
        : `images from registry ${registry}, on the supplier's own machine or private network, are not allowed here`
    }

    if (this.images.length > 0 && !this.images.some(({ pattern }) => imageMatches(pattern, image))) {
      return `image ${image} is not allowed here (allowed: ${this.images.map(({ text }) => text).join(', ')})`
    }

    return undefined
  }

  private portRefusal (container: ContainerConfig): string | undefined {
    if (this.noNetwork && container.portMappings.length > 0) {
      return 'this supplier runs containers without a network: they cannot publish ports'
    }

    const { min, max } = this.hostPorts
    const outside = container.portMappings.find(({ hostPort }) => hostPort !== 0 && (hostPort < min || hostPort > max))

    return outside == null
      ? undefined
      : `host port ${outside.hostPort} is outside the ports containers may publish here (${min}-${max}, or 0 for one the engine picks)`
  }
}
