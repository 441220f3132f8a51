// Socket.IO 4 echo / broadcast server, WebSocket transport only. Event "echo" is emitted back to
// the sender, event "bcast" to every other socket (socket.broadcast.emit encodes once).
// Heartbeats are pushed past the length of a run (the load generator does not answer pings).
import http from 'node:http';
import { Server } from 'socket.io';
import { announce } from './control.mjs';

const httpServer = http.createServer();
const io = new Server(httpServer, {
  transports: ['websocket'],
  serveClient: false,
  perMessageDeflate: false,
  pingInterval: 300_000,
  pingTimeout: 60_000,
  maxHttpBufferSize: 2e6,
});
io.on('connection', (socket) => {
  socket.on('echo', (data) => socket.emit('echo', data));
  socket.on('bcast', (data) => socket.broadcast.emit('bcast', data));
});
httpServer.listen(0, '127.0.0.1', () => announce({ port: httpServer.address().port }));
