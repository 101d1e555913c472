/**
 * Per-protocol traffic counters of a server or a client. Bytes are protobuf message bytes,
 * without the length prefix. The logs stream (`containerLogs`) counts its request, its status and
 * each chunk of output as one message, and the streams opened and refused besides.
 */

import { MESSAGE_NAMES } from './ids.js'
import type { MessageName } from './ids.js'

export interface MessageCounters {
  messagesSent: number
  messagesReceived: number
  bytesSent: number
  bytesReceived: number
}

/** Every protocol counted: the messages' and the logs stream's. */
export type ProtocolName = MessageName | 'containerLogs'

export const PROTOCOL_NAMES: readonly ProtocolName[] = [...MESSAGE_NAMES, 'containerLogs']

/** containerLogs streams answered OK, and answered with another status (refused, rate limited, unknown container...). */
export interface LogStreamCounters {
  opened: number
  refused: number
}

export type ProtocolMetrics = Record<ProtocolName, MessageCounters> & { logStreams: LogStreamCounters }

/** Zeroed counters for every protocol. */
export function createMetrics (): ProtocolMetrics {
  const metrics: Partial<Record<ProtocolName, MessageCounters>> = {}

  for (const name of PROTOCOL_NAMES) {
    metrics[name] = { messagesSent: 0, messagesReceived: 0, bytesSent: 0, bytesReceived: 0 }
  }

  return { ...metrics as Record<ProtocolName, MessageCounters>, logStreams: { opened: 0, refused: 0 } }
}
