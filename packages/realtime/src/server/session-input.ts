// What a session receives, in order and bounded: the message rate (`rateLimit`, close 4429), the
// byte budget (`inputBytesPerSecond`: reading stops until it refills) and the messages waiting
// for their turn (`maxPendingInput`: reading stops past it). Messages run one after another, so
// a publish after a subscribe sees the subscription.
import { isOverloaded } from '../adapter/realtime-error.js';
import { DisconnectCode } from '../codec/disconnect-codes.js';
import { TokenBucket } from '../transports/rate-limit.js';
import type { ReportError, SessionOptions } from './session-deps.js';

/** What the input pipeline needs from its session. */
export interface InputHost {
  /** Whether the session is closing: nothing it receives acts any more. */
  closing(): boolean;
  fail(code: number, reason: string): void;
  /** Stops and resumes reading the transport (backpressure). */
  pause(): void;
  resume(): void;
}

export class SessionInput {
  private readonly bucket: TokenBucket | undefined;
  /** `inputBytesPerSecond`: bytes the peer may send. */
  private readonly budget: TokenBucket | undefined;
  /** Reading is stopped until the input byte budget has refilled (`inputBytesPerSecond`). */
  private throttle: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();
  private depth = 0;
  private bytes = 0;
  private paused = false;

  constructor(
    private readonly options: Pick<
      SessionOptions<unknown>,
      'rateLimit' | 'inputRateLimit' | 'maxPendingInput'
    >,
    private readonly host: InputHost,
    private readonly reportError: ReportError,
  ) {
    this.bucket = options.rateLimit ? new TokenBucket(options.rateLimit) : undefined;
    this.budget = options.inputRateLimit ? new TokenBucket(options.inputRateLimit) : undefined;
  }

  /** Whether no received message waits for its turn (the next one may act at once). */
  get idle(): boolean {
    return this.depth === 0;
  }

  /**
   * Counts a received message of `size` bytes against the limits. False once the message rate
   * is exceeded: the session was closed with 4429 and the message must be dropped.
   */
  admit(size: number): boolean {
    if (this.bucket && !this.bucket.take()) {
      this.host.fail(DisconnectCode.RATE_LIMITED, 'rate limit exceeded');
      return false;
    }
    if (this.budget) {
      // Over the byte budget, this message is still processed (it has been read) and reading
      // stops until the budget has refilled: at most one message ahead of it.
      const wait = this.budget.reserve(size);
      if (wait > 0 && !this.throttle) {
        this.throttle = setTimeout(() => {
          this.throttle = undefined;
          if (!this.host.closing()) this.update();
        }, wait);
        this.update();
      }
    }
    return true;
  }

  /**
   * Runs `task` (for a message of `size` bytes) after the earlier messages, in arrival order.
   * Past `maxPendingInput` waiting, the transport is not read. A task that throws closes the
   * session: 1013 for an adapter out of capacity (the client retries later), else 1011.
   */
  enqueue(task: () => Promise<void>, size: number): void {
    this.depth++;
    this.bytes += size;
    this.update();
    this.chain = this.chain
      .then(task)
      .catch((error: Error) => {
        this.reportError(error as Error);
        // An adapter out of capacity (Redis at maxmemory...): the client retries later, with backoff.
        if (isOverloaded(error))
          this.host.fail(DisconnectCode.TRY_AGAIN_LATER, 'server overloaded: try again later');
        else this.host.fail(DisconnectCode.SERVER_ERROR, 'internal error');
      })
      .finally(() => {
        this.depth--;
        this.bytes -= size;
        this.update();
      });
  }

  /** Stops the byte-budget timer (the session is closing). */
  release(): void {
    clearTimeout(this.throttle);
  }

  /**
   * Pauses reading while too much received input waits to be processed, or while the input byte
   * budget refills (`inputBytesPerSecond`); resumes once neither holds.
   */
  private update(): void {
    const max = this.options.maxPendingInput;
    const over = this.throttle !== undefined || this.depth > max.messages || this.bytes > max.bytes;
    if (over === this.paused) return;
    this.paused = over;
    if (over) this.host.pause();
    else this.host.resume();
  }
}
