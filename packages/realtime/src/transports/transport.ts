// The one shape every transport has, WebSocket, SSE or long polling: a session writes encoded
// messages to it, one or many at a time, and hears the client's messages and the close from it.
// (Centrifuge's `Transport` with `Write` and `WriteMany` is the model.)
import type { PreparedMessage } from '@ieum/websocket';

/** How a session reaches its client. */
export type TransportKind = 'websocket' | 'sse' | 'polling';

/**
 * One message encoded once for many sessions: `data` for any transport, `prepared` (framed once,
 * see `WebSocketServer.prepare`) for WebSocket transports.
 */
export interface SharedMessage {
  readonly data: string | Uint8Array;
  readonly prepared: PreparedMessage;
}

/** What a session writes: its own encoding, or a message shared with other sessions. */
export type Outgoing = string | Uint8Array | SharedMessage;

/** Called once what was written has left (`error` when the transport closed first). */
export type WriteDone = (error?: Error | null) => void;

/** Whether `data` is a message shared with other sessions (rather than a session's own bytes). */
export const isShared = (data: Outgoing): data is SharedMessage =>
  typeof data !== 'string' && !(data instanceof Uint8Array);

/**
 * What a session runs over. `bufferedAmount` is what the client has not taken yet: the outbound
 * queue holds messages back above `highWaterBytes` of it, whatever the transport.
 */
export interface Transport {
  readonly kind: TransportKind;
  /** Bytes written and not yet taken by the client (socket buffers; unread SSE/poll entries). */
  readonly bufferedAmount: number;
  /** Writes one encoded message; `done` runs once it has left. */
  write(message: Outgoing, done: WriteDone): void;
  /**
   * Writes `messages` in order as one batch (for a WebSocket: one socket write); `done` runs once,
   * when the last has left. The array is the caller's again once this returns.
   */
  writeMany(messages: readonly Outgoing[], done: WriteDone): void;
  /** Starts the closing handshake with `code` and `reason` (at most 123 UTF-8 bytes). */
  close(code: number, reason: string): void;
  /** Ends the transport at once. */
  terminate(): void;
  /** Stops reading the client's messages (backpressure) until `resume`. */
  pause(): void;
  resume(): void;
  on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): unknown;
  on(event: 'close', listener: (code: number, reason: Buffer) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  /** Called once the client is authenticated, before the welcome is written (HTTP sessions). */
  authenticated?(): void;
}
