// A benchmark server of several processes sharing one port (node:cluster; the primary hands each
// new connection to the next worker in turn), for the scenarios "through Redis, 3 processes".
// The primary announces the port once every worker listens, and stops them when the runner
// stops it. Workers inherit the primary's CPU pinning.
import cluster from 'node:cluster';
import { announce } from './control.mjs';

/**
 * In the primary: forks `workers` copies of this script (with `env`), announces their shared port
 * and returns false. In a worker: returns true (the caller starts its server on port 0).
 */
export function clustered(workers, env = {}) {
  if (!cluster.isPrimary) {
    process.on('disconnect', () => process.exit(0));
    return true;
  }
  let listening = 0;
  const stop = () => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.kill();
    process.exit(0);
  };
  cluster.on('listening', (_worker, address) => {
    if (++listening === workers) announce({ port: address.port });
  });
  cluster.on('exit', (worker, code, signal) => {
    process.stderr.write(`worker ${worker.process.pid} exited (${signal ?? code})\n`);
    process.exit(1);
  });
  process.on('SIGTERM', stop);
  process.stdin.on('end', stop);
  for (let i = 0; i < workers; i++) cluster.fork(env);
  return false;
}
