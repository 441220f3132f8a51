import { randomFillSync } from 'node:crypto';

const POOL_BYTES = 8 * 1024;
let pool = Buffer.alloc(0);
let offset = POOL_BYTES;

/**
 * Fills `target` with cryptographically strong random bytes, drawn from a pooled buffer so a
 * client sending many small frames does not make one `randomFillSync` call per masking key.
 */
export function randomFill(target: Uint8Array): void {
  const n = target.length;
  if (n > POOL_BYTES / 4) {
    randomFillSync(target);
    return;
  }
  if (offset + n > POOL_BYTES) {
    if (pool.length === 0) pool = Buffer.allocUnsafe(POOL_BYTES);
    randomFillSync(pool);
    offset = 0;
  }
  target.set(pool.subarray(offset, offset + n));
  offset += n;
}
