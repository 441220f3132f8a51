// Item 2: unauthenticated HTTP-fallback floods. Sessions are opened and never say hello; large
// bodies are POSTed to them (and go on after the server closed them); `/open` is hammered too.
// Nothing may be stored for such a session, and `/open` must be limited.
import http from 'node:http';
import { type Attack, type AttackContext, type AttackReport, count, every } from '../attack.js';

/** Body of each `send`: one line, just under the default `maxBodyBytes` (1 MiB). */
const BODY_BYTES = 1_040_000;
/** `send` requests in flight at once, each loop sending at most one every SEND_EVERY_MS. */
const SEND_CONCURRENCY = 2;
const SEND_EVERY_MS = 20;
/** Milliseconds between `/open` requests (~50/s). */
const OPEN_EVERY_MS = 20;

function post(
  agent: http.Agent,
  ctx: AttackContext,
  path: string,
  body: Buffer | undefined,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve) => {
    const req = http.request(
      {
        agent,
        host: '127.0.0.1',
        port: ctx.port,
        method: 'POST',
        path,
        headers: { 'content-type': 'text/plain', 'content-length': body?.length ?? 0 },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.length < 4 && chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
        res.on('error', () => resolve({ status: -1, text: '' }));
      },
    );
    req.setTimeout(10_000, () => req.destroy());
    req.on('error', () => resolve({ status: -1, text: '' }));
    req.end(body);
  });
}

export const fallbackFlood: Attack = {
  name: 'fallback',
  item: 2,
  what: '~1 MiB POSTs to <path>/http/send (up to 100/s) for sessions that never said hello; /open at ~50/s',
  async run(ctx) {
    const report: AttackReport = {};
    const agent = new http.Agent({ keepAlive: true, maxSockets: SEND_CONCURRENCY + 2 });
    const base = `${ctx.path}/http`;
    const line = JSON.stringify({ t: 'pub', id: 1, ch: 'spam', ev: 'e', d: '', mid: 'm' });
    const body = Buffer.from(line.replace('"d":""', `"d":"${ctx.rng.text(BODY_BYTES - line.length)}"`));
    const tokens: string[] = [];

    const open = async () => {
      const r = await post(agent, ctx, `${base}/open`, undefined);
      count(report, `open ${r.status}`);
      if (r.status === 200) {
        const s = (JSON.parse(r.text) as { s: string }).s;
        if (tokens.length < 64) tokens.push(s);
        else tokens[ctx.rng.int(tokens.length)] = s;
      }
    };
    const sendLoop = () =>
      every(ctx, SEND_EVERY_MS, async () => {
        if (tokens.length === 0) return open();
        const token = tokens[ctx.rng.int(tokens.length)]!;
        const r = await post(agent, ctx, `${base}/send?s=${token}`, body);
        count(report, `send ${r.status}`);
        if (r.status === 204) count(report, 'MiB accepted', body.length / 1048576);
      });
    await Promise.all([
      every(ctx, OPEN_EVERY_MS, open),
      ...Array.from({ length: SEND_CONCURRENCY }, sendLoop),
    ]);
    agent.destroy();
    report['MiB accepted'] = Math.round((report['MiB accepted'] as number | undefined) ?? 0);
    return report;
  },
};
