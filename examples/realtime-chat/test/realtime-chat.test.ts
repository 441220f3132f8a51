// The realtime chat example: page and bundled client served, names checked, lines stamped by the
// server, history then live with no gap, presence.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type ChannelMessage, RealtimeClient, type RequestError } from '@ieum/realtime/client';
import { WebSocket } from '@ieum/websocket';
import { type ChatLine, startRealtimeChat } from '../server.js';

describe('realtime chat example', () => {
  let chat: Awaited<ReturnType<typeof startRealtimeChat>>;
  let url: string;
  const clients: RealtimeClient[] = [];
  const connect = (name: string) => {
    const c = new RealtimeClient(url, {
      WebSocket,
      token: name,
      reconnect: false,
    });
    clients.push(c);
    return c;
  };
  before(async () => {
    chat = await startRealtimeChat({ port: 0, host: '127.0.0.1' });
    url = `ws://127.0.0.1:${chat.port}/realtime`;
  });
  after(async () => {
    for (const c of clients) c.close();
    await chat.rt.close();
    await new Promise<void>((r) => chat.server.close(() => r()));
  });

  it('serves the page and a browser bundle of the client', async () => {
    const page = await (await fetch(`http://127.0.0.1:${chat.port}/`)).text();
    assert.match(page, /<title>ieum realtime chat<\/title>/);
    const js = await fetch(`http://127.0.0.1:${chat.port}/realtime-client.js`);
    assert.equal(js.headers.get('content-type'), 'text/javascript');
    assert.match(await js.text(), /RealtimeClient/);
  });

  it('stamps lines with the sender, gives recent history then live lines, and shows presence', async () => {
    const ann = connect('ann');
    const room = ann.channel<Record<string, ChatLine>>('room:test', { presence: true });
    await room.subscribe();
    await room.publish('line', { text: '  first  ', name: 'forged' } as unknown as ChatLine);
    const bob = connect('bob');
    const recent = (await bob.request('chat:recent', 'test')) as {
      epoch: string;
      offset: number;
      lines: ChatLine[];
    };
    assert.deepEqual(
      recent.lines.map((l) => [l.name, l.text]),
      [['ann', 'first']],
    );
    const joined = new Promise<string>((r) => room.on('join', (m) => m.user === 'bob' && r(m.user)));
    const live: ChannelMessage<Record<string, ChatLine>>[] = [];
    const bobRoom = bob.channel<Record<string, ChatLine>>('room:test');
    bobRoom.on('message', (m) => live.push(m));
    await bobRoom.subscribe({ since: { ep: recent.epoch, off: recent.offset } });
    assert.equal(await joined, 'bob');
    await room.publish('line', { text: 'second' } as ChatLine);
    for (let i = 0; i < 100 && live.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(
      live.map((m) => [m.offset, m.data.name, m.data.text]),
      [[2, 'ann', 'second']],
    );
  });

  it('refuses bad names, rooms and lines with clear errors', async () => {
    const bad = connect('no spaces allowed');
    const info = await new Promise<{ code: number; reason: string }>((r) => bad.once('disconnect', r));
    assert.equal(info.code, 4401);
    assert.match(info.reason, /pick a name/);
    const c = connect('carol');
    await assert.rejects(c.channel('admin').subscribe(), (e: RequestError) => e.code === 'forbidden');
    const ch = c.channel('room:x');
    await ch.subscribe();
    await assert.rejects(ch.publish('line', { text: '   ' }), (e: RequestError) => e.code === 'bad-request');
  });
});
