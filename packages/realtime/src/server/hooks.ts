// The application's hooks into a session: authentication, channel authorization, publish
// checks and event handlers. Generic in the session type `S` so that the session can be typed
// against them without importing the server (`options.ts` binds `S` to `Connection`).
import type { IncomingMessage } from 'node:http';

/** Who a connection is, as the authentication hook decided. */
export interface AuthResult {
  /** Stable user id: presence counts users, not connections. */
  user: string;
  /** Shared with other members in presence events (keep it small and public). */
  info?: unknown;
  /** Milliseconds since the epoch when the credentials expire; the client is asked to refresh before. */
  expiresAt?: number;
}

export interface AuthContext {
  /** From the client's hello, else `Authorization: Bearer`, else the `token` query parameter. */
  token: string | undefined;
  req: IncomingMessage;
}

/** Returns who the client is, or throws to refuse (close 4401; the error's message is the reason). */
export type Authenticate = (ctx: AuthContext) => AuthResult | Promise<AuthResult>;

/** What `beforePublish` is asked about: a client's publish from session `S`. */
export interface PublishContextOf<S> {
  channel: string;
  event: string;
  data: unknown;
  connection: S;
}

/** What `authorizeChannel` is asked about: session `S` subscribing or publishing to a channel. */
export interface ChannelAccessOf<S> {
  channel: string;
  action: 'subscribe' | 'publish';
  user: string | undefined;
  info: unknown;
  connection: S;
}

/** Map of event names to handler signatures, e.g. `{ 'chat:send': (m: { text: string }) => { id: string } }`. */
// biome-ignore lint/suspicious/noExplicitAny: event maps are user-declared signatures
export type EventMap = Record<string, (data: any) => any>;

/** A handler of client events of signature `F`, called with the session `S` that sent it. */
export type EventHandlerOf<F extends (data: never) => unknown, S> = (
  data: Parameters<F>[0],
  connection: S,
) => Awaited<ReturnType<F>> | Promise<Awaited<ReturnType<F>>>;
