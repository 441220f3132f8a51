// `ieum realtime` end to end: the CLI as child processes against a RealtimeServer in this process.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { MemoryAdapter, RealtimeServer } from '@ieum/realtime/server';
import { ieum } from './run-ieum.js';

describe('ieum realtime', { timeout: 60_000 }, () => {
  let rt: RealtimeServer;
  let url = '';
  before(async () => {
    rt = new RealtimeServer({
      port: 0,
      host: '127.0.0.1',
      authenticate: ({ token }) => {
        if (token !== 'alice' && token !== 'bob') throw new Error('unknown user');
        return { user: token };
      },
      authorizeChannel: ({ channel }) => channel.startsWith('room:'),
    });
    await new Promise<void>((resolve) => rt.once('listening', resolve));
    // No path: the CLI adds the server's default /realtime.
    url = `ws://127.0.0.1:${(rt.address() as AddressInfo).port}`;
  });
  after(() => rt.close());

  it('tails a channel while another process publishes stdin lines (JSON or text) and exits once acknowledged', async () => {
    const tail = ieum(['realtime', url, '-c', 'room:a', '--token', 'alice', '--jsonl']);
    await tail.waitFor(/subscribed to room:a/);
    const pub = ieum(['realtime', url, '-c', 'room:a', '--token', 'bob', '--publish', 'line'], {
      input: '{"text":"hi"}\nplain words\n',
    });
    assert.equal(await pub.exited, 0, pub.output());
    assert.match(pub.stdout(), /room:a published #1\n.*room:a published #2\n/);
    await tail.waitFor(/"offset":2/);
    const messages = tail
      .stdout()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((e) => e.type === 'message');
    assert.deepEqual(
      messages.map((m) => [m.channel, m.event, m.data, m.offset]),
      [
        ['room:a', 'line', { text: 'hi' }, 1],
        ['room:a', 'line', 'plain words', 2],
      ],
    );
    tail.child.kill('SIGINT');
    assert.equal(await tail.exited, 0);
  });

  it('--since recovers the messages after a position', async () => {
    const pub = ieum(['realtime', url, '-c', 'room:b', '--token', 'bob', '--publish'], {
      input: 'one\ntwo\nthree\n',
    });
    assert.equal(await pub.exited, 0, pub.output());
    const { epoch } = await rt.adapter.position('room:b');
    const tail = ieum(['realtime', url, '-c', 'room:b', '--token', 'alice', '--since', `${epoch}:1`]);
    await tail.waitFor(/room:b #3 message "three"/);
    assert.match(tail.stderr(), /missed messages recovered/);
    assert.doesNotMatch(tail.stdout(), /"one"/);
    assert.match(tail.stdout(), /room:b #2 message "two"/);
    tail.child.kill('SIGINT');
    await tail.exited;
  });

  it('--presence lists who is there and shows joins and leaves; --members prints them and exits', async () => {
    const watch = ieum(['realtime', url, '-c', 'room:p', '--token', 'alice', '--presence']);
    await watch.waitFor(/room:p present: alice/);
    const bob = ieum(['realtime', url, '-c', 'room:p', '--token', 'bob', '--presence']);
    await watch.waitFor(/room:p \+ bob joined/);
    const members = ieum(['realtime', url, '-c', 'room:p', '--token', 'bob', '--members']);
    assert.equal(await members.exited, 0, members.output());
    assert.match(members.stdout(), /room:p present: (alice, bob|bob, alice)/);
    bob.child.kill('SIGINT');
    await watch.waitFor(/room:p - bob left/);
    assert.doesNotMatch(watch.output(), /\+ alice joined/, 'a user listed as present is not announced again');
    watch.child.kill('SIGINT');
    await Promise.all([bob.exited, watch.exited]);
  });

  it('a tail survives a server restart and recovers what was published while it was away', async () => {
    // One adapter outlives both servers, as Redis would: history survives the restart.
    const adapter = new MemoryAdapter();
    const options = { host: '127.0.0.1', adapter, authenticate: () => ({ user: 'u' }) };
    const first = new RealtimeServer({ port: 0, ...options });
    await new Promise<void>((resolve) => first.once('listening', resolve));
    const port = (first.address() as AddressInfo).port;
    const restartUrl = `ws://127.0.0.1:${port}`;
    const tail = ieum(['realtime', restartUrl, '-c', 'room:r']);
    await tail.waitFor(/subscribed to room:r/);
    await first.close();
    await tail.waitFor(/disconnected \(\d+.*\); reconnecting/);
    // Published while the tail is away, straight into the shared history.
    await adapter.publish('room:r', { ev: 'line', d: 'missed while away' });
    const second = new RealtimeServer({ port, ...options });
    await new Promise<void>((resolve) => second.once('listening', resolve));
    await tail.waitFor(/room:r #1 line "missed while away"/);
    assert.match(tail.stderr(), /missed messages recovered/);
    tail.child.kill('SIGINT');
    assert.equal(await tail.exited, 0);
    await second.close();
  });

  for (const [what, args, message] of <Array<[string, readonly string[], RegExp]>>[
    ['a refused token', ['-c', 'room:a', '--token', 'mallory'], /the server closed the connection: 4\d\d\d/],
    [
      'a forbidden channel',
      ['-c', 'secret', '--token', 'alice'],
      /secret: may not subscribe to "secret" \(forbidden\)/,
    ],
    [
      'a bad --since',
      ['-c', 'room:a', '--since', 'nope'],
      /--since nope: write the position as EPOCH:OFFSET/,
    ],
    ['a closed port', ['-c', 'room:a', '--url-override'], /cannot connect to .*connection refused/],
  ]) {
    it(`exits 1 with one line for ${what}`, async () => {
      const target = args.includes('--url-override') ? 'ws://127.0.0.1:9' : url;
      const run = ieum(['realtime', target, ...args.filter((a) => a !== '--url-override')]);
      assert.equal(await run.exited, 1, run.output());
      assert.match(run.stderr(), message);
      assert.doesNotMatch(run.output(), /\n\s+at /);
    });
  }
});
