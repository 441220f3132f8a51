// Traffic: Node clients that keep a RealtimeServer busy so the dashboard has something to show:
// a few rooms, one publisher, several listeners per room.
import {
  type RealtimeClient as Client,
  RealtimeClient,
  type WebSocketConstructor,
} from '@ieum/realtime/client';
import { WebSocket } from '@ieum/websocket';

export interface TrafficOptions {
  /** The realtime endpoint, e.g. `ws://127.0.0.1:8084/realtime`. */
  url: string;
  /** Listening clients per room. Default 3. */
  listeners?: number;
  /** Messages per second published in each room. Default 5. */
  messagesPerSecond?: number;
  /** Rooms (channels `demo:<name>`). Default lobby, news and metrics. */
  rooms?: string[];
}

export interface Traffic {
  /** Messages published so far. */
  readonly published: number;
  /** Stops publishing (listeners stay connected). */
  pause(): void;
  resume(): void;
  /** Closes every client. */
  stop(): void;
}

/** Starts the bots; resolves once every listener is subscribed. */
export async function startTraffic(options: TrafficOptions): Promise<Traffic> {
  const rooms = options.rooms ?? ['lobby', 'news', 'metrics'];
  const clients: Client[] = [];
  const connect = (name: string) => {
    const c = new RealtimeClient(options.url, {
      WebSocket: WebSocket as unknown as WebSocketConstructor,
      token: name,
      reconnect: { initialDelayMs: 100, maxDelayMs: 500 },
    });
    clients.push(c);
    return c;
  };
  const subscribed: Promise<unknown>[] = [];
  for (const room of rooms) {
    for (let i = 0; i < (options.listeners ?? 3); i++) {
      subscribed.push(connect(`${room}-listener-${i}`).channel(`demo:${room}`).subscribe());
    }
  }
  await Promise.all(subscribed);
  const publisher = connect('publisher');
  let published = 0;
  let paused = false;
  let n = 0;
  const tick = setInterval(
    () => {
      if (paused) return;
      const room = rooms[n++ % rooms.length]!;
      published++;
      publisher
        .channel(`demo:${room}`)
        .publish('tick', { n, at: Date.now(), text: `message ${n} in ${room}` })
        .catch(() => {});
    },
    Math.max(5, Math.round(1000 / ((options.messagesPerSecond ?? 5) * rooms.length))),
  );
  return {
    get published() {
      return published;
    },
    pause: () => {
      paused = true;
    },
    resume: () => {
      paused = false;
    },
    stop() {
      clearInterval(tick);
      for (const c of clients) c.close();
    },
  };
}
