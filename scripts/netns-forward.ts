/**
 * `ip netns exec NS node netns-forward.js PORT`, started by `forwardIntoNamespace` (netns-lib.ts)
 * with an IPC channel: takes the listening socket its parent sends (in the parent's namespace)
 * and forwards each connection to 127.0.0.1:PORT in its own namespace, so that a process in the
 * root namespace reaches a peer's control API there. It exits when its parent goes.
 */

import { connect } from 'node:net'
import type { Server } from 'node:net'

const port = Number(process.argv[2])

process.once('disconnect', () => { process.exit(0) })
process.once('message', (_message, server: Server) => {
  server.on('connection', socket => {
    const target = connect(port, '127.0.0.1')
    socket.pipe(target).pipe(socket)
    socket.on('error', () => { target.destroy() })
    target.on('error', () => { socket.destroy() })
  })
  process.send?.('ready')
})
