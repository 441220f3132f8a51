// Parsing a request target without ever throwing: a request line such as
// `GET http://:99999/ HTTP/1.1` reaches a request handler as `req.url`, and `new URL()` throws on
// it. Every handler that reads `req.url` goes through here and answers 400 on `undefined`.
import type { IncomingMessage } from 'node:http';

/**
 * The request target of `req` as a URL (origin-form and absolute-form alike), or `undefined` when
 * it is not a valid URL (the caller answers 400). Never throws.
 */
export function requestUrl(req: Pick<IncomingMessage, 'url'>): URL | undefined {
  try {
    return new URL(req.url ?? '/', 'http://localhost');
  } catch {
    return undefined;
  }
}
