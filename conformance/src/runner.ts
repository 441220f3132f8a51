// Runs cases against a server (fuzzingclient mode) or serves them to a client (fuzzingserver mode).
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import type { Case } from './case-kinds.js';
import { parseDeflateParams } from './deflate-codec.js';
import { closePayload, OP } from './frames.js';
import { type CaseResult, Session } from './session.js';

export interface Result extends CaseResult {
  id: string;
  description: string;
  durationMs: number;
}

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const accept = (key: string) =>
  createHash('sha1')
    .update(key + GUID)
    .digest('base64');

async function withTimeout(c: Case, session: Session, defaultMs: number): Promise<CaseResult> {
  const ms = c.timeoutMs ?? defaultMs;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<CaseResult>((resolve) => {
    timer = setTimeout(
      () => resolve({ outcome: 'FAILED', reason: `case did not finish within ${ms} ms` }),
      ms,
    );
  });
  try {
    return await Promise.race([
      c
        .run(session)
        .catch((e: unknown) => ({ outcome: 'FAILED' as const, reason: `harness error: ${String(e)}` })),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
    session.socket.destroy();
  }
}

/** Opens a WebSocket connection with a raw socket (no library) and returns a session. */
export async function connectRaw(url: string, extensions?: string): Promise<Session> {
  const u = new URL(url);
  const socket = net.connect(Number(u.port || 80), u.hostname);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const key = randomBytes(16).toString('base64');
  socket.write(
    `GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` +
      (extensions ? `Sec-WebSocket-Extensions: ${extensions}\r\n` : '') +
      '\r\n',
  );
  let head = Buffer.alloc(0);
  let negotiated: string | undefined;
  const leftover = await new Promise<Buffer>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      socket.off('data', onData);
      const text = head.subarray(0, end).toString();
      if (!/^HTTP\/1\.1 101/.test(text))
        return reject(new Error(`handshake refused: ${text.split('\r\n')[0]}`));
      if (!text.toLowerCase().includes(`sec-websocket-accept: ${accept(key).toLowerCase()}`)) {
        return reject(new Error('handshake: wrong Sec-WebSocket-Accept'));
      }
      negotiated = /\r\nsec-websocket-extensions:\s*([^\r]*)/i.exec(text)?.[1];
      resolve(head.subarray(end + 4));
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.once('close', () => reject(new Error('connection closed during the handshake')));
  });
  socket.removeAllListeners('error');
  socket.removeAllListeners('close');
  const session = new Session(socket, 'client', leftover);
  if (negotiated) session.deflate = parseDeflateParams(negotiated);
  return session;
}

/** fuzzingclient mode: the harness is the client; every case runs against the server at `url`. */
export async function runClientSuite(options: {
  url: string;
  cases: Case[];
  onResult?: (r: Result) => void;
  defaultTimeoutMs?: number;
}): Promise<Result[]> {
  const results: Result[] = [];
  for (const c of options.cases) {
    const started = Date.now();
    let r: CaseResult;
    try {
      const session = await connectRaw(options.url, c.deflateOffer);
      r = await withTimeout(c, session, options.defaultTimeoutMs ?? 20_000);
    } catch (error) {
      r = { outcome: 'FAILED', reason: `could not connect: ${(error as Error).message}` };
    }
    const result = { id: c.id, description: c.description, durationMs: Date.now() - started, ...r };
    results.push(result);
    options.onResult?.(result);
  }
  return results;
}

/**
 * fuzzingserver mode: the harness is the server, speaking Autobahn's convention to the client
 * under test (`/getCaseCount`, `/runCase?case=N&agent=A`, `/updateReports?agent=A`).
 */
export function startServerSuite(options: {
  port: number;
  host?: string;
  cases: Case[];
  onResult?: (r: Result) => void;
  defaultTimeoutMs?: number;
}): { listening: Promise<number>; results: Promise<Result[]>; close(): void } {
  const results: Result[] = [];
  let finish!: (r: Result[]) => void;
  const done = new Promise<Result[]>((resolve) => {
    finish = resolve;
  });
  const server = http.createServer((_req, res) => res.writeHead(426).end());
  server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    const key = String(req.headers['sec-websocket-key'] ?? '');
    const url = new URL(req.url ?? '/', 'http://harness');
    const caseFor =
      url.pathname === '/runCase' ? options.cases[Number(url.searchParams.get('case')) - 1] : undefined;
    const offer = String(req.headers['sec-websocket-extensions'] ?? '');
    const response = caseFor?.deflateResponse && offer ? caseFor.deflateResponse(offer) : undefined;
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept(key)}\r\n` +
        (response ? `Sec-WebSocket-Extensions: ${response}\r\n` : '') +
        '\r\n',
    );
    const session = new Session(socket, 'server', head);
    if (response) session.deflate = parseDeflateParams(response);
    if (url.pathname === '/getCaseCount') {
      void (async () => {
        await session.send({ opcode: OP.TEXT, payload: String(options.cases.length) });
        await session.send({ opcode: OP.CLOSE, payload: closePayload(1000) });
        await session.finishClose();
      })();
    } else if (url.pathname === '/runCase') {
      const n = Number(url.searchParams.get('case'));
      const c = options.cases[n - 1];
      if (!c) {
        socket.destroy();
        return;
      }
      const started = Date.now();
      void withTimeout(c, session, options.defaultTimeoutMs ?? 20_000).then((r) => {
        const result = { id: c.id, description: c.description, durationMs: Date.now() - started, ...r };
        results.push(result);
        options.onResult?.(result);
      });
    } else if (url.pathname === '/updateReports') {
      void session.finishClose().then(() => finish(results));
    } else {
      socket.destroy();
    }
  });
  const listening = new Promise<number>((resolve) => {
    server.listen(options.port, options.host ?? '127.0.0.1', () =>
      resolve((server.address() as net.AddressInfo).port),
    );
  });
  return {
    listening,
    results: done,
    close: () => {
      server.close();
      server.closeAllConnections();
    },
  };
}

/** One line per case and a summary, like Autobahn's report index. */
export function summarize(results: Result[]): { lines: string[]; summary: string; failed: number } {
  const lines = results.map((r) => `${r.id} ${r.outcome}${r.reason ? ` ${r.reason}` : ''}`);
  const count = (o: string) => results.filter((r) => r.outcome === o).length;
  const failed = count('FAILED');
  const summary = `${count('OK')} passed, ${count('NON-STRICT')} non-strict, ${count('INFORMATIONAL')} informational, ${count('UNIMPLEMENTED')} unimplemented, ${failed} failed`;
  return { lines, summary, failed };
}
