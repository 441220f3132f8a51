// Runs one share of `ieum bench`'s connections in a worker thread (see LoadPool). Messages from
// the pool: 'start' (start measuring), 'tick' (report the interval), 'stop' (close and report).
import { parentPort, workerData } from 'node:worker_threads';
import { type LoadCounters, LoadGenerator, type LoadOptions } from './load-generator.js';

/** What a worker reports; counters carry a histogram snapshot. */
export type WorkerReport =
  | { type: 'connected'; open: number; failures: number; firstConnectError: string | undefined }
  | { type: 'interval'; open: number; counters: ReturnType<typeof plain> }
  | { type: 'stopped'; closedEarly: Array<{ code: number; reason: string }> };

function plain(c: LoadCounters) {
  return { ...c, latency: c.latency.snapshot() };
}

const port = parentPort!;
const generator = new LoadGenerator(workerData as LoadOptions);
const post = (report: WorkerReport): void => port.postMessage(report);
port.on('message', (command: 'start' | 'tick' | 'stop') => {
  if (command === 'start') generator.startMeasuring();
  else if (command === 'tick')
    post({ type: 'interval', open: generator.open, counters: plain(generator.takeInterval()) });
  else {
    const last = generator.takeInterval();
    void generator.stop().then(() => {
      post({ type: 'interval', open: generator.open, counters: plain(last) });
      post({ type: 'stopped', closedEarly: generator.closedEarly });
      port.close();
    });
  }
});
await generator.connect();
post({
  type: 'connected',
  open: generator.open,
  failures: generator.connectFailures,
  firstConnectError: generator.firstConnectError,
});
