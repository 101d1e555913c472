/** An API error with an HTTP status; its message is sent to the client as `{ "error": message }`. */
export class ApiError extends Error {
  static override name = 'ApiError'
  readonly status: number

  constructor (status: number, message: string) {
    super(message)
    this.name = 'ApiError'
    this.status = status
  }
}
