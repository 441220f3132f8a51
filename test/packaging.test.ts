// The packages as a user gets them: pack every workspace package (through its prepack script),
// install the tarballs into a fresh project outside the repository, and use them there from ES
// modules and CommonJS, under `tsc --strict` with moduleResolution node16 and bundler, through
// the CLI's bin, and bundled for the browser by esbuild and by Vite. publint and
// arethetypeswrong, written by others, check each package.json and its declarations.

import assert from 'node:assert/strict';
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

const root = new URL('..', import.meta.url).pathname;
const fixtures = join(root, 'test/fixtures/consumer');
const packages = readdirSync(join(root, 'packages')).filter((name) => {
  try {
    return !JSON.parse(readFileSync(join(root, 'packages', name, 'package.json'), 'utf8')).private;
  } catch {
    return false;
  }
});
const bin = (name: string) => join(root, 'node_modules/.bin', name);

function run(command: string, args: string[], cwd: string, timeoutMs = 240_000): SpawnSyncReturns<string> {
  const result = spawnSync(command, args, {
    cwd,
    encoding: 'utf8',
    timeout: timeoutMs,
    // The consumer must not see the repository's private source condition or its npm workspace.
    env: { ...process.env, NODE_OPTIONS: '', FORCE_COLOR: '0', NO_COLOR: '1' },
  });
  if (result.status !== 0) {
    assert.fail(
      `${command} ${args.join(' ')} (in ${cwd}) exited with ${result.status ?? result.signal}:\n${result.stdout}\n${result.stderr}`,
    );
  }
  return result;
}

