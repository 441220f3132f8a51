// The down side of the HTTP fallbacks: Server-Sent Events streams and long polls reading a
// session's `$s:<token>:down` channel. Each process serves one stream or poll per session (a new
// one ends the previous one), writes streams with backpressure, and tells the session's owner what
// the client has read (directly, or through the up channel), which is what makes a fallback client
// that does not read a slow consumer like a WebSocket one.
import type { ServerResponse } from 'node:http';
import type { Adapter, AdapterEvent, ChannelEntry } from '../adapter/adapter.js';
import { answer } from './http-io.js';
import { downChannel, type HttpSession, upChannel } from './http-session.js';
import type { OutboundLimits } from './outbound-queue.js';

export class DownReader {
  /** Open streams and polls (ended at shutdown). */
  private readonly open = new Set<ServerResponse>();
  /** The one stream or poll this process serves per session: ends it. */
  private readonly readers = new Map<string, () => void>();
  private closed = false;

  constructor(
    private readonly adapter: Adapter,
    private readonly outbound: OutboundLimits,
    private readonly pollTimeoutMs: number,
    private readonly keepAliveMs: number,
    /** The session if this process owns it. */
    private readonly local: (token: string) => HttpSession | undefined,
  ) {}

  /**
   * Makes this request the session's one reader in this process: the previous stream or poll
   * ends. Returns false once a newer reader has taken over.
   */
  private claim(token: string, end: () => void): () => boolean {
    this.readers.get(token)?.();
    this.readers.set(token, end);
    return () => this.readers.get(token) === end;
  }

  private unclaim(token: string, end: () => void): void {
    if (this.readers.get(token) === end) this.readers.delete(token);
  }

  /** Tells the session's owner the client has read up to `offset` (coalesced while one is on its way). */
  private acker(token: string, state: 'live' | 'closed'): (offset: number) => void {
    // A closed session reads nothing more: no acks (nothing is stored for it).
    if (state === 'closed') return () => {};
    let sent = 0;
    let wanted = 0;
    let busy = false;
    const flush = () => {
      const local = this.local(token);
      if (local) return local.ack(wanted);
      if (busy || wanted <= sent || this.closed) return;
      busy = true;
      const offset = wanted;
      this.adapter.publish(upChannel(token), { ev: 'ack', d: offset }).then(
        () => {
          sent = Math.max(sent, offset);
          busy = false;
          flush();
        },
        () => {
          busy = false;
        },
      );
    };
    return (offset) => {
      if (offset <= wanted) return;
      wanted = offset;
      flush();
    };
  }

  /**
   * Reads the down channel after `since`, then follows it live; `write` gets each entry once, in
   * order, without a gap. Resolves with a stop function, or undefined (and answers 404/410) when
   * it cannot. Should the channel lose continuity later (a new epoch, a skipped offset: its
   * history is gone), `lost` is called once and nothing more is written: the reader ends, and
   * the client's next request gets 410 (see `epoch`).
   */
  private async follow(
    token: string,
    /** The session's down-channel epoch; another one (or none known) is history lost: 410. */
    epoch: string | undefined,
    since: number,
    res: ServerResponse,
    write: (entries: ChannelEntry[]) => void,
    lost: () => void,
  ): Promise<(() => void) | undefined> {
    const adapter = this.adapter;
    const channel = downChannel(token);
    let last = since;
    let broken = false;
    let pending: AdapterEvent[] | undefined = [];
    const deliver = (entries: ChannelEntry[], entryEpoch: string) => {
      if (broken) return;
      const fresh: ChannelEntry[] = [];
      for (const e of entries) {
        if (entryEpoch === epoch && e.off <= last) continue;
        if (entryEpoch !== epoch || e.off !== last + 1) {
          // Never a silent gap: what was written before the break still goes out, then the end.
          broken = true;
          break;
        }
        fresh.push(e);
        last = e.off;
      }
      if (fresh.length > 0) write(fresh);
      if (broken) lost();
    };
    const listener = (event: AdapterEvent) => {
      if (event.type !== 'message') return;
      if (pending) pending.push(event);
      else deliver([event.entry], event.epoch);
    };
    await adapter.subscribe(channel, listener);
    const stop = () => void adapter.unsubscribe(channel, listener).catch(() => {});
    const h = await adapter.history(channel, { epoch: epoch ?? '', offset: since });
    if (h.position.offset === 0) {
      stop();
      answer(res, 404, 'unknown session: open a new one');
      return undefined;
    }
    if (!h.ok) {
      // `epoch-changed`: the down channel lost its history (a Redis restart, an eviction) and
      // with it what the client had not read. It must open a new session and resubscribe.
      stop();
      answer(res, 410, `session history lost (${h.reason}): open a new session`);
      return undefined;
    }
    const buffered = pending;
    pending = undefined;
    deliver(h.entries, h.position.epoch);
    for (const event of buffered) if (event.type === 'message') deliver([event.entry], event.epoch);
    return stop;
  }

