// Exponential backoff with full jitter: the delay before attempt n is uniform in
// [0, min(maxDelayMs, initialDelayMs * factor^n)], so a crowd of clients does not reconnect in step.

export interface BackoffOptions {
  /** Ceiling of the first delay, in milliseconds. Default 500. */
  initialDelayMs: number;
  /** Largest delay, in milliseconds. Default 30,000. */
  maxDelayMs: number;
  /** Growth per attempt. Default 2. */
  factor: number;
  /** Attempts before giving up (state `closed`). Default Infinity. */
  maxAttempts: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = {
  initialDelayMs: 500,
  maxDelayMs: 30_000,
  factor: 2,
  maxAttempts: Number.POSITIVE_INFINITY,
};

export function backoffDelay(
  attempt: number,
  options: BackoffOptions,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(options.maxDelayMs, options.initialDelayMs * options.factor ** attempt);
  return Math.floor(random() * ceiling);
}
