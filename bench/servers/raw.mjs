// The floor: a Node TCP server that echoes bytes (no WebSocket at all). A second port fans the
// bytes of one client out to every other client. Each connection is greeted with one byte ('*')
// so that the generator knows it was accepted (its stand-in for a handshake).
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
echo.listen(0, '127.0.0.1', () => {
  fanout.listen(0, '127.0.0.1', () =>
    announce({ port: echo.address().port, fanoutPort: fanout.address().port }),
  );
});
