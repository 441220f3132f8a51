// ieum echo / broadcast server. Path /fanout: a message is broadcast to every other client,
// encoded once (WebSocketServer.broadcast = prepare + sendPrepared); any other path: echo.
import { WebSocketServer } from '@ieum/websocket';
import { announce, deflateMode } from './control.mjs';

const deflate = deflateMode();
const wss = new WebSocketServer({
  port: 0,
  host: '127.0.0.1',
  ...(deflate ? { perMessageDeflate: { threshold: 0, serverNoContextTakeover: deflate === 'fanout' } } : {}),
});
wss.on('connection', (ws, req) => {
  if (req.url === '/fanout') {
    ws.on('message', (data, isBinary) => wss.broadcast(data, { binary: isBinary, except: ws }));
  } else {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  }
});
wss.on('listening', () => announce({ port: wss.address().port }));
