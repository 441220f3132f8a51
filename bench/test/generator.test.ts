// The benchmark's load generator (bench/gen, C) against an ieum server in this process: it
// compiles, counts only echoes whose bytes it checked, and says clearly what went wrong.
// No performance assertions: numbers belong to `npm run bench`.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net, { type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type WebSocket, WebSocketServer } from '@ieum/websocket';
import { compileGenerator, GeneratorError, runGenerator } from '../lib/generator.js';

async function listen(
  onConnection: (ws: WebSocket, path: string) => void,
  perMessageDeflate?: { threshold: number; serverNoContextTakeover: boolean },
): Promise<WebSocketServer> {
  const wss = new WebSocketServer({
    port: 0,
    host: '127.0.0.1',
    ...(perMessageDeflate ? { perMessageDeflate } : {}),
  });
  wss.on('connection', (ws, req) => onConnection(ws, req.url ?? '/'));
  await once(wss, 'listening');
  return wss;
}

function portOf(wss: WebSocketServer): number {
  return (wss.address() as AddressInfo).port;
}

async function shutdown(wss: WebSocketServer): Promise<void> {
  for (const client of wss.clients) client.terminate();
  await new Promise<void>((resolve) => wss.close(() => resolve()));
}

describe('bench load generator (wsgen)', () => {
  let bin: string;
  let echo: WebSocketServer;

  before(async () => {
    bin = await compileGenerator();
    echo = await listen((ws, path) => {
      if (path === '/fanout') {
        ws.on('message', (data, isBinary) =>
          echo.broadcast(data as Buffer, { binary: isBinary, except: ws }),
        );
      } else {
        ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }));
      }
    });
  });
  after(() => shutdown(echo));

  for (const size of [16, 64 * 1024]) {
    it(`counts echoes of ${size}-byte messages whose payload it verified`, async () => {
      const r = await runGenerator(bin, {
        port: portOf(echo),
        mode: 'echo',
        connections: 4,
        inflight: 4,
        size,
        duration: 1,
        warmup: 0.1,
      });
      assert.equal(r.mode, 'echo');
      assert.equal(r.size, size);
      assert.ok(r.messages! > 0, 'some echoes were counted');
      assert.equal(r.verified, r.messages, 'every counted echo was verified');
      assert.equal(r.latency_us!.samples, r.messages);
      assert.ok(r.latency_us!.p50 > 0);
    });
  }

  it('counts broadcasts delivered to every subscriber', async () => {
    const r = await runGenerator(bin, {
      port: portOf(echo),
      path: '/fanout',
      mode: 'fanout',
      connections: 20,
      size: 64,
      duration: 0.5,
    });
    assert.ok(r.rounds! > 0);
    assert.equal(r.messages, r.rounds! * 20);
  });

  it('counts bursts of broadcasts: a round ends when every subscriber has every message of it', async () => {
    const r = await runGenerator(bin, {
      port: portOf(echo),
      path: '/fanout',
      mode: 'fanout',
      connections: 20,
      inflight: 8,
      size: 64,
      duration: 0.5,
    });
    assert.ok(r.rounds! > 0);
    assert.equal(r.messages, r.rounds! * 20 * 8);
    assert.equal(r.verified, r.messages, 'every delivery was verified');
  });

  for (const serverNoContextTakeover of [false, true]) {
    it(`inflates and verifies compressed echoes and broadcasts (server_no_context_takeover: ${serverNoContextTakeover})`, async () => {
      const wss = await listen(
        (ws, path) => {
          ws.on('message', (data, isBinary) => {
            if (path === '/fanout') wss.broadcast(data as Buffer, { binary: isBinary, except: ws });
            else ws.send(data as Buffer, { binary: isBinary });
          });
        },
        { threshold: 0, serverNoContextTakeover },
      );
      try {
        const echoed = await runGenerator(bin, {
          port: portOf(wss),
          mode: 'echo',
          connections: 2,
          inflight: 4,
          size: 4096,
          payload: 'json',
          deflate: true,
          duration: 0.5,
        });
        assert.ok(echoed.messages! > 0);
        assert.equal(echoed.verified, echoed.messages);
        const broadcast = await runGenerator(bin, {
          port: portOf(wss),
          path: '/fanout',
          mode: 'fanout',
          connections: 10,
          size: 1024,
          payload: 'json',
          deflate: true,
          duration: 0.3,
        });
        assert.equal(broadcast.messages, broadcast.rounds! * 10);
      } finally {
        await shutdown(wss);
      }
    });
  }

  it('reports a clear error when no server listens on the port', async () => {
    const probe = net.createServer().listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const port = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    await assert.rejects(
      runGenerator(bin, { port, mode: 'echo', connections: 1, duration: 0.5 }),
      (error: unknown) =>
        error instanceof GeneratorError &&
        error.message.includes(`cannot connect to 127.0.0.1:${port}: Connection refused`),
    );
  });

  it('fails when an echo differs from the message sent', async () => {
    const corrupt = await listen((ws) => {
      ws.on('message', (data) => {
        const copy = Buffer.from(data as Buffer);
        copy[copy.length - 1]! ^= 1;
        ws.send(copy, { binary: true });
      });
    });
    try {
      await assert.rejects(
        runGenerator(bin, { port: portOf(corrupt), mode: 'echo', connections: 1, size: 100, duration: 0.5 }),
        /the echoed message differs from the one sent/,
      );
    } finally {
      await shutdown(corrupt);
    }
  });

  it('fails when an echo is shorter than the message sent', async () => {
    const truncating = await listen((ws) => {
      ws.on('message', (data) => ws.send((data as Buffer).subarray(0, -1), { binary: true }));
    });
    try {
      await assert.rejects(
        runGenerator(bin, {
          port: portOf(truncating),
          mode: 'echo',
          connections: 1,
          size: 100,
          duration: 0.5,
        }),
        /echoed message has 99 bytes, sent 100/,
      );
    } finally {
      await shutdown(truncating);
    }
  });
});
