// The hooks in a DOM (happy-dom) with React Testing Library, against a real RealtimeServer and
// client: connection state, channel messages both ways, presence, and cleanup on unmount.
import './register-dom.js';

import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { GlobalRegistrator } from '@happy-dom/global-registrator';
import { RealtimeClient } from '@ieum/realtime/client';
import { RealtimeServer } from '@ieum/realtime/server';
import { WebSocket } from '@ieum/websocket';
import { act, cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { createElement, useState } from 'react';
import { RealtimeProvider, useChannel, useConnectionState, usePresence } from '../src/index.js';

interface RoomEvents {
  channels: { room: { say: string } };
}

function Room() {
  const state = useConnectionState();
  const [lines, setLines] = useState<string[]>([]);
  const { channel } = useChannel<RoomEvents, 'room'>('room', (m) => setLines((l) => [...l, m.data]));
  const users = usePresence('room');
  return createElement(
    'div',
    null,
    createElement('p', null, `state: ${state}`),
    createElement('p', null, `lines: ${lines.join(',')}`),
    createElement('p', null, `users: ${users.join(',')}`),
    createElement(
      'button',
      { type: 'button', onClick: () => void channel.publish('say', 'from react') },
      'say',
    ),
  );
}

/** Two rooms, or one: the second unmounts while the first keeps the channel. */
function Two(props: { both: boolean }) {
  return createElement('div', null, createElement(Room), props.both ? createElement(Room) : null);
}

describe('@ieum/react hooks', () => {
  let rt: RealtimeServer;
  let url: string;
  const clients: RealtimeClient[] = [];

  before(async () => {
    rt = new RealtimeServer({
      port: 0,
      host: '127.0.0.1',
      authenticate: ({ token }) => ({ user: token ?? 'nobody' }),
    });
    await new Promise<void>((r) => rt.once('listening', r));
    url = `ws://127.0.0.1:${(rt.address() as AddressInfo).port}/realtime`;
  });

  after(async () => {
    cleanup();
    for (const c of clients) c.close();
    await rt.close();
    await GlobalRegistrator.unregister();
  });

  const client = (user: string) => {
    const c = new RealtimeClient(url, {
      WebSocket,
      token: user,
      reconnect: { initialDelayMs: 50, maxDelayMs: 200 },
    });
    clients.push(c);
    return c;
  };

  it('shows the connection state, channel messages both ways and who is present', {
    timeout: 20_000,
  }, async () => {
    const ann = client('ann');
    const view = render(createElement(RealtimeProvider, { client: ann }, createElement(Room)));
    await screen.findByText('state: open');
    await screen.findByText('users: ann');

    await rt.publish('room', 'say', 'hello');
    await screen.findByText('lines: hello');
    await act(async () => {
      fireEvent.click(screen.getByText('say'));
    });
    await screen.findByText('lines: hello,from react');

    const bob = client('bob');
    await bob.channel('room').subscribe();
    await screen.findByText('users: ann,bob');
    bob.close();
    await screen.findByText('users: ann');

    // Unmounted: the channel is unsubscribed, so ann leaves the room's presence.
    view.unmount();
    await waitFor(async () => assert.deepEqual(await rt.presence('room'), []), { timeout: 5000 });
    ann.close();
    await waitFor(() => assert.equal(ann.state, 'closed'));
  });

  it('keeps a channel subscribed while any component uses it', { timeout: 20_000 }, async () => {
    const cy = client('cy');
    const view = render(createElement(RealtimeProvider, { client: cy }, createElement(Two, { both: true })));
    await waitFor(() => assert.equal(screen.getAllByText('users: cy').length, 2));
    view.rerender(createElement(RealtimeProvider, { client: cy }, createElement(Two, { both: false })));
    await rt.publish('room', 'say', 'still here');
    await screen.findByText(/still here/);
    assert.deepEqual(await rt.presence('room'), [{ user: 'cy' }]);
    view.unmount();
    await waitFor(async () => assert.deepEqual(await rt.presence('room'), []), { timeout: 5000 });
  });
});
