// `ieum bench` end to end against the independent ws echo server, and its histogram.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { WebSocketServer as WsServer } from 'ws';
import { waitFor } from '../../websocket/test/helpers/net.js';
import { Histogram } from '../src/lib/histogram.js';
import { ieum } from './run-ieum.js';

async function echoServer(onConnection?: (ws: import('ws').WebSocket) => void) {
  const server = new WsServer({ port: 0, host: '127.0.0.1', perMessageDeflate: true });
  await waitFor(server, 'listening');
  const sizes = new Set<number>();
  const kinds = new Set<boolean>();
  server.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => {
      sizes.add((data as Buffer).length);
      kinds.add(isBinary);
      ws.send(data, { binary: isBinary });
    });
    onConnection?.(ws);
  });
  return { server, sizes, kinds, url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

interface BenchJson {
  opened: number;
  sent: number;
  received: number;
  messagesPerSecond: number;
  latencyMs: Record<'min' | 'p50' | 'p90' | 'p99' | 'p999' | 'max', number>;
  errors: { connectFailed: number; closedEarly: number; closeCodes: number[] };
  clientCpu: number;
}

describe('ieum bench', { timeout: 60_000 }, () => {
  it('keeps messages in flight on every connection and reports throughput and ordered percentiles', async () => {
    const s = await echoServer();
    const run = ieum(['bench', s.url, '-c', '4', '-i', '2', '--size', '100', '-d', '1s', '--json']);
    assert.equal(await run.exited, 0, run.output());
    const r = JSON.parse(run.stdout()) as BenchJson;
    assert.equal(r.opened, 4);
    assert.ok(r.received > 0, 'some round trips completed');
    assert.ok(r.sent >= r.received);
    const l = r.latencyMs;
    assert.ok(
      l.min <= l.p50 && l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.p999 && l.p999 <= l.max,
      JSON.stringify(l),
    );
    assert.deepEqual(r.errors, { connectFailed: 0, closedEarly: 0, closeCodes: [], firstConnectError: null });
    assert.deepEqual([...s.sizes], [100]);
    assert.deepEqual([...s.kinds], [true]);
    s.server.close();
  });

  it('splits the connections over --workers threads and merges their counts and histograms', async () => {
    const s = await echoServer();
    const run = ieum(['bench', s.url, '-c', '5', '-w', '2', '-d', '1s', '--json']);
    assert.equal(await run.exited, 0, run.output());
    const r = JSON.parse(run.stdout()) as BenchJson & { workers: number };
    assert.equal(r.workers, 2);
    assert.equal(r.opened, 5);
    assert.ok(r.received > 0 && r.sent >= r.received);
    assert.ok(r.latencyMs.p50 <= r.latencyMs.max);
    s.server.close();
  });

  it('sends text messages at a --rate, with deflate, and prints a readable report', async () => {
    const s = await echoServer();
    const run = ieum([
      'bench',
      s.url,
      '-c',
      '2',
      '--rate',
      '200',
      '--payload',
      'text',
      '--deflate',
      '-d',
      '1s',
    ]);
    assert.equal(await run.exited, 0, run.output());
    assert.match(run.stdout(), /2 connections, 200 msg\/s, 64 B text, deflate/);
    assert.match(run.stdout(), /latency ms {2}min [\d.]+ {2}p50 [\d.]+ {2}p90 [\d.]+ {2}p99 [\d.]+/);
    assert.match(run.stdout(), /errors {6}none/);
    assert.deepEqual([...s.kinds], [false]);
    s.server.close();
  });

  it('exits 3 and counts connections the server closed during the run', async () => {
    let n = 0;
    const s = await echoServer((ws) => {
      if (n++ === 0) setTimeout(() => ws.close(1011, 'overloaded'), 100);
    });
    const run = ieum(['bench', s.url, '-c', '2', '-d', '1s', '--json']);
    assert.equal(await run.exited, 3, run.output());
    const r = JSON.parse(run.stdout()) as BenchJson;
    assert.equal(r.errors.closedEarly, 1);
    assert.deepEqual(r.errors.closeCodes, [1011]);
    s.server.close();
  });

  it('exits 1 with one line when nothing accepts the connections', async () => {
    const s = await echoServer();
    const url = s.url;
    await new Promise<void>((r) => s.server.close(() => r()));
    const run = ieum(['bench', url, '-d', '1s']);
    assert.equal(await run.exited, 1);
    assert.match(run.stderr(), /^ieum: cannot connect to .*connection refused/);
    assert.doesNotMatch(run.output(), /\n\s+at /);
  });

  it('refuses nonsense options with what is expected', async () => {
    for (const [args, message] of [
      [['--size', 'huge'], /positive number of bytes, e.g. 512, 4k or 1m/],
      [['-c', '0'], /positive whole number/],
      [['-d', 'forever'], /duration, e.g. 10s/],
    ] as const) {
      const run = ieum(['bench', 'ws://127.0.0.1:9', ...args]);
      assert.equal(await run.exited, 1, run.output());
      assert.match(run.stderr(), message);
    }
  });
});

describe('Histogram', () => {
  it('reports every percentile within 1.6 % of the exact value (seeded random data)', () => {
    let seed = Number(process.env.SEED ?? Date.now() % 100_000);
    const random = (): number => {
      // mulberry32
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const start = seed;
    const h = new Histogram();
    const values: number[] = [];
    for (let i = 0; i < 20_000; i++) {
      const v = Math.round(Math.exp(random() * 20)); // 1 µs to ~8 minutes, log-uniform
      values.push(v);
      h.record(v);
    }
    values.sort((a, b) => a - b);
    for (const p of [0, 1, 25, 50, 90, 99, 99.9, 100]) {
      const exact = values[Math.max(0, Math.ceil((p / 100) * values.length) - 1)]!;
      const got = h.percentile(p);
      assert.ok(got >= exact && got <= exact * 1.016 + 1, `seed ${start}: p${p} = ${got}, exact ${exact}`);
    }
    assert.equal(h.max, values.at(-1));
    assert.equal(h.min, values[0]);
  });

  it('merges counts as if every value had been recorded in one histogram', () => {
    const a = new Histogram();
    const b = new Histogram();
    const both = new Histogram();
    for (let v = 0; v < 5000; v += 7) {
      (v % 2 ? a : b).record(v);
      both.record(v);
    }
    a.merge(b);
    for (const p of [10, 50, 99]) assert.equal(a.percentile(p), both.percentile(p));
    assert.equal(a.count, both.count);
  });
});
