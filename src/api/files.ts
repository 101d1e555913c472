/**
 * The control API's files in a peer's data directory. No dependencies: the `caravela` command
 * reads them without loading the server.
 */

/** File in the data dir holding the API token. */
export const API_TOKEN_FILE = 'api-token'
/** File in the data dir holding `ApiInfo`. */
export const API_INFO_FILE = 'api.json'

/** Contents of `<dataDir>/api.json`. */
export interface ApiInfo {
  url: string
  pid: number
}
