#!/usr/bin/env node
// Runs every *.test.ts under packages/*/test, conformance/test and examples/*/test with node's
// test runner (TypeScript through tsx). Extra arguments filter files by substring.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const roots = ['packages', 'conformance', 'examples', 'bench', 'test']
  .map((d) => join(root, d))
  .filter(existsSync);
const files = [];
const walk = (dir) => {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist') continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith('.test.ts') && p.includes('/test/')) files.push(relative(root, p));
  }
};
roots.forEach(walk);
const filters = process.argv.slice(2);
const selected = filters.length ? files.filter((f) => filters.some((x) => f.includes(x))) : files;
if (selected.length === 0) {
  console.error(`no test files match ${filters.join(' ')}`);
  process.exit(1);
}
// The reporter prints a line per file and hides passing tests' own output; set
// IEUM_TEST_REPORTER=spec (or tap) for node's reporters, IEUM_TEST_VERBOSE=1 to see all output.
const reporter = process.env.IEUM_TEST_REPORTER ?? join(root, 'scripts/test-reporter.mjs');
console.log(`running ${selected.length} test files${filters.length ? ` matching ${filters.join(' ')}` : ''}`);
const r = spawnSync(
  process.execPath,
  [
    '--conditions=ieum-source',
    '--import',
    'tsx',
    '--test',
    '--test-concurrency=1',
    `--test-reporter=${reporter}`,
    '--test-reporter-destination=stdout',
    ...selected,
  ],
  {
    cwd: root,
    stdio: 'inherit',
  },
);
process.exit(r.status ?? 1);
