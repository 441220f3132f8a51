// Close reasons that fit a close frame, whatever they quote.

/** Largest close reason in UTF-8 bytes (RFC 6455 §5.5: a control frame carries at most 125 bytes). */
const MAX_REASON_BYTES = 123;

/**
 * `s` cut to fit a close frame, between code points, with `…` (3 bytes) marking the cut. Reasons
 * quote what a peer sent (an unknown type, a hook's message), and `WebSocket.close` throws for a
 * reason past 123 bytes: counted in UTF-16 units, 100 of them can be 300 bytes.
 */
export function truncateReason(s: string): string {
  if (Buffer.byteLength(s) <= MAX_REASON_BYTES) return s;
  let out = '';
  let bytes = 3;
  for (const ch of s) {
    bytes += Buffer.byteLength(ch);
    if (bytes > MAX_REASON_BYTES) break;
    out += ch;
  }
  return `${out}…`;
}
