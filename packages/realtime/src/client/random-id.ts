/** 32 hex digits from `crypto.getRandomValues`, or from `random` where there is no Web Crypto. */
export function randomId(random: () => number): string {
  const c = globalThis.crypto;
  if (c?.getRandomValues) {
    const b = c.getRandomValues(new Uint8Array(16));
    return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  }
  return Array.from({ length: 32 }, () => Math.floor(random() * 16).toString(16)).join('');
}
