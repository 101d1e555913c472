/**
 * Limits and defaults of the Caravela wire protocols, in one place (`protocols/README.md`).
 * Sizes are bytes, times milliseconds, string lengths UTF-16 code units.
 */

/** Version of every protocol id: `/<prefix>/<name>/<version>`. */
export const PROTOCOL_VERSION = '1.0.0'

/** Largest request or response of most messages. */
export const MAX_MESSAGE_SIZE = 64 * 1024
/** Largest launchContainer request or response, and getOffers response. */
export const MAX_LARGE_MESSAGE_SIZE = 256 * 1024

/** Time a server allows a peer to send its whole request, from the opening of the stream. */
export const READ_TIMEOUT = 5_000
/** Time a server allows one request from the opening of the stream to the closing of it. */
export const REQUEST_TIMEOUT = 10_000
/** Time a client allows one request when the caller gives no signal (the network's `requestTimeout`). */
export const CLIENT_TIMEOUT = 5_000

/**
 * Time a server keeps a request/response stream open without a request, between two requests;
 * it then closes the stream. Longer than `CLIENT_STREAM_IDLE_TIMEOUT`: the client normally
 * closes first, so the server's close rarely meets a request on its way.
 */
export const STREAM_IDLE_TIMEOUT = 30_000
/** Time a client keeps an idle request/response stream for the next request before closing it. */
export const CLIENT_STREAM_IDLE_TIMEOUT = 10_000
/**
 * Idle streams a client keeps per (peer, protocol): well below `MAX_INBOUND_STREAMS`, as idle
 * streams count against libp2p's per-connection stream limits.
 */
export const MAX_IDLE_STREAMS_PER_KEY = 4
/** Idle streams a client keeps, all peers and protocols together. */
export const MAX_IDLE_STREAMS = 256
/**
 * Time a side that closed a stream waits for the other to close its end too before it resets it
 * (a peer cannot hold a stream past it).
 */
export const STREAM_CLOSE_GRACE = 2_000

/** Largest piece of a container's output in one containerLogs frame; longer output is split. */
export const MAX_LOG_CHUNK = 16 * 1024
/**
 * What a paused containerLogs stream may hold at its reader: what the supplier had room to send
 * when it paused, at most the muxer's stream window (yamux's grows to 16 MiB), and a frame.
 */
export const LOGS_READ_BUFFER = 16 * 1024 * 1024 + 64 * 1024
/** containerLogs streams one peer may have open at a server at the same time. */
export const MAX_LOG_STREAMS_PER_PEER = 4
/**
 * Time a containerLogs stream without `follow` may take, from its opening to its end: the output
 * written so far. A `follow` stream lasts as long as the container, or its reader.
 */
export const LOGS_TIMEOUT = 60_000

/** portForward tunnels one peer may have open at a server at the same time. */
export const MAX_TUNNELS_PER_PEER = 16
/** portForward tunnels a server keeps open at the same time, all peers together. */
export const MAX_TUNNELS = 128
/** Time a portForward tunnel may carry nothing, either way, before the server closes it. */
export const TUNNEL_IDLE_TIMEOUT = 10 * 60_000
/** Bytes one portForward tunnel may carry, both ways together, before the server closes it. */
export const MAX_TUNNEL_BYTES = 1024 ** 3
/**
 * What a tunnel's reader lets wait unread before it pauses its end of the stream (so that the
 * muxer stops granting the sender room).
 */
export const TUNNEL_HIGH_WATER = 256 * 1024
/**
 * What a paused tunnel stream may hold: what the sender still had room for when it paused, at
 * most the muxer's stream window, and what came in the moment before (the window is granted
 * anew as data comes, until the pause): about two windows.
 */
export const TUNNEL_READ_BUFFER = 2 * LOGS_READ_BUFFER

/** Inbound streams per protocol and connection a server accepts at the same time. */
export const MAX_INBOUND_STREAMS = 32
/** Outbound streams per protocol and connection at the same time. */
export const MAX_OUTBOUND_STREAMS = 64

/** Requests a peer may send on one protocol in a burst (the token bucket's size). */
export const RATE_LIMIT_BURST = 200
/** Requests per second a peer may send on one protocol once its burst is spent. */
export const RATE_LIMIT_PER_SECOND = 100
/**
 * Peers' worth of requests that the peers of one host (IPv4 address, IPv6 /64) may send together on
 * one protocol: its bucket is this multiple of one peer's, in size and in rate.
 */
export const RATE_LIMIT_ADDRESS_MULTIPLE = 4
/** (peer, protocol) token buckets kept, and as many (host, protocol) ones; the least recently used goes when a new one needs room. */
export const RATE_LIMIT_MAX_BUCKETS = 4096

/** Repeated fields: these must equal the `(protons.options).limit` values of `caravela.proto` (test/protocols-schema.test.ts checks). */
export const MAX_OFFERS = 1024
export const MAX_CONTAINERS = 64
/** Container ids in one containerStatus request, and states in its answer. */
export const MAX_STATUS_IDS = 64
export const MAX_ARGS = 256
export const MAX_MULTIADDRS = 16
export const MAX_PORT_MAPPINGS = 64

/** Slices a resource map can have (one per cell of the grid): bound of a set of slice indices. */
export const MAX_SLICES = 1 << 16

/** Peer id multihash (Ed25519 and secp256k1 ids are 38-39 bytes, RSA ids 34). */
export const MAX_PEER_ID_BYTES = 128
export const MAX_MULTIADDR_BYTES = 256
/** The resource map digest is a sha256. */
export const RESOURCE_MAP_DIGEST_BYTES = 32

export const MAX_NAME_LENGTH = 128
export const MAX_IMAGE_LENGTH = 256
export const MAX_ARG_LENGTH = 4096
/** requestId and containerId */
export const MAX_ID_LENGTH = 128
export const MAX_STATE_LENGTH = 64
/** status messages and refusal reasons; longer ones are cut */
export const MAX_TEXT_LENGTH = 1024

export const UINT32_MAX = 0xFFFF_FFFF
/** `int32` bounds: exit codes */
export const INT32_MIN = -0x8000_0000
export const INT32_MAX = 0x7FFF_FFFF
export const MAX_PORT = 65_535
