/**
 * Per-protocol traffic counters of a server or a client. Bytes are protobuf message bytes,
 * without the length prefix.
 */

import { MESSAGE_NAMES } from './ids.js'
import type { MessageName } from './ids.js'

export interface MessageCounters {
  messagesSent: number
  messagesReceived: number
  bytesSent: number
  bytesReceived: number
}

export type ProtocolMetrics = Record<MessageName, MessageCounters>

/** Zeroed counters for every message. */
export function createMetrics (): ProtocolMetrics {
  const metrics: Partial<ProtocolMetrics> = {}

  for (const name of MESSAGE_NAMES) {
    metrics[name] = { messagesSent: 0, messagesReceived: 0, bytesSent: 0, bytesReceived: 0 }
  }

  return metrics as ProtocolMetrics
}
