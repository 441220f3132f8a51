// Test helpers: event waiting, raw sockets, an echo server with a bystander, and throwaway TLS
// certificates.
import { execFileSync } from 'node:child_process';
import type { EventEmitter } from 'node:events';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WsClient from 'ws';
import { type ServerOptions, WebSocketServer } from '../../src/index.js';

/** Resolves with the event's arguments, or rejects after `ms` with a message naming the event. */
export async function waitFor<T extends unknown[] = unknown[]>(
  emitter: EventEmitter,
  event: string,
  ms = 5000,
): Promise<T> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), ms);
  try {
    return (await once(emitter, event, { signal: ac.signal })) as T;
  } catch (error) {
    if (ac.signal.aborted) throw new Error(`timed out after ${ms} ms waiting for "${event}"`);
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/** Connects a raw TCP socket and collects everything it receives. */
export async function rawConnect(
  port: number,
): Promise<{ socket: net.Socket; received: () => Buffer; ended: Promise<void> }> {
  const socket = net.connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.on('error', () => {});
  const ended = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  await once(socket, 'connect');
  return { socket, received: () => Buffer.concat(chunks), ended };
}

/** A valid client upgrade request for `path`, with optional extra header lines. */
export function upgradeRequest(path = '/', extra: string[] = []): string {
  return [
    `GET ${path} HTTP/1.1`,
    'Host: 127.0.0.1',
    'Upgrade: websocket',
    'Connection: Upgrade',
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
    'Sec-WebSocket-Version: 13',
    ...extra,
    '',
    '',
  ].join('\r\n');
}

/** Masks a client frame (FIN set) with key 01 02 03 04. */
export function maskedFrame(opcode: number, payload: Buffer, fin = true): Buffer {
  const key = Buffer.from([1, 2, 3, 4]);
  const len = payload.length;
  const head =
    len < 126
      ? Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | len])
      : len < 65536
        ? Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | 126, len >> 8, len & 255])
        : (() => {
            const b = Buffer.alloc(10);
            b[0] = (fin ? 0x80 : 0) | opcode;
            b[1] = 0x80 | 127;
            b.writeBigUInt64BE(BigInt(len), 2);
            return b;
          })();
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i]! ^= key[i & 3]!;
  return Buffer.concat([head, key, body]);
}

/** A self-signed certificate for 127.0.0.1/localhost, made now with openssl. */
export function selfSignedCert(): { key: Buffer; cert: Buffer } {
  const dir = mkdtempSync(join(tmpdir(), 'ieum-cert-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    return { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * An echo server on 127.0.0.1 (extra `options` as given) with a well-behaved ws client, the
 * bystander, connected: security tests check it keeps working through each attack. `close()`
 * ends every connection and the server.
 */
export async function echoServerWithBystander(
  options: ServerOptions = {},
): Promise<{ wss: WebSocketServer; port: number; bystander: WsClient; close(): Promise<void> }> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', ...options });
  wss.on('connection', (ws) => {
    ws.on('error', () => {});
    ws.on('message', (d, b) => ws.send(d, { binary: b }));
  });
  await waitFor(wss, 'listening');
  const port = (wss.address() as AddressInfo).port;
  const bystander = new WsClient(`ws://127.0.0.1:${port}`);
  await waitFor(bystander, 'open');
  return {
    wss,
    port,
    bystander,
    async close() {
      bystander.terminate();
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