describe('the packages as published', { timeout: 600_000 }, () => {
  const work = mkdtempSync(join(tmpdir(), 'ieum-packaging-'));
  const consumer = join(work, 'consumer');
  const tarballs = new Map<string, string>(); // package folder → tarball path

  before(async () => {
    for (const name of packages) {
      // Without --ignore-scripts: the prepack script must build what it ships.
      const packed = run('npm', ['pack', '--json', '--pack-destination', work], join(root, 'packages', name));
      const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as { filename: string }[];
      assert.ok(info, `npm pack printed no file for ${name}`);
      tarballs.set(name, join(work, info.filename));
    }
    mkdirSync(consumer);
    cpSync(fixtures, consumer, { recursive: true });
    const rootManifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    const dependencies = Object.fromEntries(
      packages.map((name) => {
        const manifest = JSON.parse(readFileSync(join(root, 'packages', name, 'package.json'), 'utf8'));
        return [manifest.name, `file:${tarballs.get(name)}`];
      }),
    );
    writeFileSync(
      join(consumer, 'package.json'),
      JSON.stringify({
        name: 'ieum-consumer',
        private: true,
        type: 'module',
        dependencies,
        devDependencies: { '@types/node': rootManifest.devDependencies['@types/node'] },
      }),
    );
    // Third-party dependencies come from the npm registry (or its local cache), as for a user.
    run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], consumer);
  });

  after(() => rmSync(work, { recursive: true, force: true }));

  it('ships built JavaScript, declarations, README and LICENSE, and no tests or build state', () => {
    for (const [name, tarball] of tarballs) {
      const files = run('tar', ['-tzf', tarball], work).stdout.split('\n').filter(Boolean);
      for (const required of ['package/package.json', 'package/README.md', 'package/LICENSE']) {
        assert.ok(files.includes(required), `${name}: ${required} missing from the tarball`);
      }
      assert.ok(
        files.some((f) => /^package\/dist\/.*\.js$/.test(f)),
        `${name}: no built JavaScript`,
      );
      assert.ok(
        files.some((f) => /^package\/dist\/.*\.d\.ts$/.test(f)),
        `${name}: no declarations`,
      );
      const stray = files.filter((f) => /\.tsbuildinfo$|\/test\/|\.test\.|node_modules/.test(f));
      assert.deepEqual(stray, [], `${name}: files a user should not get`);
    }
  });

  it('exposes no source-only export condition a bundler could pick', () => {
    for (const name of packages) {
      const manifest = readFileSync(join(consumer, 'node_modules/@ieum', name, 'package.json'), 'utf8');
      // Vite and webpack set "development" in dev mode; "ieum-source" is set by nobody but us.
      assert.doesNotMatch(manifest, /"development"\s*:/, `${name} exports a "development" condition`);
    }
  });

  it('passes publint and arethetypeswrong (node16 and bundler resolution)', () => {
    for (const [name, tarball] of tarballs) {
      run(bin('publint'), ['run', join(consumer, 'node_modules/@ieum', name), '--strict'], work);
      // ESM-only entries are fine: CommonJS consumers load them with require(esm) or import().
      run(bin('attw'), [tarball, '--profile', 'node16', '--ignore-rules', 'cjs-resolves-to-esm'], work);
    }
  });

  it('runs a WebSocket echo and a realtime round trip from an ES module', () => {
    const { stdout } = run(process.execPath, ['esm.mjs'], consumer, 30_000);
    assert.match(stdout, /websocket echo: echo me/);
    assert.match(stdout, /realtime round trip: say \{"text":"hi"\} at offset 1/);
    assert.match(stdout, /redis adapter: function/);
    assert.match(stdout, /nats adapter: function/);
  });

  it('runs from CommonJS: require() returns the ws-style WebSocket class', () => {
    const { stdout } = run(process.execPath, ['cjs.cjs'], consumer, 30_000);
    assert.match(stdout, /require echo: cjs:ping/);
    assert.match(stdout, /realtime from CommonJS: function/);
  });

  for (const [resolution, module] of [
    ['node16', 'node16'],
    ['bundler', 'esnext'],
  ] as const) {
    it(`type-checks a consumer under tsc --strict, moduleResolution ${resolution}`, () => {
      const config = {
        compilerOptions: {
          strict: true,
          noEmit: true,
          target: 'ES2022',
          module,
          moduleResolution: resolution,
          types: ['node'],
          lib: ['ES2022', 'DOM'],
        },
        files: resolution === 'node16' ? ['typed.ts', 'typed-cjs.cts'] : ['typed.ts'],
      };
      writeFileSync(join(consumer, `tsconfig.${resolution}.json`), JSON.stringify(config));
      run(bin('tsc'), ['-p', `tsconfig.${resolution}.json`], consumer);
    });
  }

  it('installs the ieum command, which answers --help', () => {
    const { stdout } = run(join(consumer, 'node_modules/.bin/ieum'), ['--help'], consumer, 30_000);
    assert.match(stdout, /echo/);
  });

  it('bundles the realtime client for the browser with esbuild, with no Node built-ins', async () => {
    const { build } = await import('esbuild');
    const result = await build({
      absWorkingDir: consumer,
      entryPoints: ['web/main.js'],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      logLevel: 'silent',
      metafile: true,
    });
    const inputs = Object.keys(result.metafile.inputs);
    assert.ok(
      inputs.some((path) => path.includes('node_modules/@ieum/realtime/dist/client/')),
      'bundle took the built client',
    );
    assert.deepEqual(
      inputs.filter((path) => path.includes('/src/')),
      [],
      'bundle must not reach TypeScript sources',
    );
    const code = result.outputFiles[0]?.text ?? '';
    assert.doesNotMatch(code, /from\s*["']node:/, 'browser bundle imports a Node built-in');
  });

  it('builds a browser app that uses the realtime client with Vite', () => {
    run(
      bin('vite'),
      ['build', 'web', '--outDir', '../vite-dist', '--emptyOutDir', '--logLevel', 'error'],
      consumer,
    );
    const assets = readdirSync(join(consumer, 'vite-dist/assets'));
    const js = assets.find((f) => f.endsWith('.js'));
    assert.ok(js, `Vite wrote no JavaScript: ${assets.join(', ')}`);
    assert.match(readFileSync(join(consumer, 'vite-dist/assets', js), 'utf8'), /realtime/);
  });
});
