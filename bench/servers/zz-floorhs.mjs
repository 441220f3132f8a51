import net from 'node:net';
import { announce } from '/work/main/bench/servers/control.mjs';
const RESP = Buffer.from('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n');
const CLOSE = Buffer.from([0x88, 0x02, 0x03, 0xe8]);
const server = net.createServer({ noDelay: true }, (s) => {
  let upgraded = false;
  s.on('data', (d) => {
    if (!upgraded) { upgraded = true; s.write(RESP); return; }
    s.end(CLOSE);
  });
  s.on('error', () => {});
});
server.listen(0, '127.0.0.1', () => announce({ port: server.address().port }));
