// The WebSocket shape the client drives: browsers' WebSocket, @ieum/websocket's and the HTTP
// fallbacks all fit it.

/**
 * An event handler attribute that takes `E`. Declared with method syntax, so its parameter is
 * checked both ways: an implementation whose handlers take a richer event (`MessageEvent`, or
 * `@ieum/websocket`'s getter typed `(event: never) => void`) fits without a cast.
 */
export type SocketEventHandler<E> = { handle(event: E): void }['handle'];

/**
 * The part of the WHATWG WebSocket the client uses: browsers' `WebSocket` (lib.dom) and
 * `@ieum/websocket`'s `WebSocket` are both assignable to it.
 */
export interface WebSocketLike {
  readonly readyState: number;
  readonly protocol: string;
  binaryType: string;
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: SocketEventHandler<unknown> | null;
  onmessage: SocketEventHandler<{ data: unknown }> | null;
  onclose: SocketEventHandler<{ code: number; reason: string }> | null;
  onerror: SocketEventHandler<unknown> | null;
}

/** A WebSocket class: `new (url, protocols)`. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;
