// Socket.IO 4 server with rooms, for the realtime scenarios (`--only rt`), WebSocket transport
// only. Every socket joins room "bench" (the realtime side subscribes its subscribers to channel
// "bench"); an event "bcast" goes to the room but not its sender (`socket.to(room).emit`, which
// is `io.to(room).except(socket).emit`: the control connection is in the room too). Event "pub"
// with an acknowledgement (a client's `emitWithAck`) emits to room "ack" (empty, as the realtime
// side's channel "ack" has no subscribers) and acknowledges. Heartbeats are pushed past a run.
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
  socket.join('bench');
  socket.on('bcast', (data) => socket.to('bench').emit('bcast', data));
  socket.on('pub', (data, ack) => {
    io.to('ack').emit('m', data);
    if (typeof ack === 'function') ack();
  });
});
httpServer.listen(0, '127.0.0.1', () => announce({ port: httpServer.address().port }));