  /** Streams the down channel as Server-Sent Events after `since`. */
  async sse(
    res: ServerResponse,
    token: string,
    state: 'live' | 'closed',
    epoch: string | undefined,
    since: number,
  ): Promise<void> {
    const { highWaterBytes, maxQueuedBytes } = this.outbound;
    const ack = this.acker(token, state);
    let started = false;
    let ended = false;
    // Entries wait here while the response is backed up. The owner stops writing the down
    // channel once `highWaterBytes` are unread, so this stays small; `maxQueuedBytes` is a fuse.
    const waiting: Array<{ chunk: string; off: number; ev: string }> = [];
    let waitingBytes = 0;
    const end = () => {
      if (ended) return;
      ended = true;
      if (started) res.end();
      else res.destroy();
    };
    const current = this.claim(token, end);
    const writeOne = (chunk: string, off: number, ev: string) => {
      // Read by the client as far as this process can tell: handed to the kernel.
      res.write(chunk, (error) => {
        if (!error) ack(off);
      });
      if (ev === 'close') end(); // the session is over: nothing follows
    };
    const pump = () => {
      while (!ended && waiting.length > 0 && res.writableLength < highWaterBytes) {
        const w = waiting.shift()!;
        waitingBytes -= w.chunk.length;
        writeOne(w.chunk, w.off, w.ev);
      }
    };
    // History lost under the stream: it ends after what it has; the client's next request gets 410.
    const lost = () => {
      if (waiting.length === 0) end();
      else waiting.push({ chunk: '', off: 0, ev: 'close' });
    };
    const stop = await this.follow(
      token,
      epoch,
      since,
      res,
      (entries) => {
        for (const e of entries) {
          if (ended) return;
          const chunk = sseEvent(e);
          if (!started || waiting.length > 0 || res.writableLength >= highWaterBytes) {
            waiting.push({ chunk, off: e.off, ev: e.ev });
            waitingBytes += chunk.length;
            // The client resumes from its last event id on a new stream.
            if (waitingBytes > maxQueuedBytes) end();
          } else {
            writeOne(chunk, e.off, e.ev);
          }
        }
      },
      lost,
    );
    if (!stop) return this.unclaim(token, end);
    if (ended || !current() || res.destroyed) {
      stop();
      this.unclaim(token, end);
      if (!ended) res.destroy();
      return;
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'x-accel-buffering': 'no', // nginx: do not buffer the stream
      connection: 'keep-alive',
    });
    res.write(': ieum\n\n');
    started = true;
    ack(since);
    this.open.add(res);
    res.on('drain', pump);
    pump();
    // A closed session's down channel is complete: what is left to read was just written.
    if (state === 'closed') end();
    const keepAlive = setInterval(() => {
      if (res.writableLength < highWaterBytes) res.write(': keep-alive\n\n');
    }, this.keepAliveMs);
    res.on('close', () => {
      ended = true;
      clearInterval(keepAlive);
      this.open.delete(res);
      this.unclaim(token, end);
      waiting.length = 0;
      stop();
    });
  }

  /** Answers with the down channel's entries after `since`, waiting for one if there are none. */
  async poll(
    res: ServerResponse,
    token: string,
    state: 'live' | 'closed',
    epoch: string | undefined,
    since: number,
  ): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    let answered = false;
    let stop: (() => void) | undefined;
    const reply = (entries: ChannelEntry[]) => {
      if (answered) return;
      answered = true;
      clearTimeout(timer);
      stop?.();
      this.open.delete(res);
      this.unclaim(token, end);
      answer(res, 200, JSON.stringify({ entries: entries.map(wire) }), {
        'content-type': 'application/json',
      });
    };
    // A newer poll of the same session takes over: this one answers empty.
    const end = () => reply([]);
    const current = this.claim(token, end);
    let early: ChannelEntry[] | undefined;
    stop = await this.follow(
      token,
      epoch,
      since,
      res,
      (entries) => {
        // Give messages published in the same tick a chance to join this answer.
        if (early) return void early.push(...entries);
        early = [...entries];
        setImmediate(() => reply(early!));
      },
      // History lost: this answer ends with what it has; the next poll gets 410.
      () => setImmediate(() => reply(early ?? [])),
    );
    if (!stop) {
      answered = true;
      return this.unclaim(token, end);
    }
    // The client has everything up to `since`: the owner may write more.
    this.acker(token, state)(since);
    if (answered || !current()) return stop();
    // A closed session's down channel is complete: nothing more will come.
    if (state === 'closed' && !early) return reply([]);
    this.open.add(res);
    timer = setTimeout(() => reply([]), this.pollTimeoutMs);
    res.on('close', () => {
      answered = true;
      clearTimeout(timer);
      this.open.delete(res);
      this.unclaim(token, end);
      stop?.();
    });
  }

  /** Ends every open stream and poll (server shutdown). */
  close(): void {
    this.closed = true;
    for (const res of this.open) res.destroy();
    this.open.clear();
    this.readers.clear();
  }
}

function wire(e: ChannelEntry): { off: number; ev: string; d: unknown } {
  return { off: e.off, ev: e.ev, d: e.d };
}

function sseEvent(e: ChannelEntry): string {
  // Messages are single-line JSON (JSON.stringify never emits a raw newline).
  if (e.ev === 'm') return `id: ${e.off}\ndata: ${e.d as string}\n\n`;
  return `id: ${e.off}\nevent: ${e.ev}\ndata: ${JSON.stringify(e.d)}\n\n`;
}
