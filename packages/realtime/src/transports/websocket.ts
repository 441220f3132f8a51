// The WebSocket transport: a server-side `WebSocket` of @ieum/websocket behind the `Transport`
// shape. Shared messages go out framed once (`sendPrepared`, compressed once per window size for
// permessage-deflate peers without context takeover); a batch leaves in one socket write.
import { type WebSocket, WebSocketServer } from '@ieum/websocket';
import { isShared, type Outgoing, type Transport, type WriteDone } from './transport.js';

export class WebSocketTransport implements Transport {
  readonly kind = 'websocket';
  /** Options of every `send` (one object for all: nothing allocated per message). */
  private readonly sendOptions: { binary: boolean };

  /** @param binary whether the session's codec writes binary messages (else text). */
  constructor(
    readonly socket: WebSocket,
    binary: boolean,
  ) {
    this.sendOptions = { binary };
  }

  get bufferedAmount(): number {
    return this.socket.bufferedAmount;
  }

  write(message: Outgoing, done: WriteDone): void {
    if (isShared(message)) this.socket.sendPrepared(message.prepared, done);
    else this.socket.send(message, this.sendOptions, done);
  }

  writeMany(messages: readonly Outgoing[], done: WriteDone): void {
    const n = messages.length;
    if (n === 1) this.write(messages[0]!, done);
    else if (n > 1)
      WebSocketServer.batch(() => {
        for (let i = 0; i < n - 1; i++) this.write(messages[i]!, ignore);
        this.write(messages[n - 1]!, done);
      });
  }

  close(code: number, reason: string): void {
    this.socket.close(code, reason);
  }

  terminate(): void {
    this.socket.terminate();
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  on(event: 'message' | 'close' | 'error', listener: (...args: never[]) => void): this {
    this.socket.on(event, listener as (...args: unknown[]) => void);
    return this;
  }
}

/** Callbacks of all but the last message of a batch: the last one's says when all have left. */
function ignore(): void {}
