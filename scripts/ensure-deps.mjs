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
    console.log(`ieum: installing Debian packages for the tests (apt-get install ${names})…`);
    try {
      // Quiet unless it fails; no recommended extras (Chromium would pull in dozens).
      execSync(`apt-get update -qq && apt-get install -y -qq --no-install-recommends ${names}`, {
        cwd: root,
        env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
        stdio: 'pipe',
      });
    } catch (error) {
      process.stderr.write(error.stdout ?? '');
      process.stderr.write(error.stderr ?? '');
      console.error(`ieum: apt-get install ${names} failed (above); install them and run the tests again.`);
      process.exit(1);
    }
  } else {
    for (const [path, name, why] of packages) {
      console.error(
        `ieum: ${why} need ${path}. Install it (Debian: sudo apt-get install -y --no-install-recommends ${name}).`,
      );
    }
  }
}
