// Item 2: HTTP-fallback floods by clients that never authenticate. `/open` is hammered, half of
// the time with a body that is no hello; ~1 MiB POSTs of publishes go to the anonymous sessions
// that opened, to sessions the server closed and to session ids that never existed. Nothing may be
// stored for a session that is not authenticated, closed or unknown; bytes and rates per session
// are bounded, and so is `/open`.
import http from 'node:http';
import { type Attack, type AttackContext, type AttackReport, count, every } from '../attack.js';

/** Data per `send` POST: one publish, just under the default `maxBodyBytes` (1 MiB). */
const DATA_CHARS = 1_040_000;
/** `send` loops, each posting at most once every SEND_EVERY_MS (100 POSTs per second in all). */
const SEND_CONCURRENCY = 2;
const SEND_EVERY_MS = 20;
/** Milliseconds between `/open` requests (~50/s). */
const OPEN_EVERY_MS = 20;
/** Session ids the attacker keeps to post to. */
const MAX_TOKENS = 64;

function post(
  agent: http.Agent,
  ctx: AttackContext,
  path: string,
  body: string | Buffer,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve) => {
    const req = http.request(
      {
        agent,
        host: '127.0.0.1',
        port: ctx.port,
        method: 'POST',
        path,
        headers: { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) },
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
  what: '/open at ~50/s (half without a hello); ~1 MiB publish POSTs at up to 100/s to open, closed and unknown sessions',
  async run(ctx) {
    const report: AttackReport = {};
    const agent = new http.Agent({ keepAlive: true, maxSockets: SEND_CONCURRENCY + 2 });
    const base = `${ctx.path}/http`;
    const data = ctx.rng.text(DATA_CHARS);
    const tokens: string[] = [];
    let n = 0;

    const open = async () => {
      const i = n++;
      // Half of the opens carry a hello (an anonymous session), half a publish where the hello
      // should be: the server must not keep those.
      const body =
        i % 2 === 0
          ? JSON.stringify({ t: 'hello', v: 1, cid: `fallback-${i}` })
          : JSON.stringify({ t: 'pub', id: 1, ch: 'spam', ev: 'e', mid: `o${i}`, d: 'x' });
      const r = await post(agent, ctx, `${base}/open`, body);
      const answer = r.status === 200 ? (JSON.parse(r.text) as { s?: string; close?: { code: number } }) : {};
      count(report, `open ${r.status}${answer.close ? ` close ${answer.close.code}` : ''}`);
      // An old server answers an empty-bodied open too; keep what it gives.
      if (answer.s) {
        if (tokens.length < MAX_TOKENS) tokens.push(answer.s);
        else tokens[ctx.rng.int(tokens.length)] = answer.s;
      }
    };
    const send = async () => {
      // Mostly sessions that opened (some closed since); one in ten an id that never existed.
      const token =
        tokens.length === 0 || ctx.rng.int(10) === 0
          ? ctx.rng.bytes(24).toString('base64url')
          : tokens[ctx.rng.int(tokens.length)]!;
      const i = n++;
      const body = `{"t":"pub","id":${i},"ch":"fallback-${i % 16}","ev":"blob","mid":"s${i}","d":"${data}"}`;
      const r = await post(agent, ctx, `${base}/send?s=${token}`, body);
      count(report, `send ${r.status}`);
      if (r.status === 204) count(report, 'MiB accepted', body.length / 1048576);
    };
    await Promise.all([
      every(ctx, OPEN_EVERY_MS, open),
      ...Array.from({ length: SEND_CONCURRENCY }, () => every(ctx, SEND_EVERY_MS, send)),
    ]);
    agent.destroy();
    report['MiB accepted'] = Math.round((report['MiB accepted'] as number | undefined) ?? 0);
    return report;
  },
};
