import http from 'node:http';
import { announce } from './control.mjs';
const RESP = 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n';
const CLOSE = Buffer.from([0x88, 0x02, 0x03, 0xe8]);
const server = http.createServer((q, r) => r.end());
server.on('upgrade', (req, socket) => {
  socket.setNoDelay(true);
  socket.write(RESP);
  socket.on('data', () => socket.end(CLOSE));
  socket.on('error', () => {});
});
server.listen(0, '127.0.0.1', () => announce({ port: server.address().port }));
