// Requests in both directions: the server's requests to the client (`Connection.request`, each
// waiting for its `res` within `requestTimeoutMs`) and the client's events to the application's
// handlers (`rt.handle`), at most `maxPendingInput.handlers` running at once, replied to when a
// reply is expected.
import { RealtimeError } from '../adapter/realtime-error.js';
import { type ClientMessage, type ErrorBody, ErrorCodes, type ServerMessage } from '../codec/messages.js';
import type { ReportError, SessionHandlers, SessionOptions } from './session-deps.js';

/** What requests need from their session. */
export interface RequestHost {
  /** Whether the session is closing: no new request starts. */
  closing(): boolean;
  send(message: ServerMessage): void;
  reply(id: number, data: unknown, err?: ErrorBody): void;
}

interface Waiting {
  resolve: (d: unknown) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

export class SessionRequests<S> {
  private nextRequestId = 1;
  private readonly requests = new Map<number, Waiting>();
  private handlersInFlight = 0;
  /** Wakes the input waiting for a handler slot (`maxPendingInput.handlers`). */
  private handlerReturned: (() => void) | undefined;

  constructor(
    private readonly session: S,
    private readonly options: Pick<SessionOptions<S>, 'requestTimeoutMs' | 'maxPendingInput'>,
    private readonly handlers: SessionHandlers<S>,
    private readonly host: RequestHost,
    private readonly reportError: ReportError,
  ) {}

  /** Sends an event and resolves with the client's reply (rejects on error, timeout or disconnect). */
  request(event: string, data: unknown, timeoutMs = this.options.requestTimeoutMs): Promise<unknown> {
    if (this.host.closing())
      return Promise.reject(new RealtimeError(ErrorCodes.DISCONNECTED, 'the connection is closed'));
    const id = this.nextRequestId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.requests.delete(id);
        reject(new RealtimeError(ErrorCodes.TIMEOUT, `no reply to "${event}" within ${timeoutMs} ms`));
      }, timeoutMs);
      this.requests.set(id, { resolve, reject, timer });
      this.host.send({ t: 'emit', id, ev: event, d: data ?? null });
    });
  }

  /** The client's reply to one of our requests (unknown or late ids are ignored). */
  receiveReply(message: Extract<ClientMessage, { t: 'res' }>): void {
    const r = this.requests.get(message.id);
    if (!r) return;
    this.requests.delete(message.id);
    clearTimeout(r.timer);
    if (message.ok) r.resolve(message.d);
    else
      r.reject(new RealtimeError(message.err?.code ?? ErrorCodes.HANDLER_ERROR, message.err?.message ?? ''));
  }

  /**
   * Starts the handler of a client event. Handlers run concurrently with later messages; only
   * the reply waits for them. At `maxPendingInput.handlers` in flight, this (and the input behind
   * it, which then pauses the socket past `maxPendingInput`) waits until one returns.
   */
  async receiveEmit(message: Extract<ClientMessage, { t: 'emit' }>): Promise<void> {
    while (this.handlersInFlight >= this.options.maxPendingInput.handlers) {
      await new Promise<void>((resolve) => {
        this.handlerReturned = resolve;
      });
      if (this.host.closing()) return;
    }
    this.handlersInFlight++;
    void this.runHandler(message.ev, message.d, message.id).finally(() => {
      this.handlersInFlight--;
      const wake = this.handlerReturned;
      this.handlerReturned = undefined;
      wake?.();
    });
  }

  private async runHandler(event: string, data: unknown, id: number | undefined): Promise<void> {
    const handler = this.handlers.handlerFor(event);
    if (!handler) {
      if (id !== undefined) {
        this.host.reply(id, undefined, {
          code: ErrorCodes.UNKNOWN_EVENT,
          message: `no handler for "${event}"`,
        });
      } else {
        this.handlers.unhandled(this.session, event, data);
      }
      return;
    }
    try {
      const result = await handler(data as never, this.session);
      if (id !== undefined) this.host.reply(id, result);
    } catch (error) {
      if (error instanceof RealtimeError) {
        if (id !== undefined) this.host.reply(id, undefined, { code: error.code, message: error.message });
      } else {
        this.reportError(error as Error);
        if (id !== undefined) {
          this.host.reply(id, undefined, {
            code: ErrorCodes.HANDLER_ERROR,
            message: `handler for "${event}" failed`,
          });
        }
      }
    }
  }

  /** The session is closing: pending requests reject, input waiting for a handler slot ends. */
  release(): void {
    // Even if the handler never returns.
    this.handlerReturned?.();
    this.handlerReturned = undefined;
    for (const [id, r] of this.requests) {
      clearTimeout(r.timer);
      r.reject(new RealtimeError(ErrorCodes.DISCONNECTED, 'the connection closed before the reply'));
      this.requests.delete(id);
    }
  }
}
