// Child of idle-breakdown.mjs: runs bench/servers/<kind>.mjs and answers measurement requests.
import { readFileSync } from 'node:fs';
import v8 from 'node:v8';

const kind = process.argv[2];
process.argv.length = 2;
await import(new URL(`../servers/${kind}.mjs`, import.meta.url).href);

const settle = () => new Promise((r) => setTimeout(r, 100));
process.on('message', async ({ cmd, file }) => {
  global.gc();
  global.gc();
  await settle();
  global.gc();
  if (cmd === 'snapshot') {
    v8.writeHeapSnapshot(file);
    process.send({ file });
    return;
  }
  const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
  const spaces = {};
  for (const space of v8.getHeapSpaceStatistics()) spaces[space.space_name] = space.space_size;
  process.send({ rss, ...process.memoryUsage(), spaces });
});
