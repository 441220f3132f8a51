#!/usr/bin/env node
// Runs the WebSocket tests and both conformance suites on other Node.js major versions, so a
// change in Node (e.g. the zlib internal the synchronous permessage-deflate path uses) shows at
// once. Each version comes from the `node` package on the npm registry (it installs the official
// binary for this platform), cached per major version.
//
//   node scripts/test-node-versions.mjs [--versions 22,24] [--cache DIR] [-- test file filters]
//
// Defaults: versions 22 and 24 (CI's own `npm test` covers the Node.js that runs it, 20), cache
// in node_modules/.cache/ieum-node-versions (IEUM_NODE_CACHE overrides), filters
// `packages/websocket conformance`. On versions other than the first, the permessage-deflate
// conformance file runs a representative subset (IEUM_DEFLATE_CONFORMANCE=subset) to keep CI
// short; pass --full-deflate to run every case everywhere.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
let versions = ['22', '24'];
let cache = process.env.IEUM_NODE_CACHE || join(root, 'node_modules/.cache/ieum-node-versions');
let fullDeflate = false;
let filters = [];
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--versions') versions = (args[++i] ?? '').split(',').filter(Boolean);
  else if (a === '--cache') cache = args[++i] ?? cache;
  else if (a === '--full-deflate') fullDeflate = true;
  else if (a === '--') {
    filters = args.slice(i + 1);
    break;
  } else {
    console.error(
      `unknown argument ${a}\nusage: node scripts/test-node-versions.mjs [--versions 22,24] [--cache DIR] [--full-deflate] [-- filters]`,
    );
    process.exit(2);
  }
}
if (filters.length === 0) filters = ['packages/websocket', 'conformance'];
if (versions.length === 0 || versions.some((v) => !/^\d+$/.test(v))) {
  console.error('--versions takes major versions, e.g. --versions 22,24');
  process.exit(2);
}

/** The `node` binary of major version `major`, installed from npm into the cache if needed. */
function nodeBinary(major) {
  const dir = join(cache, major);
  const bin = join(dir, 'node_modules/node/bin/node');
  const installed = () => {
    if (!existsSync(bin)) return false;
    const r = spawnSync(bin, ['--version'], { encoding: 'utf8' });
    return r.status === 0 && r.stdout.startsWith(`v${major}.`);
  };
  if (!installed()) {
    mkdirSync(dir, { recursive: true });
    console.log(`ieum: installing Node.js ${major} from npm (node@${major}) into ${dir}`);
    // The `node` package's preinstall script fetches the platform's binary package from npm.
    const r = spawnSync(
      'npm',
      [
        'install',
        '--prefix',
        dir,
        '--no-save',
        '--no-package-lock',
        '--no-audit',
        '--no-fund',
        `node@${major}`,
      ],
      { stdio: 'inherit' },
    );
    if (r.status !== 0 || !installed()) {
      console.error(`ieum: could not install Node.js ${major} from npm (npm install node@${major} failed)`);
      process.exit(1);
    }
  }
  return bin;
}

const failed = [];
for (const [index, major] of versions.entries()) {
  const bin = nodeBinary(major);
  const version = spawnSync(bin, ['--version'], { encoding: 'utf8' }).stdout.trim();
  const subset = !fullDeflate && index > 0;
  console.log(
    `\nieum: tests on Node.js ${version}: ${filters.join(' ')}${subset ? ' (permessage-deflate conformance: subset)' : ''}`,
  );
  const started = Date.now();
  const r = spawnSync(bin, [join(root, 'scripts/test.mjs'), ...filters], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, ...(subset ? { IEUM_DEFLATE_CONFORMANCE: 'subset' } : {}) },
  });
  console.log(
    `ieum: Node.js ${version}: ${r.status === 0 ? 'passed' : 'FAILED'} in ${Math.round((Date.now() - started) / 1000)} s`,
  );
  if (r.status !== 0) failed.push(version);
}
if (failed.length > 0) {
  console.error(`ieum: tests failed on Node.js ${failed.join(', ')}`);
  process.exit(1);
}
