// Interop with a real browser: Debian's Chromium, driven by playwright-core, against our server.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../../../../scripts/chromium.js';
import { type WebSocket as IeumSocket, WebSocketServer } from '../../src/index.js';
import { waitFor } from '../helpers/net.js';

describe('Chromium client against the ieum server', () => {
  let browser: Browser;
  let page: Page;
  let server: http.Server;
  let wss: WebSocketServer;
  let base: string;
  const serverSockets: IeumSocket[] = [];

  before(async () => {
    server = http.createServer((_req, res) => res.end('<!doctype html><title>ieum</title>'));
    wss = new WebSocketServer({ server });
    wss.on('connection', (ws, req) => {
      serverSockets.push(ws);
      const mode = new URL(req.url ?? '/', 'http://x').searchParams.get('mode');
      ws.on('message', (data, isBinary) => {
        const s = isBinary ? '' : data.toString();
        if (s === 'close-4001') ws.close(4001, 'server chose');
        else if (s === 'terminate') ws.terminate();
        else if (s === 'fragments') {
          ws.send('frag', { fin: false });
          ws.send('men', { fin: false });
          ws.send('ted');
        } else if (s === 'ping') ws.ping(Buffer.from('from server'));
        else ws.send(data, { binary: isBinary });
      });
      ws.on('pong', (d) => ws.send(`pong:${d.toString()}`));
      if (mode === 'hello') ws.send('hello');
    });
    server.listen(0, '127.0.0.1');
    await waitFor(server, 'listening');
    base = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await launchChromium();
    page = await browser.newPage();
    // tsx (esbuild keepNames) wraps named functions in __name(); give the page a no-op one.
    await page.addInitScript({ content: 'globalThis.__name = (f) => f;' });
    await page.goto(`http://${base}/`);
  });

  after(async () => {
    await browser?.close();
    for (const ws of serverSockets) ws.terminate();
    wss?.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('echoes empty, 125, 126, 65535, 65536 and 4 MiB messages, text and binary', async () => {
    const sizes = [0, 125, 126, 65535, 65536, 4 * 1024 * 1024];
    const result = await page.evaluate(
      async ({ url, sizes }) => {
        const ws = new WebSocket(url);
        ws.binaryType = 'arraybuffer';
        await new Promise((resolve, reject) => {
          ws.onopen = resolve;
          ws.onerror = reject;
        });
        const next = () =>
          new Promise<MessageEvent>((resolve) => {
            ws.onmessage = resolve;
          });
        const out: string[] = [];
        for (const n of sizes) {
          const bytes = new Uint8Array(n);
          for (let i = 0; i < n; i++) bytes[i] = (i * 7 + n) & 255;
          ws.send(bytes);
          const b = (await next()).data as ArrayBuffer;
          const back = new Uint8Array(b);
          let same = back.length === n;
          for (let i = 0; same && i < n; i++) same = back[i] === bytes[i];
          const text = 'é한😀'.repeat(Math.floor(n / 9)) + 'x'.repeat(n % 9);
          ws.send(text);
          const t = (await next()).data;
          out.push(`${n}:${same}:${t === text}`);
        }
        ws.close(1000);
        return out;
      },
      { url: `ws://${base}/`, sizes },
    );
    assert.deepEqual(
      result,
      sizes.map((n) => `${n}:true:true`),
    );
  });

  it('receives a message the server sends in fragments, and answers server pings', async () => {
    const result = await page.evaluate(async (url) => {
      const ws = new WebSocket(url);
      await new Promise((r) => (ws.onopen = r));
      const next = () => new Promise<string>((resolve) => (ws.onmessage = (e) => resolve(e.data)));
      ws.send('fragments');
      const a = await next();
      ws.send('ping');
      const b = await next();
      ws.close();
      return [a, b];
    }, `ws://${base}/`);
    assert.deepEqual(result, ['fragmented', 'pong:from server']);
  });

  it('closes cleanly with the code and reason either side chose', async () => {
    const serverClosed = new Promise<[number, string]>((resolve) => {
      wss.once('connection', (ws) => ws.once('close', (code, reason) => resolve([code, reason.toString()])));
    });
    const browserSide = await page.evaluate(async (url) => {
      const ws = new WebSocket(url);
      await new Promise((r) => (ws.onopen = r));
      const closed = new Promise<string>(
        (r) => (ws.onclose = (e) => r(`${e.code}:${e.reason}:${e.wasClean}`)),
      );
      ws.close(4000, 'browser chose');
      return closed;
    }, `ws://${base}/`);
    assert.equal(browserSide, '4000:browser chose:true');
    assert.deepEqual(await serverClosed, [4000, 'browser chose']);

    const byServer = await page.evaluate(async (url) => {
      const ws = new WebSocket(url);
      await new Promise((r) => (ws.onopen = r));
      const closed = new Promise<string>(
        (r) => (ws.onclose = (e) => r(`${e.code}:${e.reason}:${e.wasClean}`)),
      );
      ws.send('close-4001');
      return closed;
    }, `ws://${base}/`);
    assert.equal(byServer, '4001:server chose:true');
  });

  it('sees 1006 when the server drops the connection', async () => {
    const result = await page.evaluate(async (url) => {
      const ws = new WebSocket(url);
      await new Promise((r) => (ws.onopen = r));
      const closed = new Promise<string>((r) => (ws.onclose = (e) => r(`${e.code}:${e.wasClean}`)));
      ws.send('terminate');
      return closed;
    }, `ws://${base}/`);
    assert.equal(result, '1006:false');
  });

  it('negotiates permessage-deflate with Chromium (client_max_window_bits offer) and echoes through it', async () => {
    const compressed = new WebSocketServer({
      port: 0,
      host: '127.0.0.1',
      perMessageDeflate: { threshold: 0 },
    });
    await waitFor(compressed, 'listening');
    compressed.on('connection', (ws) => ws.on('message', (d, b) => ws.send(d, { binary: b })));
    const url = `ws://127.0.0.1:${(compressed.address() as AddressInfo).port}/`;
    const result = await page.evaluate(async (u) => {
      const ws = new WebSocket(u);
      ws.binaryType = 'arraybuffer';
      await new Promise((r) => {
        ws.onopen = r;
      });
      const next = () =>
        new Promise<MessageEvent>((resolve) => {
          ws.onmessage = resolve;
        });
      const text = 'compress me '.repeat(100_000);
      ws.send(text);
      const echoed = (await next()).data === text;
      const bytes = new Uint8Array(300_000).map((_, i) => i % 251);
      ws.send(bytes);
      const back = new Uint8Array((await next()).data as ArrayBuffer);
      const same = back.length === bytes.length && back.every((x, i) => x === bytes[i]);
      ws.close();
      return { extensions: ws.extensions, echoed, same };
    }, url);
    assert.match(result.extensions, /^permessage-deflate/);
    assert.equal(result.echoed, true);
    assert.equal(result.same, true);
    for (const c of compressed.clients) c.terminate();
    await new Promise<void>((r) => compressed.close(() => r()));
  });
});
