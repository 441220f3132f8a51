import { InvalidArgumentError } from 'commander';

/** Commander argument parsers: each throws `InvalidArgumentError` with what is expected. */

export function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError('must be a port number 0-65535');
  return n;
}

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError('must be a positive whole number');
  return n;
}

export function nonNegativeNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('must be a number, 0 or more');
  return n;
}

/** Bytes with an optional unit: `512`, `4k`, `1m` (binary multiples). */
export function bytes(value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]i?b?|b)?$/i.exec(value.trim());
  const unit = (m?.[2] ?? '').toLowerCase()[0];
  const n = m
    ? Number(m[1]) * (unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : unit === 'g' ? 1024 ** 3 : 1)
    : Number.NaN;
  if (!Number.isSafeInteger(Math.round(n)) || n <= 0) {
    throw new InvalidArgumentError('must be a positive number of bytes, e.g. 512, 4k or 1m');
  }
  return Math.round(n);
}

/** Seconds with an optional unit: `10`, `10s`, `500ms`, `2m`; returns milliseconds. */
export function duration(value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m)?$/i.exec(value.trim());
  if (!m) throw new InvalidArgumentError('must be a duration, e.g. 10s, 500ms or 2m');
  const n = Number(m[1]);
  const unit = (m[2] ?? 's').toLowerCase();
  return Math.round(unit === 'ms' ? n : unit === 'm' ? n * 60_000 : n * 1000);
}

/** Collects a repeatable option into an array. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** A parser that accepts one of `choices`. */
export function oneOf<T extends string>(...choices: T[]): (value: string) => T {
  return (value) => {
    if (!(choices as string[]).includes(value))
      throw new InvalidArgumentError(`must be one of ${choices.join(', ')}`);
    return value as T;
  };
}
