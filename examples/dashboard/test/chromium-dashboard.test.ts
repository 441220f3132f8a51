// The dashboard page in Chromium with bot traffic running: live rates and channels show, the
// frame inspector tails a channel, and once the traffic pauses the totals on the page equal the
// server's Prometheus endpoint, number for number.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DisconnectCode } from '@ieum/realtime/server';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../../../scripts/chromium.js';
import { startDashboardDemo } from '../server.js';

const TOKEN = 'dashboard-test-token-0123';

async function scrape(url: string): Promise<Map<string, number>> {
  const values = new Map<string, number>();
  for (const line of (await (await fetch(url)).text()).split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const i = line.lastIndexOf(' ');
    values.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return values;
}

const sumOf = (m: Map<string, number>, prefix: string) =>
  [...m].filter(([k]) => k.startsWith(prefix)).reduce((n, [, v]) => n + v, 0);

/** The page's numbers from Prometheus' point of view. */
function expected(m: Map<string, number>) {
  return {
    messagesIn: m.get('ieum_messages_received_total') ?? -1,
    messagesOut: m.get('ieum_messages_sent_total') ?? -1,
    bytesIn: m.get('ieum_bytes_received_total') ?? -1,
    bytesOut: m.get('ieum_bytes_sent_total') ?? -1,
    opened: m.get('ieum_connections_opened_total') ?? -1,
    disconnects: sumOf(m, 'ieum_disconnects_total'),
    dropped: m.get('ieum_outbound_dropped_total') ?? -1,
    recovered: m.get('ieum_recoveries_total{outcome="recovered"}') ?? 0,
    reset: m.get('ieum_recoveries_total{outcome="reset"}') ?? 0,
    slowConsumerDisconnects: m.get('ieum_disconnects_total{code="4409"}') ?? 0,
    connections: m.get('ieum_connections') ?? -1,
    queued: m.get('ieum_outbound_queued_messages') ?? -1,
  };
}

/** Waits (polling, bounded by the test's timeout) until `selector`'s number passes `test`. */
async function until(page: Page, selector: string, test: (n: number) => boolean, attribute?: string) {
  for (;;) {
    const el = page.locator(selector);
    const text = attribute ? await el.getAttribute(attribute) : await el.textContent();
    if (text !== null && test(Number(text.replaceAll(',', '')))) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function shown(page: Page): Promise<Record<string, number>> {
  const values: Record<string, number> = {};
  for (const el of await page.locator('[data-total]').all()) {
    values[(await el.getAttribute('data-total'))!] = Number(
      ((await el.textContent()) ?? '').replaceAll(',', ''),
    );
  }
  return values;
}

describe('dashboard page in Chromium with traffic', { timeout: 90_000 }, () => {
  let browser: Browser;
  let demo: Awaited<ReturnType<typeof startDashboardDemo>>;
  let page: Page;
  const errors: string[] = [];

  before(async () => {
    demo = await startDashboardDemo({ port: 0, token: TOKEN, bounceEveryMs: 0 });
    browser = await launchChromium();
    page = await browser.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`http://127.0.0.1:${demo.port}/dashboard/#token=${TOKEN}`);
  });
  after(async () => {
    await browser?.close();
    await demo?.close();
  });

  it('shows live rates, channels and a tailed channel, then totals equal to /metrics', async () => {
    // Live: a sample with messages flowing, the bots' rooms in the channel table.
    await until(page, '[data-kpi="messagesIn"]', (n) => n > 0);
    await page.waitForSelector('#channels td >> text=demo:lobby');
    // One bot loses its connection: it comes back and recovers its room.
    const listener = [...demo.rt.connections.values()].find((c) => c.user === 'lobby-listener-0')!;
    listener.close(DisconnectCode.SERVICE_RESTART, 'test: reconnect');
    await until(page, '[data-total="recovered"]', (n) => n >= 1);
    // The inspector tails a channel: published messages appear.
    await page.fill('#tail input[name=target]', 'demo:lobby');
    await page.click('#tail button[type=submit]');
    await page.waitForSelector('#frames tr.pub >> text=in lobby');

    demo.traffic!.pause();
    let attempts = 0;
    for (;;) {
      // Quiet: two scrapes a little apart agree; the next sample after them is compared.
      let metrics = await scrape(`http://127.0.0.1:${demo.port}/metrics`);
      for (let i = 0; i < 20; i++) {
        await new Promise((r) => setTimeout(r, 300));
        const again = await scrape(`http://127.0.0.1:${demo.port}/metrics`);
        const same = JSON.stringify(expected(again)) === JSON.stringify(expected(metrics));
        metrics = again;
        if (same) break;
      }
      const since = Date.now();
      await until(page, 'body', (at) => at > since, 'data-sample-at');
      const onPage = await shown(page);
      const after = expected(await scrape(`http://127.0.0.1:${demo.port}/metrics`));
      // A heartbeat ping between the scrapes and the sample moves the counters: measure again.
      if (JSON.stringify(after) !== JSON.stringify(expected(metrics)) && ++attempts < 3) continue;
      assert.deepEqual(onPage, after);
      assert.ok(after.messagesIn > 0 && after.messagesOut > after.messagesIn && after.recovered >= 1);
      break;
    }
    assert.deepEqual(errors, []);
  });
});
