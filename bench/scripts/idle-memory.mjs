// Memory per idle connection, ieum vs ws, same options: `node bench/scripts/idle-memory.mjs [N]`
// (after `npm run build` and one `npm run bench` so bench/node_modules exists). Env: NCT=1 for
// no context takeover both ways, IDLE_WAIT=ms to wait before measuring (default 500).
import { fork } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(new URL('../package.json', import.meta.url));
const WS = require('ws');
const N = Number(process.argv[2] ?? 2000);
async function measure(kind, deflate) {
  const child = fork(
    new URL('./idle-memory-server.mjs', import.meta.url).pathname,
    [kind, deflate ? 'deflate' : 'plain', process.env.NCT ? 'nct' : ''],
    { execArgv: ['--expose-gc'] },
  );
  const ask = () =>
    new Promise((r) => {
      child.once('message', r);
      child.send('rss');
    });
  const { port } = await new Promise((r) => child.once('message', r));
  const before = (await ask()).rss;
  const socks = [];
  for (let i = 0; i < N; i += 100) {
    await Promise.all(
      Array.from(
        { length: 100 },
        () =>
          new Promise((res, rej) => {
            const c = new WS(`ws://127.0.0.1:${port}`, {
              perMessageDeflate: deflate ? { threshold: 0 } : false,
            });
            c.on('open', () => {
              // One compressed message each way, so both sides' zlib contexts exist (then idle).
              c.send('x'.repeat(200));
              c.once('message', () => res());
            });
            c.on('error', rej);
            socks.push(c);
          }),
      ),
    );
  }
  await new Promise((r) => setTimeout(r, Number(process.env.IDLE_WAIT ?? 500)));
  const after = await ask();
  for (const c of socks) c.terminate();
  child.kill();
  return ((after.rss - before) / N).toFixed(1);
}
const rows = [];
for (const deflate of process.env.NCT ? [true] : [false, true])
  for (const round of [1, 2])
    for (const kind of ['ieum', 'ws'])
      rows.push({ kind, deflate, round, kibPerConn: await measure(kind, deflate) });
console.log(JSON.stringify(rows));
