// The WebSocket shape the client drives: browsers' WebSocket, @ieum/websocket's and the HTTP
// fallbacks all fit it.

/**
 * The part of the WHATWG WebSocket the client uses. Handlers take the narrowest event the client
 * reads, so implementations whose handlers take richer events (browsers', `@ieum/websocket`'s)
 * are assignable without a cast.
 */
export interface WebSocketLike {
  readonly readyState: number;
  readonly protocol: string;
  binaryType: string;
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}

/** A WebSocket class: `new (url, protocols)`. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;
