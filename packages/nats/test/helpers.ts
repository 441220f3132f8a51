// Test helpers: the NATS under test (NATS_URL or the local default; a failure in CI, a clear skip
// otherwise), unique prefixes with cleanup, and a nats-server of a test's own.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'nats';

export const natsUrl = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
export const NATS_SERVER = process.env.NATS_SERVER ?? '/usr/sbin/nats-server';

/**
 * The NATS URL when a JetStream-enabled server answers there. Otherwise throws in CI (CI=true: a
 * missing service is a failure) and returns undefined elsewhere, after saying why tests skip.
 */
export async function requireNats(): Promise<string | undefined> {
  try {
    const nc = await connect({ servers: natsUrl, timeout: 2000, maxReconnectAttempts: 0 });
    try {
      if (!nc.info?.jetstream) throw new Error('JetStream is not enabled (start nats-server with -js)');
      await (await nc.jetstreamManager()).getAccountInfo();
    } finally {
      await nc.close();
    }
    return natsUrl;
  } catch (error) {
    const why = `NATS JetStream not reachable at ${natsUrl}: start nats-server -js or set NATS_URL (${(error as Error).message})`;
    if (process.env.CI === 'true') throw new Error(why);
    console.log(`skipping: ${why}`);
    return undefined;
  }
}

/** A prefix no other run uses (stream names, subjects, the presence bucket). */
export function testPrefix(name: string): string {
  return `t${name}${process.pid}${randomBytes(3).toString('hex')}`.slice(0, 32);
}

/** Deletes every stream (channels and the presence bucket) under `prefix`. */
export async function deleteStreams(servers: string, prefix: string): Promise<number> {
  const nc = await connect({ servers, maxReconnectAttempts: 0 });
  let deleted = 0;
  try {
    const jsm = await nc.jetstreamManager();
    const names: string[] = [];
    for await (const name of jsm.streams.names()) {
      if (name.startsWith(`${prefix}_`) || name === `KV_${prefix}_presence`) names.push(name);
    }
    for (const name of names) if (await jsm.streams.delete(name).catch(() => false)) deleted++;
  } finally {
    await nc.close();
  }
  return deleted;
}

/** A local port free right now (for a server that must come back on the same port). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** A nats-server of a test's own (never the shared one), with JetStream storing in a temporary directory. */
export interface OwnNats {
  readonly url: string;
  readonly dir: string;
  /** SIGKILL (a crash) and wait until it is gone. */
  kill(): Promise<void>;
  /** Starts it again on the same port and store directory. */
  start(): Promise<void>;
  /** Kills it and removes its directory. */
  stop(): Promise<void>;
  log(): string;
}

export async function ownNats(): Promise<OwnNats> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'ieum-nats-'));
  let child: ChildProcess | undefined;
  let log = '';
  const start = async () => {
    const c = spawn(NATS_SERVER, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = c;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        c.kill('SIGKILL');
        reject(new Error(`nats-server did not start on port ${port}:\n${log}`));
      }, 10_000);
      c.once('error', (error) => {
        clearTimeout(timer);
        reject(new Error(`cannot run ${NATS_SERVER}: ${error.message} (set NATS_SERVER)`));
      });
      c.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`nats-server exited (${code}) on port ${port}:\n${log}`));
      });
      const onData = (chunk: Buffer) => {
        log = (log + chunk.toString()).slice(-20_000);
        if (log.includes('Server is ready')) {
          clearTimeout(timer);
          resolve();
        }
      };
      c.stdout!.on('data', onData);
      c.stderr!.on('data', onData);
    });
  };
  const orphaned = () => child?.kill('SIGKILL');
  process.once('exit', orphaned);
  const kill = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await exited;
  };
  await start();
  return {
    url: `nats://127.0.0.1:${port}`,
    dir,
    kill,
    start: async () => {
      log = '';
      await start();
    },
    log: () => log,
    async stop() {
      process.off('exit', orphaned);
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
