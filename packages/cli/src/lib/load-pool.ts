import { Worker } from 'node:worker_threads';
import { Histogram } from './histogram.js';
import type { LoadCounters, LoadOptions } from './load-generator.js';
import type { WorkerReport } from './load-worker.js';

/** What `ieum bench` drives: one LoadGenerator in this thread, or a LoadPool of workers. */
export interface Load {
  connect(): Promise<void>;
  startMeasuring(): void;
  takeInterval(): LoadCounters | Promise<LoadCounters>;
  stop(): Promise<void>;
  readonly total: LoadCounters;
  readonly open: number;
  readonly connectFailures: number;
  readonly firstConnectError: string | undefined;
  readonly closedEarly: ReadonlyArray<{ code: number; reason: string }>;
}

function emptyCounters(): LoadCounters {
  return { sent: 0, received: 0, bytesSent: 0, bytesReceived: 0, skipped: 0, latency: new Histogram() };
}

function add(into: LoadCounters, c: LoadCounters): void {
  into.sent += c.sent;
  into.received += c.received;
  into.bytesSent += c.bytesSent;
  into.bytesReceived += c.bytesReceived;
  into.skipped += c.skipped;
  into.latency.merge(c.latency);
}

/** The worker's file: TypeScript when running from source (tsx, in this repository), else dist's JavaScript. */
const fromSource = import.meta.url.endsWith('.ts');
const workerFile = new URL(fromSource ? './load-worker.ts' : './load-worker.js', import.meta.url);

function startWorker(workerData: LoadOptions): Worker {
  if (!fromSource) return new Worker(workerFile, { workerData });
  // Node 20 workers do not run `--import tsx`: the worker registers tsx itself, then loads the file.
  const code = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(workerFile.href)}); })`;
  return new Worker(code, { eval: true, workerData });
}

/**
 * Splits the connections (and the rate) over `workers` threads, each a LoadGenerator, so the
 * load generator is not the bottleneck on a machine with cores to spare. Same surface as one
 * LoadGenerator; counters and histograms are merged here.
 */
export class LoadPool implements Load {
  readonly total = emptyCounters();
  private readonly workers: Worker[] = [];
  private readonly opens: number[] = [];
  private measuring = false;
  connectFailures = 0;
  firstConnectError: string | undefined;
  closedEarly: Array<{ code: number; reason: string }> = [];
  private pending: Array<(r: WorkerReport) => void>[] = [];

  constructor(
    private readonly options: LoadOptions,
    private readonly count: number,
  ) {}

  get open(): number {
    return this.opens.reduce((a, b) => a + b, 0);
  }

  private next(i: number): Promise<WorkerReport> {
    return new Promise((resolve) => this.pending[i]!.push(resolve));
  }

  async connect(): Promise<void> {
    const n = Math.min(this.count, this.options.connections);
    const reports: Promise<WorkerReport>[] = [];
    for (let i = 0; i < n; i++) {
      // Connections (and the rate) split as evenly as whole numbers allow.
      const share = Math.floor(this.options.connections / n) + (i < this.options.connections % n ? 1 : 0);
      const options: LoadOptions = {
        ...this.options,
        connections: share,
        rate:
          this.options.rate === undefined
            ? undefined
            : (this.options.rate * share) / this.options.connections,
      };
      const worker = startWorker(options);
      this.workers.push(worker);
      this.opens.push(0);
      this.pending.push([]);
      worker.on('message', (r: WorkerReport) => this.pending[i]!.shift()?.(r));
      worker.on('error', (error) => {
        this.firstConnectError ??= `bench worker failed: ${error.message}`;
        for (const resolve of this.pending[i]!.splice(0)) resolve({ type: 'stopped', closedEarly: [] });
      });
      reports.push(this.next(i));
    }
    for (const [i, r] of (await Promise.all(reports)).entries()) {
      if (r.type !== 'connected') continue;
      this.opens[i] = r.open;
      this.connectFailures += r.failures;
      this.firstConnectError ??= r.firstConnectError;
    }
  }

  startMeasuring(): void {
    this.measuring = true;
    for (const w of this.workers) w.postMessage('start');
  }

  private collect(reports: WorkerReport[]): LoadCounters {
    const c = emptyCounters();
    for (const [i, r] of reports.entries()) {
      if (r.type !== 'interval') continue;
      this.opens[i] = r.open;
      add(c, { ...r.counters, latency: Histogram.from(r.counters.latency) });
    }
    if (this.measuring) add(this.total, c);
    return c;
  }

  async takeInterval(): Promise<LoadCounters> {
    const reports = this.workers.map((w, i) => {
      const r = this.next(i);
      w.postMessage('tick');
      return r;
    });
    return this.collect(await Promise.all(reports));
  }

  async stop(): Promise<void> {
    const finals = this.workers.map(async (w, i) => {
      const interval = this.next(i);
      const stopped = this.next(i);
      w.postMessage('stop');
      return [await interval, await stopped] as const;
    });
    const done = await Promise.all(finals);
    this.collect(done.map(([interval]) => interval));
    this.measuring = false;
    for (const [, stopped] of done)
      if (stopped.type === 'stopped') this.closedEarly.push(...stopped.closedEarly);
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
