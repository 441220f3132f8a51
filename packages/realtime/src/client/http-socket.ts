// HTTP fallback transports shaped like a WebSocket, so the client's logic does not change: a
// session is opened with a POST carrying the hello, messages go up in POSTs (one at a time, in order) and come down over
// Server-Sent Events (read with fetch streaming) or long polling. Uses only fetch: browsers and Node.
import type { WebSocketConstructor, WebSocketLike } from './websocket-like.js';

export type FallbackKind = 'sse' | 'polling';

const CONNECTING = 0;
const OPEN = 1;
const CLOSED = 3;

/** `ws(s)://host/path` -> `http(s)://host/path/http/` */
function httpBase(url: string): string {
  const u = new URL(url);
  u.protocol = u.protocol === 'wss:' ? 'https:' : u.protocol === 'ws:' ? 'http:' : u.protocol;
  u.search = '';
  u.hash = '';
  return `${u.toString().replace(/\/$/, '')}/http/`;
}

class HttpSessionSocket implements WebSocketLike {
  readyState = CONNECTING;
  readonly protocol = 'ieum.v1.json';
  binaryType = 'arraybuffer';
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  private readonly base: string;
  private session = '';
  private last = 1;
  private outbox: string[] = [];
  private posting = false;
  private readonly abort = new AbortController();

  constructor(
    url: string,
    private readonly kind: FallbackKind,
  ) {
    this.base = httpBase(url);
    void this.start();
  }

  /**
   * Open at once as far as the client can tell: its first message (the hello) is sent in the body
   * of `open`, so the server authenticates before the session exists for anyone else.
   */
  private async start(): Promise<void> {
    await Promise.resolve(); // the caller sets onopen after constructing
    if (this.readyState !== CONNECTING) return;
    this.readyState = OPEN;
    this.onopen?.({});
  }

