// ws 8 compatibility: `require('@ieum/websocket')` returns the WebSocket class with ws's statics
// (regression: there was no CommonJS entry, and the ESM default export lacked the statics).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import WebSocketDefault, { createWebSocketStream, WebSocket, WebSocketServer } from '../../src/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const pkg = join(here, '../..');
const repo = join(pkg, '../..');

/** Builds dist/ as `npm run build` does, so the test checks the current sources. */
function build(): void {
  execFileSync(process.execPath, [join(repo, 'node_modules/typescript/bin/tsc'), '-b', pkg], { cwd: repo });
  execFileSync(process.execPath, [join(pkg, 'scripts/build-cjs.mjs')], { cwd: repo });
}

/** Runs the CommonJS fixture in a plain node process and returns what it printed. */
function runFixture(nodeFlags: string[]): Record<string, unknown> {
  const out = execFileSync(process.execPath, [...nodeFlags, join(here, 'fixtures/require-entry.cjs')], {
    cwd: repo,
    timeout: 20_000,
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  const line = out.toString().trim().split('\n').at(-1)!;
  return JSON.parse(line) as Record<string, unknown>;
}

describe('ws-compat: module shape', { timeout: 120_000 }, () => {
  it('the default export is the WebSocket class with Server, WebSocketServer, WebSocket and createWebSocketStream', () => {
    assert.equal(WebSocketDefault, WebSocket);
    assert.equal(WebSocketDefault.Server, WebSocketServer);
    assert.equal(WebSocketDefault.WebSocketServer, WebSocketServer);
    assert.equal(WebSocketDefault.WebSocket, WebSocket);
    assert.equal(WebSocketDefault.createWebSocketStream, createWebSocketStream);
  });

  it("require('@ieum/websocket') from a .cjs file returns the class and works, after the build", () => {
    build();
    const expected = {
      isClass: true,
      server: true,
      self: true,
      stream: true,
      closeCode: true,
      echo: 'hello',
    };
    const viaRequireEsm = runFixture([]);
    assert.deepEqual({ ...viaRequireEsm, bundle: undefined }, { ...expected, bundle: undefined });
    // Node versions without require(esm) load the CommonJS bundle instead.
    let flagSupported = true;
    try {
      execFileSync(process.execPath, ['--no-experimental-require-module', '-e', '0']);
    } catch {
      flagSupported = false;
    }
    if (flagSupported) {
      assert.deepEqual(runFixture(['--no-experimental-require-module']), { ...expected, bundle: true });
    }
  });

  it('CommonJS TypeScript code gets the typings ws users write against (WebSocket.Server, WebSocket.RawData, ...)', () => {
    build();
    const tsc = join(repo, 'node_modules/typescript/bin/tsc');
    // Throws with tsc's diagnostics on stdout when the fixture does not type-check.
    try {
      execFileSync(process.execPath, [tsc, '-p', join(here, 'fixtures')], { cwd: repo, timeout: 60_000 });
    } catch (error) {
      assert.fail(String((error as { stdout?: Buffer }).stdout ?? error));
    }
  });
});
