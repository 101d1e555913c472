/**
 * The control API's files in a peer's data directory. No dependencies: the `caravela` command
 * reads them without loading the server.
 */

/** File in the data dir holding the API token. */
export const API_TOKEN_FILE = 'api-token'
/** File in the data dir holding `ApiInfo`. */
export const API_INFO_FILE = 'api.json'

/**
 * The `Upgrade` protocol of a port-forward request (`POST /v1/containers/:id/port-forward/:port`):
 * after the server's `101 Switching Protocols` the connection carries the tunnel's raw bytes.
 */
export const TUNNEL_UPGRADE = 'caravela-tunnel'

/** Contents of `<dataDir>/api.json`. */
export interface ApiInfo {
  url: string
  pid: number
}
