// One TypeScript description of an application's events, shared by server and client, so a wrong
// event name or payload is a compile error on both sides. Types only: nothing here runs.

/** A signature `(data) => reply`; `void` reply for events that are only emitted. */
// biome-ignore lint/suspicious/noExplicitAny: signatures are declared by the application
export type EventSignature = (data: any) => any;

/**
 * The events of an application. Every section is optional; a missing one stays untyped.
 *
 * ```ts
 * interface ChatEvents {
 *   // client → server: `client.emit` / `client.request`, answered by `rt.handle`
 *   clientToServer: { 'chat:send': (m: { text: string }) => { id: string }; typing: (d: { on: boolean }) => void };
 *   // server → client: `connection.emit` / `connection.request`, answered by `client.handle`
 *   serverToClient: { confirm: (q: { question: string }) => boolean };
 *   // channel name (or a template) → event name → payload: `channel.publish`, `rt.publish`, `message`
 *   channels: { [room: `room:${string}`]: { message: { text: string; from: string } } };
 * }
 * const rt = new RealtimeServer<ChatEvents>({ port });
 * const client = new RealtimeClient<ChatEvents>(url);
 * ```
 */
export interface EventMapShape {
  clientToServer?: Record<string, EventSignature>;
  serverToClient?: Record<string, EventSignature>;
  channels?: Record<string, object>;
}

/**
 * The map of an untyped application: any event or channel name; replies and channel payloads are
 * `unknown`, and handlers may declare the data type they expect.
 */
export interface UntypedEvents {
  // biome-ignore lint/suspicious/noExplicitAny: an untyped handler may declare its data type
  clientToServer: Record<string, (data: any) => unknown>;
  // biome-ignore lint/suspicious/noExplicitAny: an untyped handler may declare its data type
  serverToClient: Record<string, (data: any) => unknown>;
  channels: Record<string, Record<string, unknown>>;
}

type Section<M, K extends keyof UntypedEvents> = M extends { [P in K]-?: infer S }
  ? undefined extends S
    ? UntypedEvents[K]
    : S
  : UntypedEvents[K];

/** Client → server events of `M` (name → signature). */
export type ClientToServer<M> = Section<M, 'clientToServer'>;
/** Server → client events of `M` (name → signature). */
export type ServerToClient<M> = Section<M, 'serverToClient'>;
/** Channels of `M` (name or template → event → payload). */
export type ChannelsOf<M> = Section<M, 'channels'>;

/** Event names of a section. */
export type EventName<S> = keyof S & string;
/** The data an event carries. */
export type EventData<S, E extends keyof S> = S[E] extends (data: infer D) => unknown ? D : never;
/** The reply to an event (a request's result), without the Promise. */
export type EventReply<S, E extends keyof S> = S[E] extends (data: never) => infer R ? Awaited<R> : never;

/** Channel names of `M`: literal names and templates such as `` `room:${string}` ``. */
export type ChannelName<M> = keyof ChannelsOf<M> & string;
/** Event name → payload of the channel named `N`. */
export type ChannelPayloads<M, N extends string> = N extends keyof ChannelsOf<M>
  ? ChannelsOf<M>[N]
  : Record<string, unknown>;
