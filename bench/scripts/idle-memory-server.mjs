// Idle-connection memory: one server process; reports RSS after GC on request.
import { createRequire } from 'node:module';

const kind = process.argv[2];
const deflate = process.argv[3] === 'deflate';
const require = createRequire(new URL('../package.json', import.meta.url));
let wss;
if (kind === 'ieum') {
  const { WebSocketServer } = await import(
    new URL('../../packages/websocket/dist/index.js', import.meta.url).href
  );
  wss = new WebSocketServer({
    port: 0,
    host: '127.0.0.1',
    ...(deflate
      ? {
          perMessageDeflate: {
            threshold: 0,
            ...(process.argv[4] === 'nct'
              ? { serverNoContextTakeover: true, clientNoContextTakeover: true }
              : {}),
          },
        }
      : {}),
  });
} else {
  const { WebSocketServer } = require('ws');
  wss = new WebSocketServer({
    port: 0,
    host: '127.0.0.1',
    perMessageDeflate: deflate
      ? {
          threshold: 0,
          ...(process.argv[4] === 'nct'
            ? { serverNoContextTakeover: true, clientNoContextTakeover: true }
            : {}),
        }
      : false,
  });
}
wss.on('connection', (ws) => {
  ws.on('message', (d, b) => ws.send(d, { binary: b }));
});
wss.on('listening', () => process.send({ port: wss.address().port }));
process.on('message', () => {
  global.gc();
  global.gc();
  const rss = Number(/VmRSS:\s+(\d+)/.exec(require('node:fs').readFileSync('/proc/self/status', 'utf8'))[1]);
  process.send({ rss, clients: wss.clients.size });
});
