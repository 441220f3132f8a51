// Bun's built-in WebSocket server (run with bench/node_modules/.bin/bun). Path /fanout: clients
// subscribe to one topic and a message is published to it (publish skips the sender).
import { announce } from './control.mjs';

const server = globalThis.Bun.serve({
  hostname: '127.0.0.1',
  port: 0,
  fetch(req, srv) {
    const fanout = new URL(req.url).pathname === '/fanout';
    if (srv.upgrade(req, { data: { fanout } })) return undefined;
    return new Response('Upgrade Required', { status: 426 });
  },
  websocket: {
    perMessageDeflate: false,
    open(ws) {
      if (ws.data.fanout) ws.subscribe('all');
    },
    message(ws, message) {
      if (ws.data.fanout) ws.publish('all', message);
      else ws.send(message);
    },
  },
});
announce({ port: server.port });
