#!/usr/bin/env node
// Makes `npm start` and `npm test` work on a fresh clone: installs npm dependencies when they
// are missing, and (for tests, as root on Debian) the Chromium used by the browser tests.
import { execSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const root = new URL('..', import.meta.url).pathname;
const run = (cmd) => execSync(cmd, { cwd: root, stdio: 'inherit' });

if (!existsSync(`${root}node_modules/.package-lock.json`) || !existsSync(`${root}node_modules/tsx`)) {
  console.log('ieum: installing npm dependencies (npm ci)…');
  run('npm ci --no-audit --no-fund');
}

// Debian packages the tests drive: Chromium (browser tests) and nginx (multi-process test).
const packages = [
  ['/usr/bin/chromium', 'chromium', 'the browser tests'],
  ['/usr/sbin/nginx', 'nginx-light', 'the multi-process test behind nginx'],
].filter(([path]) => !existsSync(path));
if (process.argv.includes('--browser') && packages.length > 0) {
  const names = packages.map(([, name]) => name).join(' ');
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (isRoot && existsSync('/usr/bin/apt-get')) {
    console.log(`ieum: installing Debian packages for the tests (apt-get install -y ${names})…`);
    run(`apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${names}`);
  } else {
    for (const [path, name, why] of packages) {
      console.error(`ieum: ${why} need ${path}. Install it (Debian: sudo apt-get install -y ${name}).`);
    }
  }
}
