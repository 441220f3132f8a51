import { WebSocket } from '@ieum/websocket';
import { describeConnectError, UserError } from './lib/user-error.js';

export interface EchoClientOptions {
  /** Base URL of an Autobahn-style fuzzing server, e.g. ws://127.0.0.1:9001 */
  url: string;
  /** Agent name reported to the server. */
  agent: string;
  /** Milliseconds allowed per case before it is abandoned. Default 60,000. */
  caseTimeoutMs?: number;
  /** Offer permessage-deflate. Default false. */
  deflate?: boolean;
  log?: (line: string) => void;
}

function endpoint(base: string, path: string, query: Record<string, string>): string {
  const url = new URL(base);
  url.pathname = `${url.pathname.replace(/\/$/, '')}/${path}`;
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  return url.href;
}

/**
 * Opens one connection and resolves when it closes; `onOpen` wires the behaviour. Rejects with a
 * `UserError` when the connection never opens (refused, bad handshake): a case the server fails
 * on purpose still opens first, so only a server that is not there (or not Autobahn) rejects.
 */
function session(
  url: string,
  timeoutMs: number,
  onOpen: (ws: WebSocket) => void,
  deflate = false,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, {
      maxPayload: 64 * 1024 * 1024,
      ...(deflate ? { perMessageDeflate: { threshold: 0 } } : {}),
    });
    let opened = false;
    let failure: unknown;
    const timer = setTimeout(() => ws.terminate(), timeoutMs);
    // Errors after the opening handshake are the fuzzing server's tests: the case's close code
    // records them and the report judges them.
    ws.on('error', (error) => {
      if (!opened) failure = error;
    });
    ws.on('open', () => {
      opened = true;
      onOpen(ws);
    });
    ws.on('close', () => {
      clearTimeout(timer);
      if (opened) resolve();
      else reject(new UserError(describeConnectError(failure ?? new Error('closed before opening'), url)));
    });
  });
}

/**
 * Autobahn's client-testing convention: read the case count from `URL/getCaseCount`, run each
 * case at `URL/runCase?case=i&agent=NAME` echoing every message until the server closes, then
 * connect to `URL/updateReports?agent=NAME`. Resolves with the number of cases run.
 */
export async function runEchoClient(options: EchoClientOptions): Promise<number> {
  const timeout = options.caseTimeoutMs ?? 60_000;
  let count = -1;
  await session(endpoint(options.url, 'getCaseCount', {}), timeout, (ws) => {
    ws.on('message', (data) => {
      count = Number.parseInt(data.toString(), 10);
    });
  });
  if (!Number.isSafeInteger(count) || count < 0) {
    throw new UserError(
      `${endpoint(options.url, 'getCaseCount', {})} sent no case count: is this an Autobahn fuzzingserver?`,
    );
  }
  options.log?.(`${count} cases`);
  for (let i = 1; i <= count; i++) {
    await session(
      endpoint(options.url, 'runCase', { case: String(i), agent: options.agent }),
      timeout,
      (ws) => {
        ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
      },
      options.deflate === true,
    );
    options.log?.(`case ${i}/${count} done`);
  }
  await session(endpoint(options.url, 'updateReports', { agent: options.agent }), timeout, () => {});
  return count;
}
