// What every attacker of the hostile-peers run shares: its context, its report and pacing.
import { WebSocket } from '@ieum/websocket';
import type { Rng } from './rng.js';

export interface AttackContext {
  /** Port of the realtime server under attack (loopback). */
  port: number;
  /** Its realtime path. */
  path: string;
  /** This attacker's own seeded generator. */
  rng: Rng;
  /** `Date.now()` at which every attacker stops. */
  deadline: number;
  /** Aborted when the run is cut short (the server died). */
  signal: AbortSignal;
}

/** What an attacker achieved: counters (and a few strings) printed in the run's report. */
export type AttackReport = Record<string, number | string>;

export interface Attack {
  /** Short name, also the key of `HOSTILE_ATTACKS`. */
  name: string;
  /** Item of issue 13 it reproduces. */
  item: number;
  /** One line: what it does. */
  what: string;
  run(ctx: AttackContext): Promise<AttackReport>;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export const running = (ctx: AttackContext) => Date.now() < ctx.deadline && !ctx.signal.aborted;

/**
 * Calls `tick` every `ms` (plus up to 20% jitter), one at a time, until the deadline or until
 * `alive` turns false.
 */
export async function every(
  ctx: AttackContext,
  ms: number,
  tick: () => void | Promise<void>,
  alive: () => boolean = () => true,
): Promise<void> {
  while (running(ctx) && alive()) {
    const started = Date.now();
    await tick();
    const wait = ms * (1 + ctx.rng.next() * 0.2) - (Date.now() - started);
    if (wait > 0) await sleep(Math.min(wait, Math.max(0, ctx.deadline - Date.now())));
  }
}

/** Adds one to `report[key]`. */
export function count(report: AttackReport, key: string, n = 1): void {
  report[key] = ((report[key] as number | undefined) ?? 0) + n;
}

/**
 * A realtime connection over `@ieum/websocket` speaking the JSON protocol by hand (no client
 * library queues or retries in the way): resolves once `welcome` arrived. `replies` gets every
 * `res`, `closed` the close code.
 */
export async function protocolClient(
  ctx: AttackContext,
  options: {
    token?: string;
    cid: string;
    onReply?: (m: { id: number; ok: boolean; err?: { code: string } }) => void;
  },
): Promise<{ ws: WebSocket; closed: Promise<number> }> {
  const ws = new WebSocket(`ws://127.0.0.1:${ctx.port}${ctx.path}`, 'ieum.v1.json');
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  ws.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('close', (code) => reject(new Error(`closed ${code} before open`)));
  });
  const welcome = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no welcome within 10 s')), 10_000);
    ws.once('close', (code) => {
      clearTimeout(timer);
      reject(new Error(`closed ${code} before welcome`));
    });
    ws.on('message', (data) => {
      const m = JSON.parse(String(data)) as { t: string; id: number; ok: boolean; err?: { code: string } };
      if (m.t === 'welcome') {
        clearTimeout(timer);
        resolve();
      } else if (m.t === 'res') options.onReply?.(m);
    });
  });
  ws.send(
    JSON.stringify({
      t: 'hello',
      v: 1,
      cid: options.cid,
      ...(options.token ? { token: options.token } : {}),
    }),
  );
  await welcome;
  return { ws, closed };
}
