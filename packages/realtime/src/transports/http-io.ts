// Small HTTP helpers shared by the fallback endpoints: answering, and reading a bounded body.
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Answers with a status and a text (or JSON) body, unless the response has started: then ends it. */
export function answer(
  res: ServerResponse,
  status: number,
  body: string,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const json = headers['content-type'] === 'application/json';
  res.writeHead(status, { 'content-type': 'text/plain', ...headers }).end(json ? body : `${body}\n`);
}

/** The client went away before its request body ended: nothing to answer, and no server error. */
export class RequestAborted extends Error {
  override name = 'RequestAborted';
}

/**
 * The body as UTF-8, or undefined (the rest drained, unkept) once it passes `limit` bytes.
 * Rejects with `RequestAborted` when the client aborts the request before its body ends.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        // Stop keeping the body but let it drain, so the 413 reaches the client.
        req.removeAllListeners('data');
        chunks.length = 0;
        req.resume();
        resolve(undefined);
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', (error) => reject(new RequestAborted(error.message)));
  });
}
