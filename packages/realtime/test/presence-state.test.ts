// Presence state per connection (cursors, selections, status): set by the client, coalesced to
// the latest value, bounded by maxPresenceStateBytes, listed by members(), gone with its connection.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { ClientMessage, PresenceUpdate, RequestError, ServerMessage } from '../src/client/index.js';
import { TabRelay } from '../src/client/tab-relay.js';
import { client, startServer, until } from './helpers.js';

describe('presence state', { timeout: 20_000 }, () => {
  const cleanup: Array<() => unknown> = [];
  after(async () => {
    for (const f of cleanup.reverse()) await f();
  });

  async function setup(options: { maxPresenceStateBytes?: number } = {}) {
    const { server, url } = await startServer({
      authenticate: ({ token }) => ({ user: token! }),
      ...options,
    });
    cleanup.push(() => server.close());
    const open = (token: string) => {
      const c = client(url, { token });
      cleanup.push(() => c.close());
      return c;
    };
    return { server, url, open };
  }

  it('reaches members as update events, per connection, and members() lists it', async () => {
    const { open } = await setup();
    const bob = open('bob');
    const tab1 = open('alice');
    const tab2 = open('alice');
    const updates: PresenceUpdate[] = [];
    const b = bob.channel('doc', { presence: true });
    b.on('update', (u) => updates.push(u));
    await b.subscribe();
    const a1 = tab1.channel('doc');
    const a2 = tab2.channel('doc');
    await a1.subscribe();
    await a2.subscribe();
    await a1.updatePresence({ cursor: 3 });
    await a2.updatePresence({ cursor: 9 });
    await until(() => b.states.size === 2, 5000, 'both tabs of alice seen');
    assert.deepEqual(
      new Set([...b.states.values()].map((s) => JSON.stringify(s))),
      new Set([
        JSON.stringify({ user: 'alice', state: { cursor: 3 } }),
        JSON.stringify({ user: 'alice', state: { cursor: 9 } }),
      ]),
    );
    const members = await b.members();
    const alice = members.find((m) => m.user === 'alice');
    assert.deepEqual(
      Object.values(alice?.states ?? {}).sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y))),
      [{ cursor: 3 }, { cursor: 9 }],
    );
    // One tab closes: its cursor goes, alice stays.
    const tab1Id = tab1.sessionId!;
    tab1.close();
    await until(() => !b.states.has(tab1Id), 5000, 'the closed tab state removed');
    assert.ok(b.present.has('alice'), 'alice is still present through her other tab');
    assert.ok(
      updates.some((u) => u.connection === tab1Id && !('state' in u)),
      'an update without state says the connection left',
    );
    tab2.close();
    await until(() => !b.present.has('alice'), 5000, 'alice left');
    assert.equal(b.states.size, 0, "a user's leave clears its states");
  });

  it('coalesces rapid updates to the latest value: a member gets the newest, not a backlog', async () => {
    const { open } = await setup();
    const bob = open('bob');
    const alice = open('alice');
    const b = bob.channel('doc', { presence: true });
    const seen: unknown[] = [];
    b.on('update', (u) => {
      if (u.user === 'alice') seen.push(u.state);
    });
    await b.subscribe();
    const a = alice.channel('doc');
    await a.subscribe();
    // 150 at once: with hello and sub, under the default rateLimit burst (200), which closes
    // a connection that sends more at once with 4429 (the client does not coalesce updates).
    const sent = 150;
    await Promise.all(Array.from({ length: sent }, (_, i) => a.updatePresence({ cursor: i })));
    await until(
      () => JSON.stringify(seen.at(-1)) === JSON.stringify({ cursor: sent - 1 }),
      5000,
      'the newest state',
    );
    assert.ok(seen.length < sent / 4, `${seen.length} updates delivered for ${sent} sent`);
    assert.deepEqual(b.states.get(alice.sessionId!), { user: 'alice', state: { cursor: sent - 1 } });
  });

  it('refuses a state past maxPresenceStateBytes and keeps the previous one', async () => {
    const { open } = await setup({ maxPresenceStateBytes: 100 });
    const bob = open('bob');
    const alice = open('alice');
    const b = bob.channel('doc', { presence: true });
    await b.subscribe();
    const a = alice.channel('doc');
    await a.subscribe();
    await a.updatePresence({ cursor: 1 });
    await assert.rejects(
      a.updatePresence({ text: 'x'.repeat(200) }),
      (e: RequestError) =>
        e.code === 'presence-state-too-large' && e.message.includes('maxPresenceStateBytes'),
    );
    const members = await b.members();
    assert.deepEqual(Object.values(members.find((m) => m.user === 'alice')?.states ?? {}), [{ cursor: 1 }]);
  });

  it('refuses presence state in a channel the connection has not subscribed to', async () => {
    const { open } = await setup();
    const alice = open('alice');
    await assert.rejects(
      alice.channel('elsewhere').updatePresence({ cursor: 1 }),
      (e: RequestError) => e.code === 'not-subscribed',
    );
  });

  it('sets the state again after a reconnect (the server forgot it with the connection)', async () => {
    const { server, open } = await setup();
    const bob = open('bob');
    const alice = open('alice');
    const b = bob.channel('doc', { presence: true });
    await b.subscribe();
    const a = alice.channel('doc');
    await a.subscribe();
    await a.updatePresence({ cursor: 5 });
    const first = alice.sessionId!;
    await until(() => b.states.has(first), 5000, 'first state');
    for (const c of server.connections.values()) if (c.id === first) c.close(1012, 'restart');
    await until(
      () => alice.sessionId !== first && b.states.get(alice.sessionId!) !== undefined,
      5000,
      'state again',
    );
    assert.deepEqual(b.states.get(alice.sessionId!)?.state, { cursor: 5 });
    await until(() => !b.states.has(first), 5000, 'the old connection state gone');
  });

  it("a shared connection forwards a tab's presence state and routes the reply back to it", () => {
    const sent: ClientMessage[] = [];
    const delivered: Array<[string | undefined, ServerMessage]> = [];
    const relay = new TabRelay(
      (m) => sent.push(m),
      (tab, m) => delivered.push([tab, m]),
      'leader',
    );
    relay.fromTab('tab-b', { t: 'presence', id: 7, ch: 'doc', d: { cursor: 1 } });
    const out = sent[0];
    assert.ok(out?.t === 'presence');
    assert.deepEqual(out.d, { cursor: 1 });
    relay.fromServer({ t: 'res', id: out.id, ok: true, d: null });
    assert.deepEqual(delivered, [['tab-b', { t: 'res', id: 7, ok: true, d: null }]]);
  });
});
