/**
 * How an in-process peer answers a request: the handler's result, or the status its error maps
 * to, encoded as the protocol server would send it. Shared by `LocalNetwork` and the simulator.
 */

import { NotImplementedError, ProtocolStatusError } from '../errors.js'
import { CODECS } from '../protocols/codec.js'
import { INVOKERS } from '../protocols/invokers.js'
import { DEFAULT_LIMITS, responseSizeLimit } from '../protocols/limits.js'
import type { Codecs, Requests, Response, Results } from '../protocols/codec.js'
import type { CaravelaHandlers, RequestContext } from '../protocols/handlers.js'
import type { MessageName } from '../protocols/ids.js'

/**
 * Run the handler of `name` and encode its response. An error that is not a protocol status (a
 * bug) answers INTERNAL_ERROR and is handed to `onBug`. The response is encoded with `codecs`.
 */
export async function answer<N extends MessageName> (name: N, handlers: Partial<CaravelaHandlers> | undefined, ctx: RequestContext, request: Requests[N], onBug: (err: Error) => void, codecs: Codecs = CODECS): Promise<Uint8Array> {
  const codec = codecs[name]
  let response: Response<Results[N]>

  try {
    if (handlers?.[name] == null) {
      throw new NotImplementedError(`${name} is not implemented by this peer`)
    }

    response = { status: 'OK', result: await INVOKERS[name](handlers as CaravelaHandlers, ctx, request) }
  } catch (err: any) {
    response = statusOf(err, onBug)
  }

  try {
    const bytes = codec.encodeResponse(response)

    if (bytes.byteLength > responseSizeLimit(name, DEFAULT_LIMITS)) {
      throw new Error(`the ${name} response is ${bytes.byteLength} bytes long, more than the limit`)
    }

    return bytes
  } catch (err: any) {
    onBug(err)
    return codec.encodeResponse({ status: 'INTERNAL_ERROR', message: 'internal error' })
  }
}

/** The status a handler's error answers with, as the protocol server maps it. */
function statusOf (err: any, onBug: (err: Error) => void): Response<never> {
  if (err instanceof ProtocolStatusError) {
    return { status: err.status, message: err.message }
  }

  if (err instanceof NotImplementedError) {
    return { status: 'NOT_IMPLEMENTED', message: err.message }
  }

  onBug(err)
  return { status: 'INTERNAL_ERROR', message: 'internal error' }
}
