// ws echo / broadcast server (bench/node_modules/ws). The runner starts it twice: plain
// (WS_NO_BUFFER_UTIL=1, WS_NO_UTF_8_VALIDATE=1) and with the native bufferutil/utf-8-validate.
// Path /fanout: a message is sent to every other client in a loop (ws has no encode-once API).
import { WebSocketServer } from 'ws';
import { announce, deflateMode } from './control.mjs';

const deflate = deflateMode();
const wss = new WebSocketServer({
  port: 0,
  host: '127.0.0.1',
  perMessageDeflate: deflate ? { threshold: 0, serverNoContextTakeover: deflate === 'fanout' } : false,
});
wss.on('connection', (ws, req) => {
  if (req.url === '/fanout') {
    ws.on('message', (data, isBinary) => {
      for (const client of wss.clients) {
        if (client !== ws && client.readyState === 1) client.send(data, { binary: isBinary });
      }
    });
  } else {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  }
});
wss.on('listening', () =>
  announce({ port: wss.address().port, nativeAddons: !process.env.WS_NO_BUFFER_UTIL }),
);
