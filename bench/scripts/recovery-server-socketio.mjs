// The Socket.IO server of bench/scripts/recovery.ts, in its own process: Socket.IO 4 with
// connection state recovery (its in-memory adapter keeps the packets a disconnected socket
// missed), WebSocket transport only; every socket joins room "room". Same IPC as
// recovery-server.ts: { port } once listening, { publish: n, size } → { published }, 'cpu' →
// { cpuUs }.
import http from 'node:http';
import { Server } from 'socket.io';

const httpServer = http.createServer();
const io = new Server(httpServer, {
  transports: ['websocket'],
  serveClient: false,
  perMessageDeflate: false,
  connectionStateRecovery: { maxDisconnectionDuration: 10 * 60 * 1000, skipMiddlewares: true },
});
io.on('connection', (socket) => {
  if (socket.recovered) return;
  socket.join('room');
  // A client sends the offset of the last packet it received when it comes back: it needs one.
  io.to(socket.id).emit('ready');
});
httpServer.listen(0, '127.0.0.1', () => process.send({ port: httpServer.address().port }));

process.on('message', (m) => {
  if (m === 'cpu') {
    const { user, system } = process.cpuUsage();
    process.send({ cpuUs: user + system });
    return;
  }
  const text = 'x'.repeat(m.size);
  for (let i = 0; i < m.publish; i++) io.to('room').emit('m', { i, text });
  process.send({ published: m.publish });
});
process.on('disconnect', () => process.exit(0));