  /** Opens the session with `hello` (and whatever else is queued); false if it did not open. */
  private async openSession(body: string): Promise<boolean> {
    try {
      const res = await fetch(`${this.base}open?transport=${this.kind}`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain' },
        body,
        signal: this.abort.signal,
      });
      if (!res.ok) throw new Error(`open: HTTP ${res.status} ${(await res.text()).trim()}`);
      const answer = (await res.json()) as { s?: string; close?: { code: number; reason: string } };
      if (answer.close) {
        this.finish(answer.close.code, answer.close.reason);
        return false;
      }
      this.session = answer.s ?? '';
    } catch (error) {
      this.finish(1006, (error as Error).message);
      return false;
    }
    if (this.readyState !== OPEN) return false;
    void (this.kind === 'sse' ? this.readStream() : this.pollLoop());
    return true;
  }

  send(data: string | Uint8Array): void {
    if (this.readyState !== OPEN) throw new Error('the session is not open');
    if (typeof data !== 'string') throw new Error('HTTP fallbacks carry the JSON codec only');
    this.outbox.push(data);
    if (!this.posting) queueMicrotask(() => void this.flush());
  }

  /** One POST at a time keeps messages in order. */
  private async flush(): Promise<void> {
    if (this.posting || this.outbox.length === 0 || this.readyState !== OPEN) return;
    this.posting = true;
    const batch = this.outbox.splice(0, 100);
    if (!this.session) {
      const opened = await this.openSession(batch.join('\n'));
      this.posting = false;
      if (opened) void this.flush();
      return;
    }
    try {
      const res = await fetch(`${this.base}send?s=${this.session}`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain' },
        body: batch.join('\n'),
        signal: this.abort.signal,
      });
      if (res.status === 429) {
        this.posting = false;
        return this.finish(4429, 'rate limit exceeded');
      }
      if (!res.ok) throw new Error(`send: HTTP ${res.status}`);
    } catch (error) {
      // Whether the batch arrived is unknown: the session ends, the client reconnects and retries
      // publishes with their ids (the server deduplicates).
      this.posting = false;
      return this.finish(1006, (error as Error).message);
    }
    this.posting = false;
    void this.flush();
  }

  private deliver(ev: string, data: string): void {
    if (this.readyState !== OPEN) return;
    if (ev === 'm') this.onmessage?.({ data });
    else if (ev === 'close') {
      const { code, reason } = JSON.parse(data) as { code: number; reason: string };
      this.finish(code, reason);
    }
  }

  private async readStream(): Promise<void> {
    let failures = 0;
    while (this.readyState === OPEN) {
      try {
        const res = await fetch(`${this.base}sse?s=${this.session}&since=${this.last}`, {
          headers: { accept: 'text/event-stream' },
          signal: this.abort.signal,
        });
        if (res.status === 404 || res.status === 410)
          return this.finish(1006, `session lost (HTTP ${res.status})`);
        if (!res.ok || !res.body) throw new Error(`sse: HTTP ${res.status}`);
        failures = 0;
        const reader = res.body.getReader();
        const decoder = new TextDecoder();
        let buffer = '';
        let event = { id: 0, ev: 'm', data: '' };
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          buffer += decoder.decode(value, { stream: true });
          let nl = buffer.indexOf('\n');
          while (nl >= 0) {
            const line = buffer.slice(0, nl).replace(/\r$/, '');
            buffer = buffer.slice(nl + 1);
            if (line === '') {
              if (event.data !== '' && event.id > this.last) {
                this.last = event.id;
                this.deliver(event.ev, event.data);
              }
              event = { id: 0, ev: 'm', data: '' };
            } else if (line.startsWith('id: ')) event.id = Number(line.slice(4));
            else if (line.startsWith('event: ')) event.ev = line.slice(7);
            else if (line.startsWith('data: ')) event.data += line.slice(6);
            nl = buffer.indexOf('\n');
          }
        }
      } catch (error) {
        if (this.readyState !== OPEN) return;
        if (++failures > 2) return this.finish(1006, (error as Error).message);
        await new Promise((r) => setTimeout(r, 250 * failures));
      }
      // The stream ended (proxy timeout, server restart of the stream): resume from `last`.
    }
  }

  private async pollLoop(): Promise<void> {
    let failures = 0;
    while (this.readyState === OPEN) {
      try {
        const res = await fetch(`${this.base}poll?s=${this.session}&since=${this.last}`, {
          signal: this.abort.signal,
        });
        if (res.status === 404 || res.status === 410)
          return this.finish(1006, `session lost (HTTP ${res.status})`);
        if (!res.ok) throw new Error(`poll: HTTP ${res.status}`);
        failures = 0;
        const { entries } = (await res.json()) as { entries: Array<{ off: number; ev: string; d: unknown }> };
        for (const e of entries) {
          if (e.off <= this.last) continue;
          this.last = e.off;
          this.deliver(e.ev, e.ev === 'm' ? (e.d as string) : JSON.stringify(e.d));
        }
      } catch (error) {
        if (this.readyState !== OPEN) return;
        if (++failures > 2) return this.finish(1006, (error as Error).message);
        await new Promise((r) => setTimeout(r, 250 * failures));
      }
    }
  }

  close(code = 1000, reason = ''): void {
    if (this.readyState === CLOSED) return;
    if (this.session && this.readyState === OPEN) {
      void fetch(`${this.base}close?s=${this.session}`, { method: 'POST' }).catch(() => {});
    }
    this.finish(code, reason);
  }

  private finish(code: number, reason: string): void {
    if (this.readyState === CLOSED) return;
    this.readyState = CLOSED;
    this.abort.abort();
    this.onclose?.({ code, reason });
  }
}

/** A WebSocket-shaped constructor for one HTTP fallback. */
export function httpFallback(kind: FallbackKind): WebSocketConstructor {
  return class extends HttpSessionSocket {
    constructor(url: string) {
      super(url, kind);
    }
  } as unknown as WebSocketConstructor;
}
