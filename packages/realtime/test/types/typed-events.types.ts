// Type-level tests, checked by `npm run typecheck` (tsconfig.test.json): every `@ts-expect-error`
// must be an error, so a wrong event name or payload that compiled would fail the typecheck.
// Nothing here runs.
import { WebSocket } from '@ieum/websocket';
import {
  type Channel,
  type ChannelMessage,
  RealtimeClient,
  type WebSocketConstructor,
} from '../../src/client/index.js';
import type { EventMapShape } from '../../src/codec/index.js';
import type { RealtimeServer } from '../../src/server/index.js';

interface ChatEvents {
  clientToServer: {
    'chat:send': (m: { text: string }) => { id: string };
    typing: (d: { on: boolean }) => void;
  };
  serverToClient: {
    confirm: (q: { question: string }) => boolean;
    notice: (text: string) => void;
  };
  channels: {
    [room: `room:${string}`]: { message: { text: string; from: string }; typing: { user: string } };
    lobby: { count: number };
  };
}

declare const url: string;
const assertType = <T>(value: T): T => value;

export function clientSide(): void {
  const client = new RealtimeClient<ChatEvents>(url);

  // requests: name, data and reply
  void client.request('chat:send', { text: 'hi' }).then((r) => assertType<{ id: string }>(r));
  // @ts-expect-error unknown event
  void client.request('chat:sned', { text: 'hi' });
  // @ts-expect-error wrong payload
  void client.request('chat:send', { txt: 'hi' });
  void client.request('chat:send', { text: 'hi' }).then((r) => {
    // @ts-expect-error the reply has no `ok`
    void r.ok;
  });

  client.emit('typing', { on: true });
  // @ts-expect-error wrong payload type
  client.emit('typing', { on: 'yes' });
  // @ts-expect-error a server → client event is not sent by the client
  client.emit('notice', 'x');

  // handlers of server → client events: data and reply checked
  client.handle('confirm', (q) => q.question.length > 0);
  // @ts-expect-error wrong reply type
  client.handle('confirm', () => 'yes');
  // @ts-expect-error unknown event
  client.handle('confrim', () => true);

  // channels: names (templates too) and payloads
  const room = client.channel('room:42');
  void room.publish('message', { text: 'hi', from: 'ann' });
  // @ts-expect-error wrong payload
  void room.publish('message', { text: 1, from: 'ann' });
  // @ts-expect-error unknown event on this channel
  void room.publish('count', 1);
  room.on('message', (m) => {
    if (m.event === 'typing') assertType<{ user: string }>(m.data);
    else assertType<{ text: string; from: string }>(m.data);
  });
  void client.channel('lobby').publish('count', 3);
  // @ts-expect-error a channel the map does not have
  client.channel('kitchen');
}

export function serverSide(rt: RealtimeServer<ChatEvents>): void {
  rt.handle('chat:send', (m, connection) => {
    // server → client events on the connection are typed too
    void connection.request('confirm', { question: 'sure?' }).then((ok) => assertType<boolean>(ok));
    // @ts-expect-error wrong payload
    connection.emit('notice', 42);
    return { id: m.text };
  });
  // @ts-expect-error wrong reply type
  rt.handle('chat:send', () => ({ id: 1 }));
  // @ts-expect-error unknown event
  rt.handle('chat:sent', () => ({ id: '1' }));
  void rt.publish('room:1', 'message', { text: 'hi', from: 'server' });
  // @ts-expect-error wrong payload
  void rt.publish('room:1', 'typing', { text: 'hi' });
  // @ts-expect-error unknown channel
  void rt.publish('kitchen', 'message', {});
}

export function untyped(rt: RealtimeServer): void {
  // Without a map everything goes, as before; an explicit channel type still checks publishes.
  const client = new RealtimeClient(url);
  void client.request('anything', { a: 1 }).then((r) => assertType<unknown>(r));
  client.handle('whatever', (d: string) => d.length);
  rt.handle('upper', (s: string) => s.toUpperCase());
  void rt.publish('any', 'event', { any: 'thing' });
  const feed: Channel<{ tick: number }> = client.channel<{ tick: number }>('feed');
  // @ts-expect-error the explicit channel type says `tick` carries a number
  void feed.publish('tick', 'one');
  feed.on('message', (m: ChannelMessage<{ tick: number }>) => assertType<number>(m.data));
}

export function sectionsAreOptional(): void {
  const client = new RealtimeClient<{ channels: { feed: { tick: number } } }>(url);
  void client.request('untyped-request', 1);
  void client.channel('feed').publish('tick', 1);
  // @ts-expect-error payload
  void client.channel('feed').publish('tick', '1');
  const shape: EventMapShape = {} as ChatEvents;
  void shape;
}

export function webSocketOption(): void {
  // @ieum/websocket's WebSocket and the browser's (lib.dom) fit the option without a cast.
  const option: WebSocketConstructor = WebSocket;
  void new RealtimeClient(url, { WebSocket });
  void option;
}
