/* eslint-disable require-yield */

import { decodeMessage, encodeMessage, enumeration, MaxLengthError, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface Status {
  code: Status.Code
  message: string
}

export namespace Status {
  export enum Code {
    OK = 'OK',
    INVALID_REQUEST = 'INVALID_REQUEST',
    NOT_FOUND = 'NOT_FOUND',
    REFUSED = 'REFUSED',
    UNAVAILABLE = 'UNAVAILABLE',
    RATE_LIMITED = 'RATE_LIMITED',
    NOT_IMPLEMENTED = 'NOT_IMPLEMENTED',
    INTERNAL_ERROR = 'INTERNAL_ERROR'
  }

  enum __CodeValues {
    OK = 0,
    INVALID_REQUEST = 1,
    NOT_FOUND = 2,
    REFUSED = 3,
    UNAVAILABLE = 4,
    RATE_LIMITED = 5,
    NOT_IMPLEMENTED = 6,
    INTERNAL_ERROR = 7
  }

  export namespace Code {
    export const codec = (): Codec<Code> => {
      return enumeration<Code>(__CodeValues)
    }
  }

  let _codec: Codec<Status>

  export const codec = (): Codec<Status> => {
    if (_codec == null) {
      _codec = message<Status>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.code != null && __CodeValues[obj.code] !== 0) {
          w.uint32(8)
          Status.Code.codec().encode(obj.code, w)
        }

        if ((obj.message != null && obj.message !== '')) {
          w.uint32(18)
          w.string(obj.message)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          code: Code.OK,
          message: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.code = Status.Code.codec().decode(reader)
              break
            }
            case 2: {
              obj.message = reader.string()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.code`,
                value: Status.Code.codec().decode(reader)
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.message`,
                value: reader.string()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface StatusCodeFieldEvent {
    field: '$.code'
    value: Status.Code
  }

  export interface StatusMessageFieldEvent {
    field: '$.message'
    value: string
  }

  export function encode (obj: Partial<Status>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Status.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Status>): Status {
    return decodeMessage(buf, Status.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Status>): Generator<StatusCodeFieldEvent | StatusMessageFieldEvent> {
    return streamMessage(buf, Status.codec(), opts)
  }
}

export interface Resources {
  cpuClass: number
  cpus: number
  memory: number
}

export namespace Resources {
  let _codec: Codec<Resources>

  export const codec = (): Codec<Resources> => {
    if (_codec == null) {
      _codec = message<Resources>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.cpuClass != null && obj.cpuClass !== 0)) {
          w.uint32(8)
          w.uint32(obj.cpuClass)
        }

        if ((obj.cpus != null && obj.cpus !== 0)) {
          w.uint32(16)
          w.uint32(obj.cpus)
        }

        if ((obj.memory != null && obj.memory !== 0)) {
          w.uint32(24)
          w.uint32(obj.memory)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          cpuClass: 0,
          cpus: 0,
          memory: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.cpuClass = reader.uint32()
              break
            }
            case 2: {
              obj.cpus = reader.uint32()
              break
            }
            case 3: {
              obj.memory = reader.uint32()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.cpuClass`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.cpus`,
                value: reader.uint32()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.memory`,
                value: reader.uint32()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface ResourcesCpuClassFieldEvent {
    field: '$.cpuClass'
    value: number
  }

  export interface ResourcesCpusFieldEvent {
    field: '$.cpus'
    value: number
  }

  export interface ResourcesMemoryFieldEvent {
    field: '$.memory'
    value: number
  }

  export function encode (obj: Partial<Resources>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Resources.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Resources>): Resources {
    return decodeMessage(buf, Resources.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Resources>): Generator<ResourcesCpuClassFieldEvent | ResourcesCpusFieldEvent | ResourcesMemoryFieldEvent> {
    return streamMessage(buf, Resources.codec(), opts)
  }
}

export interface NodeRef {
  peerId: Uint8Array<ArrayBuffer>
  multiaddrs: Uint8Array<ArrayBuffer>[]
}

export namespace NodeRef {
  let _codec: Codec<NodeRef>

  export const codec = (): Codec<NodeRef> => {
    if (_codec == null) {
      _codec = message<NodeRef>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.peerId != null && obj.peerId.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.peerId)
        }

        if (obj.multiaddrs != null && obj.multiaddrs.length > 0) {
          for (const value of obj.multiaddrs) {
            w.uint32(18)
            w.bytes(value)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          peerId: uint8ArrayAlloc(0),
          multiaddrs: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.peerId = reader.bytes()
              break
            }
            case 2: {
              if (opts.limits?.multiaddrs != null && obj.multiaddrs.length === opts.limits.multiaddrs) {
                throw new MaxLengthError('Decode error - repeated field "multiaddrs" had too many elements')
              }

              if (obj.multiaddrs.length === 16) {
                throw new MaxLengthError('Decode error - repeated field "multiaddrs" had too many elements')
              }

              obj.multiaddrs.push(reader.bytes())
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const obj = {
          multiaddrs: 16
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.peerId`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              if (opts.limits?.multiaddrs != null && obj.multiaddrs === opts.limits.multiaddrs) {
                throw new MaxLengthError('Streaming decode error - repeated field "multiaddrs" had too many elements')
              }

              if (obj.multiaddrs === 16) {
                throw new MaxLengthError('Streaming decode error - repeated field "multiaddrs" had too many elements')
              }

              yield {
                field: `${prefix}.multiaddrs[]`,
                index: obj.multiaddrs,
                value: reader.bytes()
              }

              obj.multiaddrs++

              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface NodeRefPeerIdFieldEvent {
    field: '$.peerId'
    value: Uint8Array<ArrayBuffer>
  }

  export interface NodeRefMultiaddrsFieldEvent {
    field: '$.multiaddrs[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<NodeRef>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, NodeRef.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<NodeRef>): NodeRef {
    return decodeMessage(buf, NodeRef.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<NodeRef>): Generator<NodeRefPeerIdFieldEvent | NodeRefMultiaddrsFieldEvent> {
    return streamMessage(buf, NodeRef.codec(), opts)
  }
}

export interface Offer {
  id: bigint
  amount: number
  freeResources?: Resources
  usedResources?: Resources
  containersRunning: number
}

export namespace Offer {
  let _codec: Codec<Offer>

  export const codec = (): Codec<Offer> => {
    if (_codec == null) {
      _codec = message<Offer>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.id != null && obj.id !== 0n)) {
          w.uint32(8)
          w.uint64(obj.id)
        }

        if ((obj.amount != null && obj.amount !== 0)) {
          w.uint32(16)
          w.uint32(obj.amount)
        }

        if (obj.freeResources != null) {
          w.uint32(26)
          Resources.codec().encode(obj.freeResources, w)
        }

        if (obj.usedResources != null) {
          w.uint32(34)
          Resources.codec().encode(obj.usedResources, w)
        }

        if ((obj.containersRunning != null && obj.containersRunning !== 0)) {
          w.uint32(40)
          w.uint32(obj.containersRunning)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          id: 0n,
          amount: 0,
          containersRunning: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.id = reader.uint64()
              break
            }
            case 2: {
              obj.amount = reader.uint32()
              break
            }
            case 3: {
              obj.freeResources = Resources.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.freeResources
              })
              break
            }
            case 4: {
              obj.usedResources = Resources.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.usedResources
              })
              break
            }
            case 5: {
              obj.containersRunning = reader.uint32()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.id`,
                value: reader.uint64()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.amount`,
                value: reader.uint32()
              }
              break
            }
            case 3: {
              yield * Resources.codec().stream(reader, reader.uint32(), `${prefix}.freeResources`, {
                limits: opts.limits?.freeResources
              })

              break
            }
            case 4: {
              yield * Resources.codec().stream(reader, reader.uint32(), `${prefix}.usedResources`, {
                limits: opts.limits?.usedResources
              })

              break
            }
            case 5: {
              yield {
                field: `${prefix}.containersRunning`,
                value: reader.uint32()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface OfferIdFieldEvent {
    field: '$.id'
    value: bigint
  }

  export interface OfferAmountFieldEvent {
    field: '$.amount'
    value: number
  }

  export interface OfferFreeResourcesCpuClassFieldEvent {
    field: '$.freeResources.cpuClass'
    value: number
  }

  export interface OfferFreeResourcesCpusFieldEvent {
    field: '$.freeResources.cpus'
    value: number
  }

  export interface OfferFreeResourcesMemoryFieldEvent {
    field: '$.freeResources.memory'
    value: number
  }

  export interface OfferUsedResourcesCpuClassFieldEvent {
    field: '$.usedResources.cpuClass'
    value: number
  }

  export interface OfferUsedResourcesCpusFieldEvent {
    field: '$.usedResources.cpus'
    value: number
  }

  export interface OfferUsedResourcesMemoryFieldEvent {
    field: '$.usedResources.memory'
    value: number
  }

  export interface OfferContainersRunningFieldEvent {
    field: '$.containersRunning'
    value: number
  }

  export function encode (obj: Partial<Offer>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Offer.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Offer>): Offer {
    return decodeMessage(buf, Offer.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Offer>): Generator<OfferIdFieldEvent | OfferAmountFieldEvent | OfferFreeResourcesCpuClassFieldEvent | OfferFreeResourcesCpusFieldEvent | OfferFreeResourcesMemoryFieldEvent | OfferUsedResourcesCpuClassFieldEvent | OfferUsedResourcesCpusFieldEvent | OfferUsedResourcesMemoryFieldEvent | OfferContainersRunningFieldEvent> {
    return streamMessage(buf, Offer.codec(), opts)
  }
}

export interface AvailableOffer {
  offer?: Offer
  supplier?: NodeRef
}

export namespace AvailableOffer {
  let _codec: Codec<AvailableOffer>

  export const codec = (): Codec<AvailableOffer> => {
    if (_codec == null) {
      _codec = message<AvailableOffer>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.offer != null) {
          w.uint32(10)
          Offer.codec().encode(obj.offer, w)
        }

        if (obj.supplier != null) {
          w.uint32(18)
          NodeRef.codec().encode(obj.supplier, w)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {}

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.offer = Offer.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.offer
              })
              break
            }
            case 2: {
              obj.supplier = NodeRef.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.supplier
              })
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield * Offer.codec().stream(reader, reader.uint32(), `${prefix}.offer`, {
                limits: opts.limits?.offer
              })

              break
            }
            case 2: {
              yield * NodeRef.codec().stream(reader, reader.uint32(), `${prefix}.supplier`, {
                limits: opts.limits?.supplier
              })

              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface AvailableOfferOfferIdFieldEvent {
    field: '$.offer.id'
    value: bigint
  }

  export interface AvailableOfferOfferAmountFieldEvent {
    field: '$.offer.amount'
    value: number
  }

  export interface AvailableOfferOfferFreeResourcesCpuClassFieldEvent {
    field: '$.offer.freeResources.cpuClass'
    value: number
  }

  export interface AvailableOfferOfferFreeResourcesCpusFieldEvent {
    field: '$.offer.freeResources.cpus'
    value: number
  }

  export interface AvailableOfferOfferFreeResourcesMemoryFieldEvent {
    field: '$.offer.freeResources.memory'
    value: number
  }

  export interface AvailableOfferOfferUsedResourcesCpuClassFieldEvent {
    field: '$.offer.usedResources.cpuClass'
    value: number
  }

  export interface AvailableOfferOfferUsedResourcesCpusFieldEvent {
    field: '$.offer.usedResources.cpus'
    value: number
  }

  export interface AvailableOfferOfferUsedResourcesMemoryFieldEvent {
    field: '$.offer.usedResources.memory'
    value: number
  }

  export interface AvailableOfferOfferContainersRunningFieldEvent {
    field: '$.offer.containersRunning'
    value: number
  }

  export interface AvailableOfferSupplierPeerIdFieldEvent {
    field: '$.supplier.peerId'
    value: Uint8Array<ArrayBuffer>
  }

  export interface AvailableOfferSupplierMultiaddrsFieldEvent {
    field: '$.supplier.multiaddrs[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<AvailableOffer>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, AvailableOffer.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<AvailableOffer>): AvailableOffer {
    return decodeMessage(buf, AvailableOffer.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<AvailableOffer>): Generator<AvailableOfferOfferIdFieldEvent | AvailableOfferOfferAmountFieldEvent | AvailableOfferOfferFreeResourcesCpuClassFieldEvent | AvailableOfferOfferFreeResourcesCpusFieldEvent | AvailableOfferOfferFreeResourcesMemoryFieldEvent | AvailableOfferOfferUsedResourcesCpuClassFieldEvent | AvailableOfferOfferUsedResourcesCpusFieldEvent | AvailableOfferOfferUsedResourcesMemoryFieldEvent | AvailableOfferOfferContainersRunningFieldEvent | AvailableOfferSupplierPeerIdFieldEvent | AvailableOfferSupplierMultiaddrsFieldEvent> {
    return streamMessage(buf, AvailableOffer.codec(), opts)
  }
}

export interface PortMapping {
  hostPort: number
  containerPort: number
  protocol: PortMapping.Protocol
}

export namespace PortMapping {
  export enum Protocol {
    TCP = 'TCP',
    UDP = 'UDP'
  }

  enum __ProtocolValues {
    TCP = 0,
    UDP = 1
  }

  export namespace Protocol {
    export const codec = (): Codec<Protocol> => {
      return enumeration<Protocol>(__ProtocolValues)
    }
  }

  let _codec: Codec<PortMapping>

  export const codec = (): Codec<PortMapping> => {
    if (_codec == null) {
      _codec = message<PortMapping>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.hostPort != null && obj.hostPort !== 0)) {
          w.uint32(8)
          w.uint32(obj.hostPort)
        }

        if ((obj.containerPort != null && obj.containerPort !== 0)) {
          w.uint32(16)
          w.uint32(obj.containerPort)
        }

        if (obj.protocol != null && __ProtocolValues[obj.protocol] !== 0) {
          w.uint32(24)
          PortMapping.Protocol.codec().encode(obj.protocol, w)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          hostPort: 0,
          containerPort: 0,
          protocol: Protocol.TCP
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.hostPort = reader.uint32()
              break
            }
            case 2: {
              obj.containerPort = reader.uint32()
              break
            }
            case 3: {
              obj.protocol = PortMapping.Protocol.codec().decode(reader)
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.hostPort`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.containerPort`,
                value: reader.uint32()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.protocol`,
                value: PortMapping.Protocol.codec().decode(reader)
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface PortMappingHostPortFieldEvent {
    field: '$.hostPort'
    value: number
  }

  export interface PortMappingContainerPortFieldEvent {
    field: '$.containerPort'
    value: number
  }

  export interface PortMappingProtocolFieldEvent {
    field: '$.protocol'
    value: PortMapping.Protocol
  }

  export function encode (obj: Partial<PortMapping>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, PortMapping.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<PortMapping>): PortMapping {
    return decodeMessage(buf, PortMapping.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<PortMapping>): Generator<PortMappingHostPortFieldEvent | PortMappingContainerPortFieldEvent | PortMappingProtocolFieldEvent> {
    return streamMessage(buf, PortMapping.codec(), opts)
  }
}

export interface ContainerConfig {
  name: string
  image: string
  args: string[]
  portMappings: PortMapping[]
  resources?: Resources
  groupPolicy: ContainerConfig.GroupPolicy
}

export namespace ContainerConfig {
  export enum GroupPolicy {
    SPREAD = 'SPREAD',
    CO_LOCATION = 'CO_LOCATION'
  }

  enum __GroupPolicyValues {
    SPREAD = 0,
    CO_LOCATION = 1
  }

  export namespace GroupPolicy {
    export const codec = (): Codec<GroupPolicy> => {
      return enumeration<GroupPolicy>(__GroupPolicyValues)
    }
  }

  let _codec: Codec<ContainerConfig>

  export const codec = (): Codec<ContainerConfig> => {
    if (_codec == null) {
      _codec = message<ContainerConfig>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.name != null && obj.name !== '')) {
          w.uint32(10)
          w.string(obj.name)
        }

        if ((obj.image != null && obj.image !== '')) {
          w.uint32(18)
          w.string(obj.image)
        }

        if (obj.args != null && obj.args.length > 0) {
          for (const value of obj.args) {
            w.uint32(26)
            w.string(value)
          }
        }

        if (obj.portMappings != null && obj.portMappings.length > 0) {
          for (const value of obj.portMappings) {
            w.uint32(34)
            PortMapping.codec().encode(value, w)
          }
        }

        if (obj.resources != null) {
          w.uint32(42)
          Resources.codec().encode(obj.resources, w)
        }

        if (obj.groupPolicy != null && __GroupPolicyValues[obj.groupPolicy] !== 0) {
          w.uint32(48)
          ContainerConfig.GroupPolicy.codec().encode(obj.groupPolicy, w)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          name: '',
          image: '',
          args: [],
          portMappings: [],
          groupPolicy: GroupPolicy.SPREAD
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.name = reader.string()
              break
            }
            case 2: {
              obj.image = reader.string()
              break
            }
            case 3: {
              if (opts.limits?.args != null && obj.args.length === opts.limits.args) {
                throw new MaxLengthError('Decode error - repeated field "args" had too many elements')
              }

              if (obj.args.length === 256) {
                throw new MaxLengthError('Decode error - repeated field "args" had too many elements')
              }

              obj.args.push(reader.string())
              break
            }
            case 4: {
              if (opts.limits?.portMappings != null && obj.portMappings.length === opts.limits.portMappings) {
                throw new MaxLengthError('Decode error - repeated field "portMappings" had too many elements')
              }

              if (obj.portMappings.length === 64) {
                throw new MaxLengthError('Decode error - repeated field "portMappings" had too many elements')
              }

              obj.portMappings.push(PortMapping.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.portMappings$
              }))
              break
            }
            case 5: {
              obj.resources = Resources.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.resources
              })
              break
            }
            case 6: {
              obj.groupPolicy = ContainerConfig.GroupPolicy.codec().decode(reader)
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const obj = {
          args: 256,
          portMappings: 64
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.name`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.image`,
                value: reader.string()
              }
              break
            }
            case 3: {
              if (opts.limits?.args != null && obj.args === opts.limits.args) {
                throw new MaxLengthError('Streaming decode error - repeated field "args" had too many elements')
              }

              if (obj.args === 256) {
                throw new MaxLengthError('Streaming decode error - repeated field "args" had too many elements')
              }

              yield {
                field: `${prefix}.args[]`,
                index: obj.args,
                value: reader.string()
              }

              obj.args++

              break
            }
            case 4: {
              if (opts.limits?.portMappings != null && obj.portMappings === opts.limits.portMappings) {
                throw new MaxLengthError('Streaming decode error - repeated field "portMappings" had too many elements')
              }

              if (obj.portMappings === 64) {
                throw new MaxLengthError('Streaming decode error - repeated field "portMappings" had too many elements')
              }

              for (const evt of PortMapping.codec().stream(reader, reader.uint32(), `${prefix}.portMappings[]`, {
                limits: opts.limits?.portMappings$
              })) {
                yield {
                  ...evt,
                  index: obj.portMappings
                }
              }

              obj.portMappings++

              break
            }
            case 5: {
              yield * Resources.codec().stream(reader, reader.uint32(), `${prefix}.resources`, {
                limits: opts.limits?.resources
              })

              break
            }
            case 6: {
              yield {
                field: `${prefix}.groupPolicy`,
                value: ContainerConfig.GroupPolicy.codec().decode(reader)
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface ContainerConfigNameFieldEvent {
    field: '$.name'
    value: string
  }

  export interface ContainerConfigImageFieldEvent {
    field: '$.image'
    value: string
  }

  export interface ContainerConfigArgsFieldEvent {
    field: '$.args[]'
    index: number
    value: string
  }

  export interface ContainerConfigPortMappingsHostPortFieldEvent {
    field: '$.portMappings[].hostPort'
    value: number
    index: number
  }

  export interface ContainerConfigPortMappingsContainerPortFieldEvent {
    field: '$.portMappings[].containerPort'
    value: number
    index: number
  }

  export interface ContainerConfigPortMappingsProtocolFieldEvent {
    field: '$.portMappings[].protocol'
    value: PortMapping.Protocol
    index: number
  }

  export interface ContainerConfigResourcesCpuClassFieldEvent {
    field: '$.resources.cpuClass'
    value: number
  }

  export interface ContainerConfigResourcesCpusFieldEvent {
    field: '$.resources.cpus'
    value: number
  }

  export interface ContainerConfigResourcesMemoryFieldEvent {
    field: '$.resources.memory'
    value: number
  }

  export interface ContainerConfigGroupPolicyFieldEvent {
    field: '$.groupPolicy'
    value: ContainerConfig.GroupPolicy
  }

  export function encode (obj: Partial<ContainerConfig>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, ContainerConfig.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ContainerConfig>): ContainerConfig {
    return decodeMessage(buf, ContainerConfig.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ContainerConfig>): Generator<ContainerConfigNameFieldEvent | ContainerConfigImageFieldEvent | ContainerConfigArgsFieldEvent | ContainerConfigPortMappingsHostPortFieldEvent | ContainerConfigPortMappingsContainerPortFieldEvent | ContainerConfigPortMappingsProtocolFieldEvent | ContainerConfigResourcesCpuClassFieldEvent | ContainerConfigResourcesCpusFieldEvent | ContainerConfigResourcesMemoryFieldEvent | ContainerConfigGroupPolicyFieldEvent> {
    return streamMessage(buf, ContainerConfig.codec(), opts)
  }
}

export interface ContainerStatus {
  config?: ContainerConfig
  supplier?: NodeRef
  containerId: string
  state: string
}

export namespace ContainerStatus {
  let _codec: Codec<ContainerStatus>

  export const codec = (): Codec<ContainerStatus> => {
    if (_codec == null) {
      _codec = message<ContainerStatus>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.config != null) {
          w.uint32(10)
          ContainerConfig.codec().encode(obj.config, w)
        }

        if (obj.supplier != null) {
          w.uint32(18)
          NodeRef.codec().encode(obj.supplier, w)
        }

        if ((obj.containerId != null && obj.containerId !== '')) {
          w.uint32(26)
          w.string(obj.containerId)
        }

        if ((obj.state != null && obj.state !== '')) {
          w.uint32(34)
          w.string(obj.state)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          containerId: '',
          state: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.config = ContainerConfig.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.config
              })
              break
            }
            case 2: {
              obj.supplier = NodeRef.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.supplier
              })
              break
            }
            case 3: {
              obj.containerId = reader.string()
              break
            }
            case 4: {
              obj.state = reader.string()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield * ContainerConfig.codec().stream(reader, reader.uint32(), `${prefix}.config`, {
                limits: opts.limits?.config
              })

              break
            }
            case 2: {
              yield * NodeRef.codec().stream(reader, reader.uint32(), `${prefix}.supplier`, {
                limits: opts.limits?.supplier
              })

              break
            }
            case 3: {
              yield {
                field: `${prefix}.containerId`,
                value: reader.string()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.state`,
                value: reader.string()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface ContainerStatusConfigNameFieldEvent {
    field: '$.config.name'
    value: string
  }

  export interface ContainerStatusConfigImageFieldEvent {
    field: '$.config.image'
    value: string
  }

  export interface ContainerStatusConfigArgsFieldEvent {
    field: '$.config.args[]'
    index: number
    value: string
  }

  export interface ContainerStatusConfigPortMappingsHostPortFieldEvent {
    field: '$.config.portMappings[].hostPort'
    value: number
    index: number
  }

  export interface ContainerStatusConfigPortMappingsContainerPortFieldEvent {
    field: '$.config.portMappings[].containerPort'
    value: number
    index: number
  }

  export interface ContainerStatusConfigPortMappingsProtocolFieldEvent {
    field: '$.config.portMappings[].protocol'
    value: PortMapping.Protocol
    index: number
  }

  export interface ContainerStatusConfigResourcesCpuClassFieldEvent {
    field: '$.config.resources.cpuClass'
    value: number
  }

  export interface ContainerStatusConfigResourcesCpusFieldEvent {
    field: '$.config.resources.cpus'
    value: number
  }

  export interface ContainerStatusConfigResourcesMemoryFieldEvent {
    field: '$.config.resources.memory'
    value: number
  }

  export interface ContainerStatusConfigGroupPolicyFieldEvent {
    field: '$.config.groupPolicy'
    value: ContainerConfig.GroupPolicy
  }

  export interface ContainerStatusSupplierPeerIdFieldEvent {
    field: '$.supplier.peerId'
    value: Uint8Array<ArrayBuffer>
  }

  export interface ContainerStatusSupplierMultiaddrsFieldEvent {
    field: '$.supplier.multiaddrs[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface ContainerStatusContainerIdFieldEvent {
    field: '$.containerId'
    value: string
  }

  export interface ContainerStatusStateFieldEvent {
    field: '$.state'
    value: string
  }

  export function encode (obj: Partial<ContainerStatus>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, ContainerStatus.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ContainerStatus>): ContainerStatus {
    return decodeMessage(buf, ContainerStatus.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ContainerStatus>): Generator<ContainerStatusConfigNameFieldEvent | ContainerStatusConfigImageFieldEvent | ContainerStatusConfigArgsFieldEvent | ContainerStatusConfigPortMappingsHostPortFieldEvent | ContainerStatusConfigPortMappingsContainerPortFieldEvent | ContainerStatusConfigPortMappingsProtocolFieldEvent | ContainerStatusConfigResourcesCpuClassFieldEvent | ContainerStatusConfigResourcesCpusFieldEvent | ContainerStatusConfigResourcesMemoryFieldEvent | ContainerStatusConfigGroupPolicyFieldEvent | ContainerStatusSupplierPeerIdFieldEvent | ContainerStatusSupplierMultiaddrsFieldEvent | ContainerStatusContainerIdFieldEvent | ContainerStatusStateFieldEvent> {
    return streamMessage(buf, ContainerStatus.codec(), opts)
  }
}

export interface CreateOfferRequest {
  offer?: Offer
  emptySlices: Uint8Array<ArrayBuffer>
}

export namespace CreateOfferRequest {
  let _codec: Codec<CreateOfferRequest>

  export const codec = (): Codec<CreateOfferRequest> => {
    if (_codec == null) {
      _codec = message<CreateOfferRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.offer != null) {
          w.uint32(10)
          Offer.codec().encode(obj.offer, w)
        }

        if ((obj.emptySlices != null && obj.emptySlices.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.emptySlices)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          emptySlices: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.offer = Offer.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.offer
              })
              break
            }
            case 2: {
              obj.emptySlices = reader.bytes()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield * Offer.codec().stream(reader, reader.uint32(), `${prefix}.offer`, {
                limits: opts.limits?.offer
              })

              break
            }
            case 2: {
              yield {
                field: `${prefix}.emptySlices`,
                value: reader.bytes()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface CreateOfferRequestOfferIdFieldEvent {
    field: '$.offer.id'
    value: bigint
  }

  export interface CreateOfferRequestOfferAmountFieldEvent {
    field: '$.offer.amount'
    value: number
  }

  export interface CreateOfferRequestOfferFreeResourcesCpuClassFieldEvent {
    field: '$.offer.freeResources.cpuClass'
    value: number
  }

  export interface CreateOfferRequestOfferFreeResourcesCpusFieldEvent {
    field: '$.offer.freeResources.cpus'
    value: number
  }

  export interface CreateOfferRequestOfferFreeResourcesMemoryFieldEvent {
    field: '$.offer.freeResources.memory'
    value: number
  }

  export interface CreateOfferRequestOfferUsedResourcesCpuClassFieldEvent {
    field: '$.offer.usedResources.cpuClass'
    value: number
  }

  export interface CreateOfferRequestOfferUsedResourcesCpusFieldEvent {
    field: '$.offer.usedResources.cpus'
    value: number
  }

  export interface CreateOfferRequestOfferUsedResourcesMemoryFieldEvent {
    field: '$.offer.usedResources.memory'
    value: number
  }

  export interface CreateOfferRequestOfferContainersRunningFieldEvent {
    field: '$.offer.containersRunning'
    value: number
  }

  export interface CreateOfferRequestEmptySlicesFieldEvent {
    field: '$.emptySlices'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<CreateOfferRequest>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, CreateOfferRequest.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<CreateOfferRequest>): CreateOfferRequest {
    return decodeMessage(buf, CreateOfferRequest.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<CreateOfferRequest>): Generator<CreateOfferRequestOfferIdFieldEvent | CreateOfferRequestOfferAmountFieldEvent | CreateOfferRequestOfferFreeResourcesCpuClassFieldEvent | CreateOfferRequestOfferFreeResourcesCpusFieldEvent | CreateOfferRequestOfferFreeResourcesMemoryFieldEvent | CreateOfferRequestOfferUsedResourcesCpuClassFieldEvent | CreateOfferRequestOfferUsedResourcesCpusFieldEvent | CreateOfferRequestOfferUsedResourcesMemoryFieldEvent | CreateOfferRequestOfferContainersRunningFieldEvent | CreateOfferRequestEmptySlicesFieldEvent> {
    return streamMessage(buf, CreateOfferRequest.codec(), opts)
  }
}

export interface CreateOfferResponse {
  status?: Status
  accepted: boolean
  reason?: string
}

export namespace CreateOfferResponse {
  let _codec: Codec<CreateOfferResponse>

  export const codec = (): Codec<CreateOfferResponse> => {
    if (_codec == null) {
      _codec = message<CreateOfferResponse>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.status != null) {
          w.uint32(10)
          Status.codec().encode(obj.status, w)
        }

        if ((obj.accepted != null && obj.accepted !== false)) {
          w.uint32(16)
          w.bool(obj.accepted)
        }

        if (obj.reason != null) {
          w.uint32(26)
          w.string(obj.reason)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          accepted: false
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.status = Status.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.status
              })
              break
            }
            case 2: {
              obj.accepted = reader.bool()
              break
            }
            case 3: {
              obj.reason = reader.string()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield * Status.codec().stream(reader, reader.uint32(), `${prefix}.status`, {
                limits: opts.limits?.status
              })

              break
            }
            case 2: {
              yield {
                field: `${prefix}.accepted`,
                value: reader.bool()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.reason`,
                value: reader.string()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface CreateOfferResponseStatusCodeFieldEvent {
    field: '$.status.code'
    value: Status.Code
  }

  export interface CreateOfferResponseStatusMessageFieldEvent {
    field: '$.status.message'
    value: string
  }

  export interface CreateOfferResponseAcceptedFieldEvent {
    field: '$.accepted'
    value: boolean
  }

  export interface CreateOfferResponseReasonFieldEvent {
    field: '$.reason'
    value: string
  }

  export function encode (obj: Partial<CreateOfferResponse>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, CreateOfferResponse.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<CreateOfferResponse>): CreateOfferResponse {
    return decodeMessage(buf, CreateOfferResponse.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<CreateOfferResponse>): Generator<CreateOfferResponseStatusCodeFieldEvent | CreateOfferResponseStatusMessageFieldEvent | CreateOfferResponseAcceptedFieldEvent | CreateOfferResponseReasonFieldEvent> {
    return streamMessage(buf, CreateOfferResponse.codec(), opts)
  }
}

export interface RefreshOfferRequest {
  offerId: bigint
}

export namespace RefreshOfferRequest {
  let _codec: Codec<RefreshOfferRequest>

  export const codec = (): Codec<RefreshOfferRequest> => {
    if (_codec == null) {
      _codec = message<RefreshOfferRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.offerId != null && obj.offerId !== 0n)) {
          w.uint32(8)
          w.uint64(obj.offerId)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          offerId: 0n
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.offerId = reader.uint64()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.offerId`,
                value: reader.uint64()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface RefreshOfferRequestOfferIdFieldEvent {
    field: '$.offerId'
    value: bigint
  }

  export function encode (obj: Partial<RefreshOfferRequest>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, RefreshOfferRequest.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<RefreshOfferRequest>): RefreshOfferRequest {
    return decodeMessage(buf, RefreshOfferRequest.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<RefreshOfferRequest>): Generator<RefreshOfferRequestOfferIdFieldEvent> {
    return streamMessage(buf, RefreshOfferRequest.codec(), opts)
  }
}

export interface RefreshOfferResponse {
  status?: Status
  refreshed: boolean
}

export namespace RefreshOfferResponse {
  let _codec: Codec<RefreshOfferResponse>

  export const codec = (): Codec<RefreshOfferResponse> => {
    if (_codec == null) {
      _codec = message<RefreshOfferResponse>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.status != null) {
          w.uint32(10)
          Status.codec().encode(obj.status, w)
        }

        if ((obj.refreshed != null && obj.refreshed !== false)) {
          w.uint32(16)
          w.bool(obj.refreshed)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          refreshed: false
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.status = Status.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.status
              })
              break
            }
            case 2: {
              obj.refreshed = reader.bool()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield * Status.codec().stream(reader, reader.uint32(), `${prefix}.status`, {
                limits: opts.limits?.status
              })

              break
            }
            case 2: {
              yield {
                field: `${prefix}.refreshed`,
                value: reader.bool()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface RefreshOfferResponseStatusCodeFieldEvent {
    field: '$.status.code'
    value: Status.Code
  }

  export interface RefreshOfferResponseStatusMessageFieldEvent {
    field: '$.status.message'
    value: string
  }

  export interface RefreshOfferResponseRefreshedFieldEvent {
    field: '$.refreshed'
    value: boolean
  }

  export function encode (obj: Partial<RefreshOfferResponse>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, RefreshOfferResponse.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<RefreshOfferResponse>): RefreshOfferResponse {
    return decodeMessage(buf, RefreshOfferResponse.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<RefreshOfferResponse>): Generator<RefreshOfferResponseStatusCodeFieldEvent | RefreshOfferResponseStatusMessageFieldEvent | RefreshOfferResponseRefreshedFieldEvent> {
    return streamMessage(buf, RefreshOfferResponse.codec(), opts)
  }
}

export interface UpdateOfferRequest {
  offer?: Offer
}

export namespace UpdateOfferRequest {
  let _codec: Codec<UpdateOfferRequest>

  export const codec = (): Codec<UpdateOfferRequest> => {
    if (_codec == null) {
      _codec = message<UpdateOfferRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.offer != null) {
          w.uint32(10)
          Offer.codec().encode(obj.offer, w)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {}

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.offer = Offer.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.offer
              })
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield * Offer.codec().stream(reader, reader.uint32(), `${prefix}.offer`, {
                limits: opts.limits?.offer
              })

              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface UpdateOfferRequestOfferIdFieldEvent {
    field: '$.offer.id'
    value: bigint
  }

  export interface UpdateOfferRequestOfferAmountFieldEvent {
    field: '$.offer.amount'
    value: number
  }

  export interface UpdateOfferRequestOfferFreeResourcesCpuClassFieldEvent {
    field: '$.offer.freeResources.cpuClass'
    value: number
  }

  export interface UpdateOfferRequestOfferFreeResourcesCpusFieldEvent {
    field: '$.offer.freeResources.cpus'
    value: number
  }

  export interface UpdateOfferRequestOfferFreeResourcesMemoryFieldEvent {
    field: '$.offer.freeResources.memory'
    value: number
  }

  export interface UpdateOfferRequestOfferUsedResourcesCpuClassFieldEvent {
    field: '$.offer.usedResources.cpuClass'
    value: number
  }

  export interface UpdateOfferRequestOfferUsedResourcesCpusFieldEvent {
    field: '$.offer.usedResources.cpus'
    value: number
  }

  export interface UpdateOfferRequestOfferUsedResourcesMemoryFieldEvent {
    field: '$.offer.usedResources.memory'
    value: number
  }

  export interface UpdateOfferRequestOfferContainersRunningFieldEvent {
    field: '$.offer.containersRunning'
    value: number
  }

  export function encode (obj: Partial<UpdateOfferRequest>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, UpdateOfferRequest.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<UpdateOfferRequest>): UpdateOfferRequest {
    return decodeMessage(buf, UpdateOfferRequest.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<UpdateOfferRequest>): Generator<UpdateOfferRequestOfferIdFieldEvent | UpdateOfferRequestOfferAmountFieldEvent | UpdateOfferRequestOfferFreeResourcesCpuClassFieldEvent | UpdateOfferRequestOfferFreeResourcesCpusFieldEvent | UpdateOfferRequestOfferFreeResourcesMemoryFieldEvent | UpdateOfferRequestOfferUsedResourcesCpuClassFieldEvent | UpdateOfferRequestOfferUsedResourcesCpusFieldEvent | UpdateOfferRequestOfferUsedResourcesMemoryFieldEvent | UpdateOfferRequestOfferContainersRunningFieldEvent> {
    return streamMessage(buf, UpdateOfferRequest.codec(), opts)
  }
}

export interface UpdateOfferResponse {
  status?: Status
  updated: boolean
}

export namespace UpdateOfferResponse {
  let _codec: Codec<UpdateOfferResponse>

  export const codec = (): Codec<UpdateOfferResponse> => {
    if (_codec == null) {
      _codec = message<UpdateOfferResponse>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.status != null) {
          w.uint32(10)
          Status.codec().encode(obj.status, w)
        }

        if ((obj.updated != null && obj.updated !== false)) {
          w.uint32(16)
          w.bool(obj.updated)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          updated: false
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.status = Status.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.status
              })
              break
            }
            case 2: {
              obj.updated = reader.bool()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield * Status.codec().stream(reader, reader.uint32(), `${prefix}.status`, {
                limits: opts.limits?.status
              })

              break
            }
            case 2: {
              yield {
                field: `${prefix}.updated`,
                value: reader.bool()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface UpdateOfferResponseStatusCodeFieldEvent {
    field: '$.status.code'
    value: Status.Code
  }

  export interface UpdateOfferResponseStatusMessageFieldEvent {
    field: '$.status.message'
    value: string
  }

  export interface UpdateOfferResponseUpdatedFieldEvent {
    field: '$.updated'
    value: boolean
  }

  export function encode (obj: Partial<UpdateOfferResponse>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, UpdateOfferResponse.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<UpdateOfferResponse>): UpdateOfferResponse {
    return decodeMessage(buf, UpdateOfferResponse.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<UpdateOfferResponse>): Generator<UpdateOfferResponseStatusCodeFieldEvent | UpdateOfferResponseStatusMessageFieldEvent | UpdateOfferResponseUpdatedFieldEvent> {
    return streamMessage(buf, UpdateOfferResponse.codec(), opts)
  }
}

export interface RemoveOfferRequest {
  offerId: bigint
}

export namespace RemoveOfferRequest {
  let _codec: Codec<RemoveOfferRequest>

  export const codec = (): Codec<RemoveOfferRequest> => {
    if (_codec == null) {
      _codec = message<RemoveOfferRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.offerId != null && obj.offerId !== 0n)) {
          w.uint32(8)
          w.uint64(obj.offerId)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          offerId: 0n
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.offerId = reader.uint64()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.offerId`,
                value: reader.uint64()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface RemoveOfferRequestOfferIdFieldEvent {
    field: '$.offerId'
    value: bigint
  }

  export function encode (obj: Partial<RemoveOfferRequest>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, RemoveOfferRequest.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<RemoveOfferRequest>): RemoveOfferRequest {
    return decodeMessage(buf, RemoveOfferRequest.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<RemoveOfferRequest>): Generator<RemoveOfferRequestOfferIdFieldEvent> {
    return streamMessage(buf, RemoveOfferRequest.codec(), opts)
  }
}

export interface RemoveOfferResponse {
  status?: Status
}

export namespace RemoveOfferResponse {
  let _codec: Codec<RemoveOfferResponse>

  export const codec = (): Codec<RemoveOfferResponse> => {
    if (_codec == null) {
      _codec = message<RemoveOfferResponse>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.status != null) {
          w.uint32(10)
          Status.codec().encode(obj.status, w)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {}

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.status = Status.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.status
              })
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield * Status.codec().stream(reader, reader.uint32(), `${prefix}.status`, {
                limits: opts.limits?.status
              })

              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface RemoveOfferResponseStatusCodeFieldEvent {
    field: '$.status.code'
    value: Status.Code
  }

  export interface RemoveOfferResponseStatusMessageFieldEvent {
    field: '$.status.message'
    value: string
  }

  export function encode (obj: Partial<RemoveOfferResponse>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, RemoveOfferResponse.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<RemoveOfferResponse>): RemoveOfferResponse {
    return decodeMessage(buf, RemoveOfferResponse.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<RemoveOfferResponse>): Generator<RemoveOfferResponseStatusCodeFieldEvent | RemoveOfferResponseStatusMessageFieldEvent> {
    return streamMessage(buf, RemoveOfferResponse.codec(), opts)
  }
}

export interface GetOffersRequest {
  relay: boolean
  needed?: Resources
  own: boolean
}

export namespace GetOffersRequest {
  let _codec: Codec<GetOffersRequest>

  export const codec = (): Codec<GetOffersRequest> => {
    if (_codec == null) {
      _codec = message<GetOffersRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.relay != null && obj.relay !== false)) {
          w.uint32(8)
          w.bool(obj.relay)
        }

        if (obj.needed != null) {
          w.uint32(18)
          Resources.codec().encode(obj.needed, w)
        }

        if ((obj.own != null && obj.own !== false)) {
          w.uint32(24)
          w.bool(obj.own)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          relay: false,
          own: false
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.relay = reader.bool()
              break
            }
            case 2: {
              obj.needed = Resources.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.needed
              })
              break
            }
            case 3: {
              obj.own = reader.bool()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.relay`,
                value: reader.bool()
              }
              break
            }
            case 2: {
              yield * Resources.codec().stream(reader, reader.uint32(), `${prefix}.needed`, {
                limits: opts.limits?.needed
              })

              break
            }
            case 3: {
              yield {
                field: `${prefix}.own`,
                value: reader.bool()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface GetOffersRequestRelayFieldEvent {
    field: '$.relay'
    value: boolean
  }

  export interface GetOffersRequestNeededCpuClassFieldEvent {
    field: '$.needed.cpuClass'
    value: number
  }

  export interface GetOffersRequestNeededCpusFieldEvent {
    field: '$.needed.cpus'
    value: number
  }

  export interface GetOffersRequestNeededMemoryFieldEvent {
    field: '$.needed.memory'
    value: number
  }

  export interface GetOffersRequestOwnFieldEvent {
    field: '$.own'
    value: boolean
  }

  export function encode (obj: Partial<GetOffersRequest>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, GetOffersRequest.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<GetOffersRequest>): GetOffersRequest {
    return decodeMessage(buf, GetOffersRequest.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<GetOffersRequest>): Generator<GetOffersRequestRelayFieldEvent | GetOffersRequestNeededCpuClassFieldEvent | GetOffersRequestNeededCpusFieldEvent | GetOffersRequestNeededMemoryFieldEvent | GetOffersRequestOwnFieldEvent> {
    return streamMessage(buf, GetOffersRequest.codec(), opts)
  }
}

export interface GetOffersResponse {
  status?: Status
  offers: AvailableOffer[]
}

export namespace GetOffersResponse {
  let _codec: Codec<GetOffersResponse>

  export const codec = (): Codec<GetOffersResponse> => {
    if (_codec == null) {
      _codec = message<GetOffersResponse>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.status != null) {
          w.uint32(10)
          Status.codec().encode(obj.status, w)
        }

        if (obj.offers != null && obj.offers.length > 0) {
          for (const value of obj.offers) {
            w.uint32(18)
            AvailableOffer.codec().encode(value, w)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          offers: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.status = Status.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.status
              })
              break
            }
            case 2: {
              if (opts.limits?.offers != null && obj.offers.length === opts.limits.offers) {
                throw new MaxLengthError('Decode error - repeated field "offers" had too many elements')
              }

              if (obj.offers.length === 1024) {
                throw new MaxLengthError('Decode error - repeated field "offers" had too many elements')
              }

              obj.offers.push(AvailableOffer.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.offers$
              }))
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const obj = {
          offers: 1024
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield * Status.codec().stream(reader, reader.uint32(), `${prefix}.status`, {
                limits: opts.limits?.status
              })

              break
            }
            case 2: {
              if (opts.limits?.offers != null && obj.offers === opts.limits.offers) {
                throw new MaxLengthError('Streaming decode error - repeated field "offers" had too many elements')
              }

              if (obj.offers === 1024) {
                throw new MaxLengthError('Streaming decode error - repeated field "offers" had too many elements')
              }

              for (const evt of AvailableOffer.codec().stream(reader, reader.uint32(), `${prefix}.offers[]`, {
                limits: opts.limits?.offers$
              })) {
                yield {
                  ...evt,
                  index: obj.offers
                }
              }

              obj.offers++

              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface GetOffersResponseStatusCodeFieldEvent {
    field: '$.status.code'
    value: Status.Code
  }

  export interface GetOffersResponseStatusMessageFieldEvent {
    field: '$.status.message'
    value: string
  }

  export interface GetOffersResponseOffersOfferIdFieldEvent {
    field: '$.offers[].offer.id'
    value: bigint
    index: number
  }

  export interface GetOffersResponseOffersOfferAmountFieldEvent {
    field: '$.offers[].offer.amount'
    value: number
    index: number
  }

  export interface GetOffersResponseOffersOfferFreeResourcesCpuClassFieldEvent {
    field: '$.offers[].offer.freeResources.cpuClass'
    value: number
    index: number
  }

  export interface GetOffersResponseOffersOfferFreeResourcesCpusFieldEvent {
    field: '$.offers[].offer.freeResources.cpus'
    value: number
    index: number
  }

  export interface GetOffersResponseOffersOfferFreeResourcesMemoryFieldEvent {
    field: '$.offers[].offer.freeResources.memory'
    value: number
    index: number
  }

  export interface GetOffersResponseOffersOfferUsedResourcesCpuClassFieldEvent {
    field: '$.offers[].offer.usedResources.cpuClass'
    value: number
    index: number
  }

  export interface GetOffersResponseOffersOfferUsedResourcesCpusFieldEvent {
    field: '$.offers[].offer.usedResources.cpus'
    value: number
    index: number
  }

  export interface GetOffersResponseOffersOfferUsedResourcesMemoryFieldEvent {
    field: '$.offers[].offer.usedResources.memory'
    value: number
    index: number
  }

  export interface GetOffersResponseOffersOfferContainersRunningFieldEvent {
    field: '$.offers[].offer.containersRunning'
    value: number
    index: number
  }

  export interface GetOffersResponseOffersSupplierPeerIdFieldEvent {
    field: '$.offers[].supplier.peerId'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface GetOffersResponseOffersSupplierMultiaddrsFieldEvent {
    field: '$.offers[].supplier.multiaddrs[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<GetOffersResponse>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, GetOffersResponse.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<GetOffersResponse>): GetOffersResponse {
    return decodeMessage(buf, GetOffersResponse.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<GetOffersResponse>): Generator<GetOffersResponseStatusCodeFieldEvent | GetOffersResponseStatusMessageFieldEvent | GetOffersResponseOffersOfferIdFieldEvent | GetOffersResponseOffersOfferAmountFieldEvent | GetOffersResponseOffersOfferFreeResourcesCpuClassFieldEvent | GetOffersResponseOffersOfferFreeResourcesCpusFieldEvent | GetOffersResponseOffersOfferFreeResourcesMemoryFieldEvent | GetOffersResponseOffersOfferUsedResourcesCpuClassFieldEvent | GetOffersResponseOffersOfferUsedResourcesCpusFieldEvent | GetOffersResponseOffersOfferUsedResourcesMemoryFieldEvent | GetOffersResponseOffersOfferContainersRunningFieldEvent | GetOffersResponseOffersSupplierPeerIdFieldEvent | GetOffersResponseOffersSupplierMultiaddrsFieldEvent> {
    return streamMessage(buf, GetOffersResponse.codec(), opts)
  }
}

export interface AdvertiseOffersNeighborRequest {
  traderOffering?: NodeRef
}

export namespace AdvertiseOffersNeighborRequest {
  let _codec: Codec<AdvertiseOffersNeighborRequest>

  export const codec = (): Codec<AdvertiseOffersNeighborRequest> => {
    if (_codec == null) {
      _codec = message<AdvertiseOffersNeighborRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.traderOffering != null) {
          w.uint32(10)
          NodeRef.codec().encode(obj.traderOffering, w)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {}

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.traderOffering = NodeRef.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.traderOffering
              })
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield * NodeRef.codec().stream(reader, reader.uint32(), `${prefix}.traderOffering`, {
                limits: opts.limits?.traderOffering
              })

              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface AdvertiseOffersNeighborRequestTraderOfferingPeerIdFieldEvent {
    field: '$.traderOffering.peerId'
    value: Uint8Array<ArrayBuffer>
  }

  export interface AdvertiseOffersNeighborRequestTraderOfferingMultiaddrsFieldEvent {
    field: '$.traderOffering.multiaddrs[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<AdvertiseOffersNeighborRequest>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, AdvertiseOffersNeighborRequest.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<AdvertiseOffersNeighborRequest>): AdvertiseOffersNeighborRequest {
    return decodeMessage(buf, AdvertiseOffersNeighborRequest.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<AdvertiseOffersNeighborRequest>): Generator<AdvertiseOffersNeighborRequestTraderOfferingPeerIdFieldEvent | AdvertiseOffersNeighborRequestTraderOfferingMultiaddrsFieldEvent> {
    return streamMessage(buf, AdvertiseOffersNeighborRequest.codec(), opts)
  }
}

export interface AdvertiseOffersNeighborResponse {
  status?: Status
}

export namespace AdvertiseOffersNeighborResponse {
  let _codec: Codec<AdvertiseOffersNeighborResponse>

  export const codec = (): Codec<AdvertiseOffersNeighborResponse> => {
    if (_codec == null) {
      _codec = message<AdvertiseOffersNeighborResponse>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.status != null) {
          w.uint32(10)
          Status.codec().encode(obj.status, w)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {}

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.status = Status.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.status
              })
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield * Status.codec().stream(reader, reader.uint32(), `${prefix}.status`, {
                limits: opts.limits?.status
              })

              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface AdvertiseOffersNeighborResponseStatusCodeFieldEvent {
    field: '$.status.code'
    value: Status.Code
  }

  export interface AdvertiseOffersNeighborResponseStatusMessageFieldEvent {
    field: '$.status.message'
    value: string
  }

  export function encode (obj: Partial<AdvertiseOffersNeighborResponse>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, AdvertiseOffersNeighborResponse.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<AdvertiseOffersNeighborResponse>): AdvertiseOffersNeighborResponse {
    return decodeMessage(buf, AdvertiseOffersNeighborResponse.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<AdvertiseOffersNeighborResponse>): Generator<AdvertiseOffersNeighborResponseStatusCodeFieldEvent | AdvertiseOffersNeighborResponseStatusMessageFieldEvent> {
    return streamMessage(buf, AdvertiseOffersNeighborResponse.codec(), opts)
  }
}

export interface LaunchContainerRequest {
  offerId: bigint
  requestId: string
  containers: ContainerConfig[]
  deadlineMs: number
}

export namespace LaunchContainerRequest {
  let _codec: Codec<LaunchContainerRequest>

  export const codec = (): Codec<LaunchContainerRequest> => {
    if (_codec == null) {
      _codec = message<LaunchContainerRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.offerId != null && obj.offerId !== 0n)) {
          w.uint32(8)
          w.uint64(obj.offerId)
        }

        if ((obj.requestId != null && obj.requestId !== '')) {
          w.uint32(18)
          w.string(obj.requestId)
        }

        if (obj.containers != null && obj.containers.length > 0) {
          for (const value of obj.containers) {
            w.uint32(26)
            ContainerConfig.codec().encode(value, w)
          }
        }

        if ((obj.deadlineMs != null && obj.deadlineMs !== 0)) {
          w.uint32(32)
          w.uint32(obj.deadlineMs)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          offerId: 0n,
          requestId: '',
          containers: [],
          deadlineMs: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.offerId = reader.uint64()
              break
            }
            case 2: {
              obj.requestId = reader.string()
              break
            }
            case 3: {
              if (opts.limits?.containers != null && obj.containers.length === opts.limits.containers) {
                throw new MaxLengthError('Decode error - repeated field "containers" had too many elements')
              }

              if (obj.containers.length === 64) {
                throw new MaxLengthError('Decode error - repeated field "containers" had too many elements')
              }

              obj.containers.push(ContainerConfig.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.containers$
              }))
              break
            }
            case 4: {
              obj.deadlineMs = reader.uint32()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const obj = {
          containers: 64
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.offerId`,
                value: reader.uint64()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.requestId`,
                value: reader.string()
              }
              break
            }
            case 3: {
              if (opts.limits?.containers != null && obj.containers === opts.limits.containers) {
                throw new MaxLengthError('Streaming decode error - repeated field "containers" had too many elements')
              }

              if (obj.containers === 64) {
                throw new MaxLengthError('Streaming decode error - repeated field "containers" had too many elements')
              }

              for (const evt of ContainerConfig.codec().stream(reader, reader.uint32(), `${prefix}.containers[]`, {
                limits: opts.limits?.containers$
              })) {
                yield {
                  ...evt,
                  index: obj.containers
                }
              }

              obj.containers++

              break
            }
            case 4: {
              yield {
                field: `${prefix}.deadlineMs`,
                value: reader.uint32()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface LaunchContainerRequestOfferIdFieldEvent {
    field: '$.offerId'
    value: bigint
  }

  export interface LaunchContainerRequestRequestIdFieldEvent {
    field: '$.requestId'
    value: string
  }

  export interface LaunchContainerRequestContainersNameFieldEvent {
    field: '$.containers[].name'
    value: string
    index: number
  }

  export interface LaunchContainerRequestContainersImageFieldEvent {
    field: '$.containers[].image'
    value: string
    index: number
  }

  export interface LaunchContainerRequestContainersArgsFieldEvent {
    field: '$.containers[].args[]'
    index: number
    value: string
  }

  export interface LaunchContainerRequestContainersPortMappingsHostPortFieldEvent {
    field: '$.containers[].portMappings[].hostPort'
    value: number
    index: number
  }

  export interface LaunchContainerRequestContainersPortMappingsContainerPortFieldEvent {
    field: '$.containers[].portMappings[].containerPort'
    value: number
    index: number
  }

  export interface LaunchContainerRequestContainersPortMappingsProtocolFieldEvent {
    field: '$.containers[].portMappings[].protocol'
    value: PortMapping.Protocol
    index: number
  }

  export interface LaunchContainerRequestContainersResourcesCpuClassFieldEvent {
    field: '$.containers[].resources.cpuClass'
    value: number
    index: number
  }

  export interface LaunchContainerRequestContainersResourcesCpusFieldEvent {
    field: '$.containers[].resources.cpus'
    value: number
    index: number
  }

  export interface LaunchContainerRequestContainersResourcesMemoryFieldEvent {
    field: '$.containers[].resources.memory'
    value: number
    index: number
  }

  export interface LaunchContainerRequestContainersGroupPolicyFieldEvent {
    field: '$.containers[].groupPolicy'
    value: ContainerConfig.GroupPolicy
    index: number
  }

  export interface LaunchContainerRequestDeadlineMsFieldEvent {
    field: '$.deadlineMs'
    value: number
  }

  export function encode (obj: Partial<LaunchContainerRequest>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, LaunchContainerRequest.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<LaunchContainerRequest>): LaunchContainerRequest {
    return decodeMessage(buf, LaunchContainerRequest.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<LaunchContainerRequest>): Generator<LaunchContainerRequestOfferIdFieldEvent | LaunchContainerRequestRequestIdFieldEvent | LaunchContainerRequestContainersNameFieldEvent | LaunchContainerRequestContainersImageFieldEvent | LaunchContainerRequestContainersArgsFieldEvent | LaunchContainerRequestContainersPortMappingsHostPortFieldEvent | LaunchContainerRequestContainersPortMappingsContainerPortFieldEvent | LaunchContainerRequestContainersPortMappingsProtocolFieldEvent | LaunchContainerRequestContainersResourcesCpuClassFieldEvent | LaunchContainerRequestContainersResourcesCpusFieldEvent | LaunchContainerRequestContainersResourcesMemoryFieldEvent | LaunchContainerRequestContainersGroupPolicyFieldEvent | LaunchContainerRequestDeadlineMsFieldEvent> {
    return streamMessage(buf, LaunchContainerRequest.codec(), opts)
  }
}

export interface LaunchContainerResponse {
  status?: Status
  containers: ContainerStatus[]
}

export namespace LaunchContainerResponse {
  let _codec: Codec<LaunchContainerResponse>

  export const codec = (): Codec<LaunchContainerResponse> => {
    if (_codec == null) {
      _codec = message<LaunchContainerResponse>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.status != null) {
          w.uint32(10)
          Status.codec().encode(obj.status, w)
        }

        if (obj.containers != null && obj.containers.length > 0) {
          for (const value of obj.containers) {
            w.uint32(18)
            ContainerStatus.codec().encode(value, w)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          containers: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.status = Status.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.status
              })
              break
            }
            case 2: {
              if (opts.limits?.containers != null && obj.containers.length === opts.limits.containers) {
                throw new MaxLengthError('Decode error - repeated field "containers" had too many elements')
              }

              if (obj.containers.length === 64) {
                throw new MaxLengthError('Decode error - repeated field "containers" had too many elements')
              }

              obj.containers.push(ContainerStatus.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.containers$
              }))
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const obj = {
          containers: 64
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield * Status.codec().stream(reader, reader.uint32(), `${prefix}.status`, {
                limits: opts.limits?.status
              })

              break
            }
            case 2: {
              if (opts.limits?.containers != null && obj.containers === opts.limits.containers) {
                throw new MaxLengthError('Streaming decode error - repeated field "containers" had too many elements')
              }

              if (obj.containers === 64) {
                throw new MaxLengthError('Streaming decode error - repeated field "containers" had too many elements')
              }

              for (const evt of ContainerStatus.codec().stream(reader, reader.uint32(), `${prefix}.containers[]`, {
                limits: opts.limits?.containers$
              })) {
                yield {
                  ...evt,
                  index: obj.containers
                }
              }

              obj.containers++

              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface LaunchContainerResponseStatusCodeFieldEvent {
    field: '$.status.code'
    value: Status.Code
  }

  export interface LaunchContainerResponseStatusMessageFieldEvent {
    field: '$.status.message'
    value: string
  }

  export interface LaunchContainerResponseContainersConfigNameFieldEvent {
    field: '$.containers[].config.name'
    value: string
    index: number
  }

  export interface LaunchContainerResponseContainersConfigImageFieldEvent {
    field: '$.containers[].config.image'
    value: string
    index: number
  }

  export interface LaunchContainerResponseContainersConfigArgsFieldEvent {
    field: '$.containers[].config.args[]'
    index: number
    value: string
  }

  export interface LaunchContainerResponseContainersConfigPortMappingsHostPortFieldEvent {
    field: '$.containers[].config.portMappings[].hostPort'
    value: number
    index: number
  }

  export interface LaunchContainerResponseContainersConfigPortMappingsContainerPortFieldEvent {
    field: '$.containers[].config.portMappings[].containerPort'
    value: number
    index: number
  }

  export interface LaunchContainerResponseContainersConfigPortMappingsProtocolFieldEvent {
    field: '$.containers[].config.portMappings[].protocol'
    value: PortMapping.Protocol
    index: number
  }

  export interface LaunchContainerResponseContainersConfigResourcesCpuClassFieldEvent {
    field: '$.containers[].config.resources.cpuClass'
    value: number
    index: number
  }

  export interface LaunchContainerResponseContainersConfigResourcesCpusFieldEvent {
    field: '$.containers[].config.resources.cpus'
    value: number
    index: number
  }

  export interface LaunchContainerResponseContainersConfigResourcesMemoryFieldEvent {
    field: '$.containers[].config.resources.memory'
    value: number
    index: number
  }

  export interface LaunchContainerResponseContainersConfigGroupPolicyFieldEvent {
    field: '$.containers[].config.groupPolicy'
    value: ContainerConfig.GroupPolicy
    index: number
  }

  export interface LaunchContainerResponseContainersSupplierPeerIdFieldEvent {
    field: '$.containers[].supplier.peerId'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface LaunchContainerResponseContainersSupplierMultiaddrsFieldEvent {
    field: '$.containers[].supplier.multiaddrs[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface LaunchContainerResponseContainersContainerIdFieldEvent {
    field: '$.containers[].containerId'
    value: string
    index: number
  }

  export interface LaunchContainerResponseContainersStateFieldEvent {
    field: '$.containers[].state'
    value: string
    index: number
  }

  export function encode (obj: Partial<LaunchContainerResponse>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, LaunchContainerResponse.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<LaunchContainerResponse>): LaunchContainerResponse {
    return decodeMessage(buf, LaunchContainerResponse.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<LaunchContainerResponse>): Generator<LaunchContainerResponseStatusCodeFieldEvent | LaunchContainerResponseStatusMessageFieldEvent | LaunchContainerResponseContainersConfigNameFieldEvent | LaunchContainerResponseContainersConfigImageFieldEvent | LaunchContainerResponseContainersConfigArgsFieldEvent | LaunchContainerResponseContainersConfigPortMappingsHostPortFieldEvent | LaunchContainerResponseContainersConfigPortMappingsContainerPortFieldEvent | LaunchContainerResponseContainersConfigPortMappingsProtocolFieldEvent | LaunchContainerResponseContainersConfigResourcesCpuClassFieldEvent | LaunchContainerResponseContainersConfigResourcesCpusFieldEvent | LaunchContainerResponseContainersConfigResourcesMemoryFieldEvent | LaunchContainerResponseContainersConfigGroupPolicyFieldEvent | LaunchContainerResponseContainersSupplierPeerIdFieldEvent | LaunchContainerResponseContainersSupplierMultiaddrsFieldEvent | LaunchContainerResponseContainersContainerIdFieldEvent | LaunchContainerResponseContainersStateFieldEvent> {
    return streamMessage(buf, LaunchContainerResponse.codec(), opts)
  }
}

export interface StopLocalContainerRequest {
  containerId: string
  requestId: string
}

export namespace StopLocalContainerRequest {
  let _codec: Codec<StopLocalContainerRequest>

  export const codec = (): Codec<StopLocalContainerRequest> => {
    if (_codec == null) {
      _codec = message<StopLocalContainerRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.containerId != null && obj.containerId !== '')) {
          w.uint32(10)
          w.string(obj.containerId)
        }

        if ((obj.requestId != null && obj.requestId !== '')) {
          w.uint32(18)
          w.string(obj.requestId)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          containerId: '',
          requestId: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.containerId = reader.string()
              break
            }
            case 2: {
              obj.requestId = reader.string()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.containerId`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.requestId`,
                value: reader.string()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface StopLocalContainerRequestContainerIdFieldEvent {
    field: '$.containerId'
    value: string
  }

  export interface StopLocalContainerRequestRequestIdFieldEvent {
    field: '$.requestId'
    value: string
  }

  export function encode (obj: Partial<StopLocalContainerRequest>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, StopLocalContainerRequest.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<StopLocalContainerRequest>): StopLocalContainerRequest {
    return decodeMessage(buf, StopLocalContainerRequest.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<StopLocalContainerRequest>): Generator<StopLocalContainerRequestContainerIdFieldEvent | StopLocalContainerRequestRequestIdFieldEvent> {
    return streamMessage(buf, StopLocalContainerRequest.codec(), opts)
  }
}

export interface StopLocalContainerResponse {
  status?: Status
}

export namespace StopLocalContainerResponse {
  let _codec: Codec<StopLocalContainerResponse>

  export const codec = (): Codec<StopLocalContainerResponse> => {
    if (_codec == null) {
      _codec = message<StopLocalContainerResponse>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.status != null) {
          w.uint32(10)
          Status.codec().encode(obj.status, w)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {}

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.status = Status.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.status
              })
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield * Status.codec().stream(reader, reader.uint32(), `${prefix}.status`, {
                limits: opts.limits?.status
              })

              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface StopLocalContainerResponseStatusCodeFieldEvent {
    field: '$.status.code'
    value: Status.Code
  }

  export interface StopLocalContainerResponseStatusMessageFieldEvent {
    field: '$.status.message'
    value: string
  }

  export function encode (obj: Partial<StopLocalContainerResponse>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, StopLocalContainerResponse.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<StopLocalContainerResponse>): StopLocalContainerResponse {
    return decodeMessage(buf, StopLocalContainerResponse.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<StopLocalContainerResponse>): Generator<StopLocalContainerResponseStatusCodeFieldEvent | StopLocalContainerResponseStatusMessageFieldEvent> {
    return streamMessage(buf, StopLocalContainerResponse.codec(), opts)
  }
}

export interface ContainerExitedRequest {
  containerId: string
  exitCode?: number
  reason: string
}

export namespace ContainerExitedRequest {
  let _codec: Codec<ContainerExitedRequest>

  export const codec = (): Codec<ContainerExitedRequest> => {
    if (_codec == null) {
      _codec = message<ContainerExitedRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.containerId != null && obj.containerId !== '')) {
          w.uint32(10)
          w.string(obj.containerId)
        }

        if (obj.exitCode != null) {
          w.uint32(16)
          w.int32(obj.exitCode)
        }

        if ((obj.reason != null && obj.reason !== '')) {
          w.uint32(26)
          w.string(obj.reason)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          containerId: '',
          reason: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.containerId = reader.string()
              break
            }
            case 2: {
              obj.exitCode = reader.int32()
              break
            }
            case 3: {
              obj.reason = reader.string()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.containerId`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.exitCode`,
                value: reader.int32()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.reason`,
                value: reader.string()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface ContainerExitedRequestContainerIdFieldEvent {
    field: '$.containerId'
    value: string
  }

  export interface ContainerExitedRequestExitCodeFieldEvent {
    field: '$.exitCode'
    value: number
  }

  export interface ContainerExitedRequestReasonFieldEvent {
    field: '$.reason'
    value: string
  }

  export function encode (obj: Partial<ContainerExitedRequest>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, ContainerExitedRequest.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ContainerExitedRequest>): ContainerExitedRequest {
    return decodeMessage(buf, ContainerExitedRequest.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ContainerExitedRequest>): Generator<ContainerExitedRequestContainerIdFieldEvent | ContainerExitedRequestExitCodeFieldEvent | ContainerExitedRequestReasonFieldEvent> {
    return streamMessage(buf, ContainerExitedRequest.codec(), opts)
  }
}

export interface ContainerExitedResponse {
  status?: Status
}

export namespace ContainerExitedResponse {
  let _codec: Codec<ContainerExitedResponse>

  export const codec = (): Codec<ContainerExitedResponse> => {
    if (_codec == null) {
      _codec = message<ContainerExitedResponse>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.status != null) {
          w.uint32(10)
          Status.codec().encode(obj.status, w)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {}

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.status = Status.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.status
              })
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield * Status.codec().stream(reader, reader.uint32(), `${prefix}.status`, {
                limits: opts.limits?.status
              })

              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface ContainerExitedResponseStatusCodeFieldEvent {
    field: '$.status.code'
    value: Status.Code
  }

  export interface ContainerExitedResponseStatusMessageFieldEvent {
    field: '$.status.message'
    value: string
  }

  export function encode (obj: Partial<ContainerExitedResponse>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, ContainerExitedResponse.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ContainerExitedResponse>): ContainerExitedResponse {
    return decodeMessage(buf, ContainerExitedResponse.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ContainerExitedResponse>): Generator<ContainerExitedResponseStatusCodeFieldEvent | ContainerExitedResponseStatusMessageFieldEvent> {
    return streamMessage(buf, ContainerExitedResponse.codec(), opts)
  }
}

export interface ContainerStatusRequest {
  containerIds: string[]
}

export namespace ContainerStatusRequest {
  let _codec: Codec<ContainerStatusRequest>

  export const codec = (): Codec<ContainerStatusRequest> => {
    if (_codec == null) {
      _codec = message<ContainerStatusRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.containerIds != null && obj.containerIds.length > 0) {
          for (const value of obj.containerIds) {
            w.uint32(10)
            w.string(value)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          containerIds: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.containerIds != null && obj.containerIds.length === opts.limits.containerIds) {
                throw new MaxLengthError('Decode error - repeated field "containerIds" had too many elements')
              }

              if (obj.containerIds.length === 64) {
                throw new MaxLengthError('Decode error - repeated field "containerIds" had too many elements')
              }

              obj.containerIds.push(reader.string())
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const obj = {
          containerIds: 64
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.containerIds != null && obj.containerIds === opts.limits.containerIds) {
                throw new MaxLengthError('Streaming decode error - repeated field "containerIds" had too many elements')
              }

              if (obj.containerIds === 64) {
                throw new MaxLengthError('Streaming decode error - repeated field "containerIds" had too many elements')
              }

              yield {
                field: `${prefix}.containerIds[]`,
                index: obj.containerIds,
                value: reader.string()
              }

              obj.containerIds++

              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface ContainerStatusRequestContainerIdsFieldEvent {
    field: '$.containerIds[]'
    index: number
    value: string
  }

  export function encode (obj: Partial<ContainerStatusRequest>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, ContainerStatusRequest.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ContainerStatusRequest>): ContainerStatusRequest {
    return decodeMessage(buf, ContainerStatusRequest.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ContainerStatusRequest>): Generator<ContainerStatusRequestContainerIdsFieldEvent> {
    return streamMessage(buf, ContainerStatusRequest.codec(), opts)
  }
}

export interface ContainerState {
  containerId: string
  state: ContainerState.State
  exitCode?: number
}

export namespace ContainerState {
  export enum State {
    UNKNOWN = 'UNKNOWN',
    RUNNING = 'RUNNING',
    EXITED = 'EXITED'
  }

  enum __StateValues {
    UNKNOWN = 0,
    RUNNING = 1,
    EXITED = 2
  }

  export namespace State {
    export const codec = (): Codec<State> => {
      return enumeration<State>(__StateValues)
    }
  }

  let _codec: Codec<ContainerState>

  export const codec = (): Codec<ContainerState> => {
    if (_codec == null) {
      _codec = message<ContainerState>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.containerId != null && obj.containerId !== '')) {
          w.uint32(10)
          w.string(obj.containerId)
        }

        if (obj.state != null && __StateValues[obj.state] !== 0) {
          w.uint32(16)
          ContainerState.State.codec().encode(obj.state, w)
        }

        if (obj.exitCode != null) {
          w.uint32(24)
          w.int32(obj.exitCode)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          containerId: '',
          state: State.UNKNOWN
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.containerId = reader.string()
              break
            }
            case 2: {
              obj.state = ContainerState.State.codec().decode(reader)
              break
            }
            case 3: {
              obj.exitCode = reader.int32()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.containerId`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.state`,
                value: ContainerState.State.codec().decode(reader)
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.exitCode`,
                value: reader.int32()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface ContainerStateContainerIdFieldEvent {
    field: '$.containerId'
    value: string
  }

  export interface ContainerStateStateFieldEvent {
    field: '$.state'
    value: ContainerState.State
  }

  export interface ContainerStateExitCodeFieldEvent {
    field: '$.exitCode'
    value: number
  }

  export function encode (obj: Partial<ContainerState>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, ContainerState.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ContainerState>): ContainerState {
    return decodeMessage(buf, ContainerState.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ContainerState>): Generator<ContainerStateContainerIdFieldEvent | ContainerStateStateFieldEvent | ContainerStateExitCodeFieldEvent> {
    return streamMessage(buf, ContainerState.codec(), opts)
  }
}

export interface ContainerStatusResponse {
  status?: Status
  containers: ContainerState[]
}

export namespace ContainerStatusResponse {
  let _codec: Codec<ContainerStatusResponse>

  export const codec = (): Codec<ContainerStatusResponse> => {
    if (_codec == null) {
      _codec = message<ContainerStatusResponse>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.status != null) {
          w.uint32(10)
          Status.codec().encode(obj.status, w)
        }

        if (obj.containers != null && obj.containers.length > 0) {
          for (const value of obj.containers) {
            w.uint32(18)
            ContainerState.codec().encode(value, w)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          containers: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.status = Status.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.status
              })
              break
            }
            case 2: {
              if (opts.limits?.containers != null && obj.containers.length === opts.limits.containers) {
                throw new MaxLengthError('Decode error - repeated field "containers" had too many elements')
              }

              if (obj.containers.length === 64) {
                throw new MaxLengthError('Decode error - repeated field "containers" had too many elements')
              }

              obj.containers.push(ContainerState.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.containers$
              }))
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const obj = {
          containers: 64
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield * Status.codec().stream(reader, reader.uint32(), `${prefix}.status`, {
                limits: opts.limits?.status
              })

              break
            }
            case 2: {
              if (opts.limits?.containers != null && obj.containers === opts.limits.containers) {
                throw new MaxLengthError('Streaming decode error - repeated field "containers" had too many elements')
              }

              if (obj.containers === 64) {
                throw new MaxLengthError('Streaming decode error - repeated field "containers" had too many elements')
              }

              for (const evt of ContainerState.codec().stream(reader, reader.uint32(), `${prefix}.containers[]`, {
                limits: opts.limits?.containers$
              })) {
                yield {
                  ...evt,
                  index: obj.containers
                }
              }

              obj.containers++

              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface ContainerStatusResponseStatusCodeFieldEvent {
    field: '$.status.code'
    value: Status.Code
  }

  export interface ContainerStatusResponseStatusMessageFieldEvent {
    field: '$.status.message'
    value: string
  }

  export interface ContainerStatusResponseContainersContainerIdFieldEvent {
    field: '$.containers[].containerId'
    value: string
    index: number
  }

  export interface ContainerStatusResponseContainersStateFieldEvent {
    field: '$.containers[].state'
    value: ContainerState.State
    index: number
  }

  export interface ContainerStatusResponseContainersExitCodeFieldEvent {
    field: '$.containers[].exitCode'
    value: number
    index: number
  }

  export function encode (obj: Partial<ContainerStatusResponse>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, ContainerStatusResponse.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ContainerStatusResponse>): ContainerStatusResponse {
    return decodeMessage(buf, ContainerStatusResponse.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ContainerStatusResponse>): Generator<ContainerStatusResponseStatusCodeFieldEvent | ContainerStatusResponseStatusMessageFieldEvent | ContainerStatusResponseContainersContainerIdFieldEvent | ContainerStatusResponseContainersStateFieldEvent | ContainerStatusResponseContainersExitCodeFieldEvent> {
    return streamMessage(buf, ContainerStatusResponse.codec(), opts)
  }
}

export interface ContainerLogsRequest {
  containerId: string
  follow: boolean
  tail?: number
  since: bigint
}

export namespace ContainerLogsRequest {
  let _codec: Codec<ContainerLogsRequest>

  export const codec = (): Codec<ContainerLogsRequest> => {
    if (_codec == null) {
      _codec = message<ContainerLogsRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.containerId != null && obj.containerId !== '')) {
          w.uint32(10)
          w.string(obj.containerId)
        }

        if ((obj.follow != null && obj.follow !== false)) {
          w.uint32(16)
          w.bool(obj.follow)
        }

        if (obj.tail != null) {
          w.uint32(24)
          w.uint32(obj.tail)
        }

        if ((obj.since != null && obj.since !== 0n)) {
          w.uint32(32)
          w.uint64(obj.since)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          containerId: '',
          follow: false,
          since: 0n
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.containerId = reader.string()
              break
            }
            case 2: {
              obj.follow = reader.bool()
              break
            }
            case 3: {
              obj.tail = reader.uint32()
              break
            }
            case 4: {
              obj.since = reader.uint64()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.containerId`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.follow`,
                value: reader.bool()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.tail`,
                value: reader.uint32()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.since`,
                value: reader.uint64()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface ContainerLogsRequestContainerIdFieldEvent {
    field: '$.containerId'
    value: string
  }

  export interface ContainerLogsRequestFollowFieldEvent {
    field: '$.follow'
    value: boolean
  }

  export interface ContainerLogsRequestTailFieldEvent {
    field: '$.tail'
    value: number
  }

  export interface ContainerLogsRequestSinceFieldEvent {
    field: '$.since'
    value: bigint
  }

  export function encode (obj: Partial<ContainerLogsRequest>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, ContainerLogsRequest.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ContainerLogsRequest>): ContainerLogsRequest {
    return decodeMessage(buf, ContainerLogsRequest.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ContainerLogsRequest>): Generator<ContainerLogsRequestContainerIdFieldEvent | ContainerLogsRequestFollowFieldEvent | ContainerLogsRequestTailFieldEvent | ContainerLogsRequestSinceFieldEvent> {
    return streamMessage(buf, ContainerLogsRequest.codec(), opts)
  }
}

export interface ContainerLogsResponse {
  status?: Status
}

export namespace ContainerLogsResponse {
  let _codec: Codec<ContainerLogsResponse>

  export const codec = (): Codec<ContainerLogsResponse> => {
    if (_codec == null) {
      _codec = message<ContainerLogsResponse>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.status != null) {
          w.uint32(10)
          Status.codec().encode(obj.status, w)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {}

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.status = Status.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.status
              })
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield * Status.codec().stream(reader, reader.uint32(), `${prefix}.status`, {
                limits: opts.limits?.status
              })

              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface ContainerLogsResponseStatusCodeFieldEvent {
    field: '$.status.code'
    value: Status.Code
  }

  export interface ContainerLogsResponseStatusMessageFieldEvent {
    field: '$.status.message'
    value: string
  }

  export function encode (obj: Partial<ContainerLogsResponse>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, ContainerLogsResponse.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ContainerLogsResponse>): ContainerLogsResponse {
    return decodeMessage(buf, ContainerLogsResponse.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ContainerLogsResponse>): Generator<ContainerLogsResponseStatusCodeFieldEvent | ContainerLogsResponseStatusMessageFieldEvent> {
    return streamMessage(buf, ContainerLogsResponse.codec(), opts)
  }
}

export interface LogChunk {
  stream: LogChunk.Stream
  data: Uint8Array<ArrayBuffer>
  time: bigint
}

export namespace LogChunk {
  export enum Stream {
    STDOUT = 'STDOUT',
    STDERR = 'STDERR'
  }

  enum __StreamValues {
    STDOUT = 0,
    STDERR = 1
  }

  export namespace Stream {
    export const codec = (): Codec<Stream> => {
      return enumeration<Stream>(__StreamValues)
    }
  }

  let _codec: Codec<LogChunk>

  export const codec = (): Codec<LogChunk> => {
    if (_codec == null) {
      _codec = message<LogChunk>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.stream != null && __StreamValues[obj.stream] !== 0) {
          w.uint32(8)
          LogChunk.Stream.codec().encode(obj.stream, w)
        }

        if ((obj.data != null && obj.data.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.data)
        }

        if ((obj.time != null && obj.time !== 0n)) {
          w.uint32(24)
          w.uint64(obj.time)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          stream: Stream.STDOUT,
          data: uint8ArrayAlloc(0),
          time: 0n
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.stream = LogChunk.Stream.codec().decode(reader)
              break
            }
            case 2: {
              obj.data = reader.bytes()
              break
            }
            case 3: {
              obj.time = reader.uint64()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.stream`,
                value: LogChunk.Stream.codec().decode(reader)
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.data`,
                value: reader.bytes()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.time`,
                value: reader.uint64()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface LogChunkStreamFieldEvent {
    field: '$.stream'
    value: LogChunk.Stream
  }

  export interface LogChunkDataFieldEvent {
    field: '$.data'
    value: Uint8Array<ArrayBuffer>
  }

  export interface LogChunkTimeFieldEvent {
    field: '$.time'
    value: bigint
  }

  export function encode (obj: Partial<LogChunk>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, LogChunk.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<LogChunk>): LogChunk {
    return decodeMessage(buf, LogChunk.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<LogChunk>): Generator<LogChunkStreamFieldEvent | LogChunkDataFieldEvent | LogChunkTimeFieldEvent> {
    return streamMessage(buf, LogChunk.codec(), opts)
  }
}

export interface PortForwardRequest {
  containerId: string
  containerPort: number
}

export namespace PortForwardRequest {
  let _codec: Codec<PortForwardRequest>

  export const codec = (): Codec<PortForwardRequest> => {
    if (_codec == null) {
      _codec = message<PortForwardRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.containerId != null && obj.containerId !== '')) {
          w.uint32(10)
          w.string(obj.containerId)
        }

        if ((obj.containerPort != null && obj.containerPort !== 0)) {
          w.uint32(16)
          w.uint32(obj.containerPort)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          containerId: '',
          containerPort: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.containerId = reader.string()
              break
            }
            case 2: {
              obj.containerPort = reader.uint32()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.containerId`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.containerPort`,
                value: reader.uint32()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface PortForwardRequestContainerIdFieldEvent {
    field: '$.containerId'
    value: string
  }

  export interface PortForwardRequestContainerPortFieldEvent {
    field: '$.containerPort'
    value: number
  }

  export function encode (obj: Partial<PortForwardRequest>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, PortForwardRequest.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<PortForwardRequest>): PortForwardRequest {
    return decodeMessage(buf, PortForwardRequest.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<PortForwardRequest>): Generator<PortForwardRequestContainerIdFieldEvent | PortForwardRequestContainerPortFieldEvent> {
    return streamMessage(buf, PortForwardRequest.codec(), opts)
  }
}

export interface PortForwardResponse {
  status?: Status
}

export namespace PortForwardResponse {
  let _codec: Codec<PortForwardResponse>

  export const codec = (): Codec<PortForwardResponse> => {
    if (_codec == null) {
      _codec = message<PortForwardResponse>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.status != null) {
          w.uint32(10)
          Status.codec().encode(obj.status, w)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {}

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.status = Status.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.status
              })
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield * Status.codec().stream(reader, reader.uint32(), `${prefix}.status`, {
                limits: opts.limits?.status
              })

              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface PortForwardResponseStatusCodeFieldEvent {
    field: '$.status.code'
    value: Status.Code
  }

  export interface PortForwardResponseStatusMessageFieldEvent {
    field: '$.status.message'
    value: string
  }

  export function encode (obj: Partial<PortForwardResponse>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, PortForwardResponse.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<PortForwardResponse>): PortForwardResponse {
    return decodeMessage(buf, PortForwardResponse.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<PortForwardResponse>): Generator<PortForwardResponseStatusCodeFieldEvent | PortForwardResponseStatusMessageFieldEvent> {
    return streamMessage(buf, PortForwardResponse.codec(), opts)
  }
}

export interface ObtainConfigurationRequest {}

export namespace ObtainConfigurationRequest {
  let _codec: Codec<ObtainConfigurationRequest>

  export const codec = (): Codec<ObtainConfigurationRequest> => {
    if (_codec == null) {
      _codec = message<ObtainConfigurationRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {}

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export function encode (obj: Partial<ObtainConfigurationRequest>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, ObtainConfigurationRequest.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ObtainConfigurationRequest>): ObtainConfigurationRequest {
    return decodeMessage(buf, ObtainConfigurationRequest.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ObtainConfigurationRequest>): Generator<{}> {
    return streamMessage(buf, ObtainConfigurationRequest.codec(), opts)
  }
}

export interface ObtainConfigurationResponse {
  status?: Status
  configuration: string
  resourceMapDigest: Uint8Array<ArrayBuffer>
}

export namespace ObtainConfigurationResponse {
  let _codec: Codec<ObtainConfigurationResponse>

  export const codec = (): Codec<ObtainConfigurationResponse> => {
    if (_codec == null) {
      _codec = message<ObtainConfigurationResponse>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.status != null) {
          w.uint32(10)
          Status.codec().encode(obj.status, w)
        }

        if ((obj.configuration != null && obj.configuration !== '')) {
          w.uint32(18)
          w.string(obj.configuration)
        }

        if ((obj.resourceMapDigest != null && obj.resourceMapDigest.byteLength > 0)) {
          w.uint32(26)
          w.bytes(obj.resourceMapDigest)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          configuration: '',
          resourceMapDigest: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.status = Status.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.status
              })
              break
            }
            case 2: {
              obj.configuration = reader.string()
              break
            }
            case 3: {
              obj.resourceMapDigest = reader.bytes()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield * Status.codec().stream(reader, reader.uint32(), `${prefix}.status`, {
                limits: opts.limits?.status
              })

              break
            }
            case 2: {
              yield {
                field: `${prefix}.configuration`,
                value: reader.string()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.resourceMapDigest`,
                value: reader.bytes()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface ObtainConfigurationResponseStatusCodeFieldEvent {
    field: '$.status.code'
    value: Status.Code
  }

  export interface ObtainConfigurationResponseStatusMessageFieldEvent {
    field: '$.status.message'
    value: string
  }

  export interface ObtainConfigurationResponseConfigurationFieldEvent {
    field: '$.configuration'
    value: string
  }

  export interface ObtainConfigurationResponseResourceMapDigestFieldEvent {
    field: '$.resourceMapDigest'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<ObtainConfigurationResponse>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, ObtainConfigurationResponse.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ObtainConfigurationResponse>): ObtainConfigurationResponse {
    return decodeMessage(buf, ObtainConfigurationResponse.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ObtainConfigurationResponse>): Generator<ObtainConfigurationResponseStatusCodeFieldEvent | ObtainConfigurationResponseStatusMessageFieldEvent | ObtainConfigurationResponseConfigurationFieldEvent | ObtainConfigurationResponseResourceMapDigestFieldEvent> {
    return streamMessage(buf, ObtainConfigurationResponse.codec(), opts)
  }
}
