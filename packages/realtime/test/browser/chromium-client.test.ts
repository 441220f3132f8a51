// The realtime client in Chromium (playwright-core) against the server: bundled for the browser
// by esbuild (which fails on any Node built-in), subscribing, recovering after the server kills its
// connection, publishing, requests, and the MessagePack codec.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { build } from 'esbuild';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../../../../scripts/chromium.js';
import { RealtimeServer } from '../../src/server/index.js';

const clientEntry = new URL('../../src/client/index.ts', import.meta.url).pathname;

describe('realtime client in Chromium', () => {
  let browser: Browser;
  let page: Page;
  let httpServer: http.Server;
  let rt: RealtimeServer;
  let base: string;

  before(async () => {
    const bundle = await build({
      entryPoints: [clientEntry],
      bundle: true,
      format: 'esm',
      platform: 'browser',
      write: false,
      logLevel: 'silent',
    });
    const js = bundle.outputFiles[0]!.text;
    httpServer = http.createServer((req, res) => {
      if (req.url === '/client.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(js);
      else
        res
          .writeHead(200, { 'content-type': 'text/html' })
          .end('<!doctype html><title>ieum realtime</title>');
    });
    rt = new RealtimeServer({ server: httpServer, heartbeatIntervalMs: 1000 });
    rt.handle('upper', (s: string) => s.toUpperCase());
    await new Promise<void>((r) => httpServer.listen(0, '127.0.0.1', r));
    base = `127.0.0.1:${(httpServer.address() as AddressInfo).port}`;
    browser = await launchChromium();
    page = await browser.newPage();
    await page.goto(`http://${base}/`);
  });

  after(async () => {
    await browser?.close();
    await rt?.close();
    await new Promise<void>((r) => httpServer.close(() => r()));
  });

  it('has no Node code in the client bundle', async () => {
    const result = await build({
      entryPoints: [clientEntry],
      bundle: true,
      platform: 'browser',
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile.inputs);
    assert.ok(
      inputs.every((f) => !f.startsWith('node:') && !f.includes('/server/')),
      inputs.join('\n'),
    );
  });

  it('subscribes, recovers the messages published while its connection was dead, publishes and requests', async () => {
    await page.evaluate(async (url) => {
      const { RealtimeClient } = await import('/client.js' as string);
      const w = globalThis as unknown as Record<string, unknown>;
      const got: Array<{ offset: number; data: unknown }> = [];
      const states: string[] = [];
      const client = new RealtimeClient(url, { reconnect: { initialDelayMs: 200, maxDelayMs: 400 } });
      client.on('state', (s: string) => states.push(s));
      const room = client.channel('room');
      room.on('message', (m: { offset: number; data: unknown }) =>
        got.push({ offset: m.offset, data: m.data }),
      );
      await room.subscribe();
      Object.assign(w, { client, room, got, states });
    }, `ws://${base}/realtime`);
    for (let i = 1; i <= 5; i++) await rt.publish('room', 'n', i);
    await page.waitForFunction(() => (globalThis as unknown as { got: unknown[] }).got.length === 5);

    // Kill the browser's connection and publish while it is down.
    const [conn] = [...rt.connections.values()];
    conn!.ws.terminate();
    for (let i = 6; i <= 10; i++) await rt.publish('room', 'n', i);
    await page.waitForFunction(() => (globalThis as unknown as { got: unknown[] }).got.length >= 10, null, {
      timeout: 10_000,
    });
    const state = await page.evaluate(() => {
      const w = globalThis as unknown as { got: Array<{ offset: number; data: unknown }>; states: string[] };
      return { got: w.got, states: w.states };
    });
    assert.deepEqual(
      state.got.map((m) => m.offset),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    );
    assert.deepEqual(
      state.got.map((m) => m.data),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    );
    assert.ok(
      state.states.includes('reconnecting') && state.states.at(-1) === 'open',
      state.states.join(','),
    );

    const out = await page.evaluate(async () => {
      const w = globalThis as unknown as {
        room: { publish(e: string, d: unknown): Promise<{ offset: number }> };
        client: { request(e: string, d: unknown): Promise<string> };
      };
      const ack = await w.room.publish('n', 'from the browser');
      return { offset: ack.offset, upper: await w.client.request('upper', 'shout') };
    });
    assert.deepEqual(out, { offset: 11, upper: 'SHOUT' });
  });

  it('speaks MessagePack with binary payloads', async () => {
    const bytes = await page.evaluate(async (url) => {
      const { RealtimeClient, msgpackCodec } = await import('/client.js' as string);
      const client = new RealtimeClient(url, { codec: msgpackCodec });
      const ch = client.channel('bin');
      const got = new Promise<Uint8Array>((r) => ch.on('message', (m: { data: Uint8Array }) => r(m.data)));
      await ch.subscribe();
      await ch.publish('blob', new Uint8Array([0, 1, 2, 255]));
      const data = await got;
      client.close();
      return Array.from(data);
    }, `ws://${base}/realtime`);
    assert.deepEqual(bytes, [0, 1, 2, 255]);
  });
});
