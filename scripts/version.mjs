#!/usr/bin/env node
// Sets one version on every package of the repository and on their dependencies on each other,
// so the packages are always released together: `node scripts/version.mjs 0.3.0`.
// Without an argument it checks that they agree and exits 1 if they do not.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const manifests = ['packages', 'examples'].flatMap((dir) =>
  readdirSync(join(root, dir), { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => join(root, dir, entry.name, 'package.json'))
    .filter((path) => {
      try {
        readFileSync(path);
        return true;
      } catch {
        return false;
      }
    }),
);
const read = (path) => JSON.parse(readFileSync(path, 'utf8'));
const ours = new Set(manifests.map((path) => read(path).name));
const wanted = process.argv[2];
if (wanted !== undefined && !/^\d+\.\d+\.\d+(-[\w.]+)?$/.test(wanted)) {
  console.error(`version: "${wanted}" is not a version like 1.2.3 or 1.2.3-beta.1`);
  process.exit(2);
}
const problems = [];
const expected = wanted ?? read(join(root, 'packages/websocket/package.json')).version;
for (const path of manifests) {
  const manifest = read(path);
  const where = path.slice(root.length);
  if (wanted !== undefined) manifest.version = wanted;
  else if (manifest.version !== expected)
    problems.push(`${where}: version ${manifest.version}, not ${expected}`);
  for (const field of ['dependencies', 'peerDependencies', 'devDependencies']) {
    for (const name of Object.keys(manifest[field] ?? {})) {
      if (!ours.has(name)) continue;
      if (wanted !== undefined) manifest[field][name] = wanted;
      else if (manifest[field][name] !== expected)
        problems.push(`${where}: ${field}.${name} is ${manifest[field][name]}, not ${expected}`);
    }
  }
  if (wanted !== undefined) writeFileSync(path, `${JSON.stringify(manifest, null, 2)}\n`);
}
if (problems.length > 0) {
  console.error(`packages disagree on the version (set it with node scripts/version.mjs ${expected}):`);
  for (const p of problems) console.error(`  ${p}`);
  process.exit(1);
}
console.log(
  wanted
    ? `every package is now at ${wanted}; run npm install to update the lock file`
    : `every package is at ${expected}`,
);
