// The floor: a Node TCP server that echoes bytes (no WebSocket at all). A second port fans the
// bytes of one client out to every other client. Each connection is greeted with one byte ('*')
// so that the generator knows it was accepted (its stand-in for a handshake). A third port is the
// floor for handshakes: it answers any request with a canned 101 response (the accept key of the
// generator's fixed Sec-WebSocket-Key, nothing parsed or checked) and anything after it with a
// close frame and the end of the connection.
import net from 'node:net';
import { announce } from './control.mjs';

const GREETING = Buffer.from('*');

const echo = net.createServer({ noDelay: true }, (socket) => {
  socket.write(GREETING);
  socket.on('data', (chunk) => socket.write(chunk));
  socket.on('error', () => {});
});
const subscribers = new Set();
const fanout = net.createServer({ noDelay: true }, (socket) => {
  subscribers.add(socket);
  socket.write(GREETING);
  socket.on('data', (chunk) => {
    for (const other of subscribers) if (other !== socket) other.write(chunk);
  });
  socket.on('close', () => subscribers.delete(socket));
  socket.on('error', () => {});
});
const SWITCHING = Buffer.from(
  'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n',
);
const CLOSE = Buffer.from([0x88, 0x02, 0x03, 0xe8]);
const handshake = net.createServer({ noDelay: true }, (socket) => {
  let upgraded = false;
  socket.on('data', () => {
    if (upgraded) socket.end(CLOSE);
    else socket.write(SWITCHING);
    upgraded = true;
  });
  socket.on('error', () => {});
});
echo.listen(0, '127.0.0.1', () => {
  fanout.listen(0, '127.0.0.1', () => {
    handshake.listen(0, '127.0.0.1', () =>
      announce({
        port: echo.address().port,
        fanoutPort: fanout.address().port,
        handshakePort: handshake.address().port,
      }),
    );
  });
});
