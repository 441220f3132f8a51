// The load generator's realtime protocol mode (wsgen --protocol rt, and ack mode) against a real
// RealtimeServer in this process, and against fakes that deliver the wrong thing: the realtime
// scenarios must count only deliveries and acknowledgements whose content was checked, so the
// bench cannot silently measure nothing. No performance assertions.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { RealtimeServer } from '@ieum/realtime/server';
import { type WebSocket, WebSocketServer } from '@ieum/websocket';
import { compileGenerator, holdConnections, runGenerator } from '../lib/generator.js';

const rtPort = (rt: RealtimeServer) => (rt.address() as AddressInfo).port;

/** A fake realtime endpoint: welcomes, answers `sub`, and answers other messages with `reply`. */
async function fake(
  reply: (message: { t: string; d?: unknown }, ws: WebSocket) => void,
): Promise<WebSocketServer> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  wss.on('connection', (ws) => {
    ws.on('message', (data) => {
      const message = JSON.parse(String(data)) as { t: string; id?: number; d?: unknown };
      if (message.t === 'hello') ws.send(JSON.stringify({ t: 'welcome', v: 1, sid: 's', hb: 300_000 }));
      else if (message.t === 'sub')
        ws.send(JSON.stringify({ t: 'res', id: message.id, ok: true, d: { ep: 'e', off: 0 } }));
      else reply(message, ws);
    });
  });
  await once(wss, 'listening');
  return wss;
}

async function shutdown(wss: WebSocketServer): Promise<void> {
  for (const client of wss.clients) client.terminate();
  await new Promise<void>((resolve) => wss.close(() => resolve()));
}

describe('bench load generator, realtime protocol (wsgen --protocol rt)', { timeout: 60_000 }, () => {
  let bin: string;
  let rt: RealtimeServer;
  let authorized = 0;
  let published = 0;

  before(async () => {
    bin = await compileGenerator();
    // As bench/servers/ieum-realtime.mjs, with hooks that count what the server really did.
    rt = new RealtimeServer({
      port: 0,
      host: '127.0.0.1',
      rateLimit: false,
      inputBytesPerSecond: false,
      subscribeRateLimit: false,
      channelRate: false,
      heartbeatIntervalMs: 300_000,
      httpFallback: false,
      metrics: false,
      authorizeChannel: ({ channel }) => {
        if (channel === 'bench') authorized++;
        return true;
      },
      beforePublish: ({ data }) => {
        published++;
        return data;
      },
    });
    rt.handle('bcast', (data) => rt.publish('bench', 'bcast', data).then(() => undefined));
    await once(rt, 'listening');
  });
  after(() => rt.close({ timeoutMs: 1000 }));

  for (const burst of [1, 8]) {
    it(`counts only checked deliveries of a channel's messages to every subscriber (bursts of ${burst})`, async () => {
      const r = await runGenerator(bin, {
        port: rtPort(rt),
        path: '/realtime',
        protocol: 'rt',
        mode: 'fanout',
        connections: 20,
        ...(burst > 1 ? { inflight: burst } : {}),
        size: 64,
        duration: 0.5,
      });
      assert.equal(r.protocol, 'rt');
      assert.ok(r.rounds! > 0, 'some rounds completed');
      assert.equal(r.messages, r.rounds! * 20 * burst);
      assert.equal(r.verified, r.messages, 'every delivery was checked');
    });
  }

  it('counts acknowledgements of publishes the server stored, one new message id each', async () => {
    const before = published;
    const r = await runGenerator(bin, {
      port: rtPort(rt),
      path: '/realtime',
      protocol: 'rt',
      mode: 'ack',
      connections: 4,
      size: 16,
      duration: 0.5,
    });
    assert.ok(r.messages! > 0);
    assert.equal(r.verified, r.messages);
    assert.equal(r.latency_us!.samples, r.messages);
    // Client publishes reach beforePublish unless they are retries of a stored message id.
    assert.ok(published - before >= r.messages!, `${published - before} stored for ${r.messages} acks`);
  });

  it('a second run against the same server is not deduplicated as retries of the first', async () => {
    const options = {
      port: rtPort(rt),
      path: '/realtime',
      protocol: 'rt' as const,
      mode: 'ack' as const,
      connections: 2,
      size: 16,
      duration: 0.3,
    };
    const first = await runGenerator(bin, options);
    const second = await runGenerator(bin, options);
    assert.ok(first.messages! > 0 && second.messages! > 0);
  });

  it('holds connections that are each subscribed to the channel', async () => {
    const before = authorized;
    const held = await holdConnections(bin, {
      port: rtPort(rt),
      path: '/realtime',
      protocol: 'rt',
      mode: 'hold',
      connections: 30,
      duration: 30,
    });
    try {
      assert.equal(held.count, 30);
      assert.equal(authorized - before, 30, 'every held connection subscribed');
    } finally {
      await held.release();
    }
  });

  it('fails when a delivered message does not carry the payload sent', async () => {
    const wrong = await fake((message) => {
      if (message.t !== 'emit') return;
      const msg = JSON.stringify({ t: 'msg', ch: 'bench', ev: 'bcast', d: `${message.d}x`, ep: 'e', off: 1 });
      for (const client of wrong.clients) client.send(msg);
    });
    try {
      await assert.rejects(
        runGenerator(bin, {
          port: (wrong.address() as AddressInfo).port,
          protocol: 'rt',
          mode: 'fanout',
          connections: 2,
          duration: 0.5,
        }),
        /expected a msg of channel "bench" carrying the payload sent/,
      );
    } finally {
      await shutdown(wrong);
    }
  });

  it('fails when a publish is acknowledged as a duplicate (nothing was published)', async () => {
    const dup = await fake((message, ws) => {
      const m = message as { t: string; id?: number };
      if (m.t === 'pub')
        ws.send(JSON.stringify({ t: 'res', id: m.id, ok: true, d: { ep: 'e', off: 1, dup: true } }));
    });
    try {
      await assert.rejects(
        runGenerator(bin, {
          port: (dup.address() as AddressInfo).port,
          protocol: 'rt',
          mode: 'ack',
          connections: 1,
          duration: 0.5,
        }),
        /expected a successful, first-time publish result/,
      );
    } finally {
      await shutdown(dup);
    }
  });

  it('fails when the server does not welcome the connection', async () => {
    const rude = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    rude.on('connection', (ws) => ws.on('message', () => ws.send('{"t":"pong"}')));
    await once(rude, 'listening');
    try {
      await assert.rejects(
        runGenerator(bin, {
          port: (rude.address() as AddressInfo).port,
          protocol: 'rt',
          mode: 'hold',
          connections: 1,
          duration: 1,
        }),
        /expected the realtime welcome, got \{"t":"pong"\}/,
      );
    } finally {
      await shutdown(rude);
    }
  });
});
