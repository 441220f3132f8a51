import { Duplex, type DuplexOptions } from 'node:stream';
import type { RawData, WebSocket } from './websocket.js';

/**
 * Wraps a WebSocket in a Node.js Duplex stream, as ws's `createWebSocketStream` does:
 *
 * - Readable side: every message is a chunk (a Buffer; in `readableObjectMode`, text messages
 *   are strings). When the stream's buffer is full (`push` returns false) the socket is paused
 *   (TCP backpressure reaches the peer) until the stream is read again.
 * - Writable side: every chunk is sent as one message; its callback runs when it is written.
 *   Writes made while CONNECTING wait for `open`. `end()` starts the closing handshake.
 * - The readable side ends when the WebSocket closes; a WebSocket error destroys the stream
 *   with that error; destroying the stream terminates the WebSocket, and `close` is emitted
 *   once the WebSocket has closed.
 *
 * `options` are Duplex options; `autoDestroy`, `emitClose` and the object modes default to
 * false (as in ws).
 */
export function createWebSocketStream(ws: WebSocket, options?: DuplexOptions): Duplex {
  // Whether destroying the stream should terminate the WebSocket (not after its own error).
  let terminateOnDestroy = true;

  const duplex = new Duplex({
    ...options,
    autoDestroy: false,
    emitClose: false,
    objectMode: false,
    writableObjectMode: false,
  });

  ws.on('message', (data: RawData, isBinary: boolean) => {
    const chunk = !isBinary && duplex.readableObjectMode ? String(data) : data;
    if (!duplex.push(chunk)) ws.pause();
  });

  ws.once('error', (error: Error) => {
    if (duplex.destroyed) return;
    // The WebSocket is already failing: the stream must not terminate it a second time.
    terminateOnDestroy = false;
    duplex.destroy(error);
  });

  ws.once('close', () => {
    if (duplex.destroyed) return;
    duplex.push(null);
  });

  duplex._destroy = (error, callback) => {
    if (ws.readyState === ws.CLOSED) {
      callback(error);
      process.nextTick(emitClose, duplex);
      return;
    }
    let settled = false;
    ws.once('error', (wsError: Error) => {
      settled = true;
      callback(wsError);
    });
    ws.once('close', () => {
      if (!settled) callback(error);
      process.nextTick(emitClose, duplex);
    });
    if (terminateOnDestroy) ws.terminate();
  };

  duplex._final = (callback) => {
    if (ws.readyState === ws.CONNECTING) {
      ws.once('open', () => duplex._final(callback));
      return;
    }
    const socket = ws.rawSocket;
    if (socket === undefined) return;
    if (socket.writableFinished) {
      callback();
      if (duplex.readableEnded) duplex.destroy();
      return;
    }
    // Done once our side of the TCP connection is finished (after the closing handshake),
    // or once the WebSocket closed, whichever comes first.
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      socket.removeListener('finish', finish);
      callback();
    };
    socket.once('finish', finish);
    ws.once('close', finish);
    ws.close();
  };

  duplex._read = () => {
    if (ws.isPaused) ws.resume();
  };

  duplex._write = (chunk: Buffer, _encoding, callback) => {
    if (ws.readyState === ws.CONNECTING) {
      ws.once('open', () => duplex._write(chunk, _encoding, callback));
      return;
    }
    ws.send(chunk, callback);
  };

  duplex.on('end', onEnd);
  duplex.on('error', onError);
  return duplex;
}

function emitClose(stream: Duplex): void {
  stream.emit('close');
}

/** Both sides done: release the WebSocket. */
function onEnd(this: Duplex): void {
  if (!this.destroyed && this.writableFinished) this.destroy();
}

/** An error destroys the stream; rethrown (emitted again) only when nobody else listens. */
function onError(this: Duplex, error: Error): void {
  this.removeListener('error', onError);
  this.destroy();
  if (this.listenerCount('error') === 0) this.emit('error', error);
}
