/**
 * A compact HDR-style histogram of non-negative integers (microseconds here): values below 128
 * are counted exactly, larger ones in buckets 1/64 of their power of two wide, so any recorded
 * value is reported within 1.6 % whatever its size. Fixed memory (about 4 kB up to 2^53), O(1)
 * record, mergeable (for results from several workers).
 */
export class Histogram {
  private static readonly SUB_BITS = 6;
  private static readonly SUB = 1 << Histogram.SUB_BITS;
  readonly counts: Float64Array;
  count = 0;
  min = Number.POSITIVE_INFINITY;
  max = 0;
  sum = 0;

  constructor(counts?: Float64Array) {
    this.counts = counts ?? new Float64Array(Histogram.SUB * 2 + Histogram.SUB * 48);
  }

  private static index(value: number): number {
    if (value < Histogram.SUB * 2) return value;
    const exponent = Math.floor(Math.log2(value)) - Histogram.SUB_BITS;
    const sub = Math.floor(value / 2 ** exponent) - Histogram.SUB;
    return Histogram.SUB * 2 + (exponent - 1) * Histogram.SUB + sub;
  }

  /** The largest value counted in bucket `index`, i.e. the value a percentile reports. */
  private static upperBound(index: number): number {
    if (index < Histogram.SUB * 2) return index;
    const exponent = Math.floor((index - Histogram.SUB * 2) / Histogram.SUB) + 1;
    const sub = (index - Histogram.SUB * 2) % Histogram.SUB;
    return (Histogram.SUB + sub + 1) * 2 ** exponent - 1;
  }

  /** Counts `value` (rounded, clamped to 0). */
  record(value: number): void {
    const v = Math.max(0, Math.round(value));
    const i = Math.min(Histogram.index(v), this.counts.length - 1);
    this.counts[i] = (this.counts[i] ?? 0) + 1;
    this.count++;
    this.sum += v;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
  }

  /** A plain copy that survives `postMessage` (see `Histogram.from`). */
  snapshot(): HistogramSnapshot {
    return { counts: this.counts.slice(), count: this.count, min: this.min, max: this.max, sum: this.sum };
  }

  /** The histogram a `snapshot()` was taken of. */
  static from(s: HistogramSnapshot): Histogram {
    const h = new Histogram(s.counts);
    h.count = s.count;
    h.min = s.min;
    h.max = s.max;
    h.sum = s.sum;
    return h;
  }

  /** Adds `other`'s counts to this one. */
  merge(other: Histogram): void {
    for (let i = 0; i < other.counts.length; i++)
      this.counts[i] = (this.counts[i] ?? 0) + (other.counts[i] ?? 0);
    this.count += other.count;
    this.sum += other.sum;
    this.min = Math.min(this.min, other.min);
    this.max = Math.max(this.max, other.max);
  }

  /** The value at percentile `p` (0-100); 0 when empty. Never above `max`. */
  percentile(p: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil((p / 100) * this.count));
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i] ?? 0;
      if (seen >= rank) return Math.min(Histogram.upperBound(i), this.max);
    }
    return this.max;
  }

  mean(): number {
    return this.count === 0 ? 0 : this.sum / this.count;
  }

  reset(): void {
    this.counts.fill(0);
    this.count = 0;
    this.sum = 0;
    this.min = Number.POSITIVE_INFINITY;
    this.max = 0;
  }
}

/** A histogram as plain data, for sending between threads. */
export interface HistogramSnapshot {
  counts: Float64Array;
  count: number;
  min: number;
  max: number;
  sum: number;
}
