// The leader tab's side of a shared connection: the messages of every tab go over its one
// connection. Request ids are renumbered (each tab counts its own), a channel stays subscribed
// while any tab wants it, and what the server sends goes back to the tab that asked (replies) or
// to every tab (channel messages and presence: each tab keeps its own position and drops what it
// has, so the same message reaching a tab twice is delivered once).
import type { ClientMessage, Position, ServerMessage, SubscribeResult } from '../codec/messages.js';

interface RelayedChannel {
  /** Tabs subscribed. */
  tabs: Set<string>;
  /** Tabs that asked for presence events. */
  presence: Set<string>;
  /** Where the connection's stream of this channel is complete from (last message relayed). */
  position: Position | undefined;
  /** A subscription is in flight: later ones wait, so two never race on the server. */
  busy: boolean;
  queue: Array<{ tab: string; message: Extract<ClientMessage, { t: 'sub' }> }>;
}

/** Sends `message` to one tab, or to all when `tab` is undefined. */
export type Deliver = (tab: string | undefined, message: ServerMessage) => void;

/** Multiplexes the tabs of one browser onto one connection (see the file comment). */
export class TabRelay {
  private nextId = 1;
  private readonly requests = new Map<
    number,
    { tab: string; id: number; sub?: { ch: string; since?: Position } }
  >();
  private readonly channels = new Map<string, RelayedChannel>();

  constructor(
    private readonly send: (message: ClientMessage) => void,
    private readonly deliver: Deliver,
    /** The leader's own tab: server requests (`emit` with an id) are answered there. */
    private readonly localTab: string,
  ) {}

  /** The connection closed: nothing is subscribed and no reply will come. */
  reset(): void {
    this.requests.clear();
    this.channels.clear();
  }

  /** A message from a tab's client. */
  fromTab(tab: string, message: ClientMessage): void {
    switch (message.t) {
      case 'sub': {
        const ch = this.channel(message.ch);
        ch.tabs.add(tab);
        if (message.presence) ch.presence.add(tab);
        if (ch.busy) ch.queue.push({ tab, message });
        else this.subscribe(ch, tab, message);
        return;
      }
      case 'unsub': {
        const ch = this.channels.get(message.ch);
        ch?.tabs.delete(tab);
        ch?.presence.delete(tab);
        if (ch && ch.tabs.size > 0) {
          // Other tabs still want it: the connection stays subscribed.
          this.deliver(tab, { t: 'res', id: message.id, ok: true, d: null });
          return;
        }
        this.channels.delete(message.ch);
        this.forward(tab, message);
        return;
      }
      case 'pub':
      case 'who':
      case 'presence':
        // Presence state is the connection's: tabs sharing it share one state (the latest set).
        this.forward(tab, message);
        return;
      case 'emit':
        if (message.id !== undefined) this.forward(tab, { ...message, id: message.id });
        else this.send(message);
        return;
      default:
        // Replies to server requests carry the server's ids; auth and pong need none.
        this.send(message);
    }
  }

  /** A tab went away: its channels are dropped, and unsubscribed if no other tab wants them. */
  dropTab(tab: string): void {
    for (const [name, ch] of this.channels) {
      ch.presence.delete(tab);
      if (ch.tabs.delete(tab) && ch.tabs.size === 0 && !ch.busy) {
        this.channels.delete(name);
        this.send({ t: 'unsub', id: this.nextId++, ch: name });
      }
    }
  }

  /** A message from the server. */
  fromServer(message: ServerMessage): void {
    switch (message.t) {
      case 'res': {
        const request = this.requests.get(message.id);
        if (!request) return;
        this.requests.delete(message.id);
        if (request.sub) this.subscribed(request.sub.ch, request.sub.since, message);
        this.deliver(request.tab, { ...message, id: request.id });
        return;
      }
      case 'msg': {
        const ch = this.channels.get(message.ch);
        if (ch && (!ch.position || ch.position.ep !== message.ep || ch.position.off < message.off))
          ch.position = { ep: message.ep, off: message.off };
        this.deliver(undefined, message);
        return;
      }
      case 'emit':
        this.deliver(message.id === undefined ? undefined : this.localTab, message);
        return;
      default:
        this.deliver(undefined, message);
    }
  }

  private channel(name: string): RelayedChannel {
    let ch = this.channels.get(name);
    if (!ch) {
      ch = { tabs: new Set(), presence: new Set(), position: undefined, busy: false, queue: [] };
      this.channels.set(name, ch);
    }
    return ch;
  }

  /**
   * Subscribes (again) from the earlier of the tab's position and the connection's: the server
   * replaces the subscription, and the other tabs must not miss what it sends meanwhile.
   */
  private subscribe(ch: RelayedChannel, tab: string, message: Extract<ClientMessage, { t: 'sub' }>): void {
    const since = earlier(message.since, ch.position);
    ch.busy = true;
    const id = this.nextId++;
    this.requests.set(id, { tab, id: message.id, sub: { ch: message.ch, ...(since ? { since } : {}) } });
    this.send({
      t: 'sub',
      id,
      ch: message.ch,
      ...(since ? { since } : {}),
      ...(ch.presence.size > 0 ? { presence: true } : {}),
    });
  }

  private subscribed(
    name: string,
    since: Position | undefined,
    reply: Extract<ServerMessage, { t: 'res' }>,
  ): void {
    const ch = this.channels.get(name);
    if (!ch) return;
    ch.busy = false;
    if (reply.ok) {
      const r = reply.d as SubscribeResult;
      // Recovered: the server replays from `since` next. Fresh or reset: complete from now.
      ch.position = r.recovered === true && since ? since : { ep: r.ep, off: r.off };
    }
    const next = ch.queue.shift();
    if (next) this.subscribe(ch, next.tab, next.message);
  }

  private forward(
    tab: string,
    message:
      | Extract<ClientMessage, { id: number }>
      | (Extract<ClientMessage, { t: 'emit' }> & { id: number }),
  ): void {
    const id = this.nextId++;
    this.requests.set(id, { tab, id: message.id });
    this.send({ ...message, id });
  }
}

/** The earlier of two positions (the tab's, when they are of different epochs). */
function earlier(a: Position | undefined, b: Position | undefined): Position | undefined {
  if (!a || !b) return a ?? b;
  if (a.ep !== b.ep) return a;
  return a.off <= b.off ? a : b;
}
