// The attackers' process: runs the selected attacks at once against the server on `port` until
// the deadline, then reports what each achieved over IPC and exits. Kept out of the test runner's
// process so that its own work does not show up in the bystander's round-trip times.
import type { AttackReport } from './attack.js';
import { attacks } from './attacks/index.js';
import { createRng } from './rng.js';

export interface AttackerConfig {
  port: number;
  path: string;
  seed: number;
  durationMs: number;
  /** Names of the attacks to run (see `attacks`). */
  only: string[];
}

export type AttackerMessage =
  | { type: 'started'; at: number }
  | { type: 'report'; results: Array<{ name: string; item: number; what: string; report: AttackReport }> };

const send = (m: AttackerMessage) => process.send!(m);
const controller = new AbortController();
process.on('disconnect', () => process.exit(0));
process.on('message', (m: { type: 'stop' }) => {
  if (m.type === 'stop') controller.abort();
});

process.once('message', async (config: AttackerConfig) => {
  const rng = createRng(config.seed);
  const deadline = Date.now() + config.durationMs;
  const selected = attacks.filter((a) => config.only.includes(a.name));
  send({ type: 'started', at: Date.now() });
  const results = await Promise.all(
    selected.map(async (a) => {
      const ctx = {
        port: config.port,
        path: config.path,
        rng: rng.fork(a.name),
        deadline,
        signal: controller.signal,
      };
      let report: AttackReport;
      try {
        report = await a.run(ctx);
      } catch (error) {
        report = { crashed: (error as Error).stack ?? String(error) };
      }
      return { name: a.name, item: a.item, what: a.what, report };
    }),
  );
  send({ type: 'report', results });
  process.disconnect();
});
