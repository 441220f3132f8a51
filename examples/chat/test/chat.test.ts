// The demo behind `npm start`: serves its page and broadcasts chat lines to everyone.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import WsClient from 'ws';
import { waitFor } from '../../../packages/websocket/test/helpers/net.js';
import { startChatServer } from '../server.js';

describe('chat demo', () => {
  let chat: Awaited<ReturnType<typeof startChatServer>>;
  before(async () => {
    chat = await startChatServer({ port: 0, host: '127.0.0.1' });
  });
  after(async () => {
    for (const c of chat.wss.clients) c.terminate();
    chat.wss.close();
    await new Promise<void>((resolve) => chat.server.close(() => resolve()));
  });

  it('serves the page at /', async () => {
    const res = await fetch(`http://127.0.0.1:${chat.port}/`);
    assert.equal(res.status, 200);
    assert.match(await res.text(), /<title>ieum chat<\/title>/);
  });

  async function join(): Promise<{ ws: WsClient; inbox: Record<string, unknown>[] }> {
    const ws = new WsClient(`ws://127.0.0.1:${chat.port}/ws`);
    const inbox: Record<string, unknown>[] = [];
    ws.on('message', (d) => inbox.push(JSON.parse(d.toString())));
    await waitFor(ws, 'open');
    return { ws, inbox };
  }
  const until = async (check: () => boolean) => {
    for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(check());
  };

  it('broadcasts what one user says to every user, with names', async () => {
    const alice = await join();
    const bob = await join();
    alice.ws.send(JSON.stringify({ type: 'rename', name: 'alice' }));
    alice.ws.send(JSON.stringify({ type: 'say', text: 'hi bob' }));
    await until(() => bob.inbox.some((m) => m.type === 'said'));
    const said = bob.inbox.find((m) => m.type === 'said')!;
    assert.equal(said.name, 'alice');
    assert.equal(said.text, 'hi bob');
    assert.ok(
      alice.inbox.some((m) => m.type === 'said' && m.text === 'hi bob'),
      'the sender sees it too',
    );
    alice.ws.close();
    await until(() => bob.inbox.some((m) => m.type === 'left' && m.name === 'alice'));
    bob.ws.close();
  });

  it('answers malformed input with an error message instead of dropping it', async () => {
    const c = await join();
    c.ws.send('not json');
    await until(() => c.inbox.some((m) => m.type === 'error'));
    c.ws.close();
  });
});
