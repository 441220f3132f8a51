// Seeded randomness for the hostile-peers run: the same seed gives the same payloads, mask keys,
// channel names and pacing jitter, so a failure can be replayed with HOSTILE_SEED=<seed>.

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Integer in [0, n). */
  int(n: number): number;
  bytes(n: number): Buffer;
  /** `n` characters of [A-Za-z0-9+/]: JSON-safe and hard to compress (6 bits per byte). */
  text(n: number): string;
  /** A generator of its own, for one attacker (so attackers do not shift each other's draws). */
  fork(label: string): Rng;
}

export function createRng(seed: number): Rng {
  let s = seed >>> 0;
  // mulberry32: small, fast, good enough for test inputs (not for anything secret).
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const rng: Rng = {
    next,
    int: (n) => Math.floor(next() * n),
    bytes(n) {
      const b = Buffer.allocUnsafe(n);
      for (let i = 0; i < n; i++) b[i] = (next() * 256) | 0;
      return b;
    },
    text: (n) =>
      rng
        .bytes(Math.ceil((n * 3) / 4) + 3)
        .toString('base64')
        .slice(0, n),
    fork(label) {
      let h = seed >>> 0;
      for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193) >>> 0;
      return createRng(h);
    },
  };
  return rng;
}
