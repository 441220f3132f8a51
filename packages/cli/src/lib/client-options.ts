import { readFileSync } from 'node:fs';
import type { ClientOptions } from '@ieum/websocket';
import { UserError } from './user-error.js';

/** The connection flags `connect`, `bench` and `realtime` share. */
export interface ClientFlags {
  header?: string[];
  origin?: string;
  deflate?: boolean;
  insecure?: boolean;
  ca?: string;
  maxMessageBytes?: number;
  handshakeTimeout?: number;
}

/**
 * Checks a WebSocket URL given on the command line. `host:port` and http(s) URLs are accepted
 * and turned into ws(s) URLs, as curl-like tools do. Throws a `UserError` for anything else.
 */
export function parseWebSocketUrl(text: string): URL {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `ws://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new UserError(`not a URL: ${text} (expected e.g. ws://localhost:8080/path)`);
  }
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    throw new UserError(`not a WebSocket URL: ${text} (use ws:// or wss://)`);
  }
  return url;
}

/** Reads a file named by a flag; a missing or unreadable file is the user's to fix. */
export function readFlagFile(flag: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    const code = (error as { code?: string }).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : String(error);
    throw new UserError(`cannot read ${flag} ${path}: ${why}`);
  }
}

/** Parses `-H 'Name: value'` flags into request headers. */
export function parseHeaders(lines: readonly string[] = []): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon).trim() : '';
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
      throw new UserError(`bad header ${JSON.stringify(line)}: write it as -H 'Name: value'`);
    }
    headers[name] = line.slice(colon + 1).trim();
  }
  return headers;
}

/** Builds `new WebSocket(url, protocols, options)` options from the shared flags. */
export function clientOptions(flags: ClientFlags): ClientOptions {
  const options: ClientOptions = { headers: parseHeaders(flags.header) };
  if (flags.origin !== undefined) options.origin = flags.origin;
  if (flags.deflate) options.perMessageDeflate = true;
  if (flags.insecure) options.rejectUnauthorized = false;
  if (flags.ca !== undefined) options.ca = readFlagFile('--ca', flags.ca);
  if (flags.maxMessageBytes !== undefined) options.maxPayload = flags.maxMessageBytes;
  if (flags.handshakeTimeout !== undefined) options.handshakeTimeout = flags.handshakeTimeout;
  return options;
}
