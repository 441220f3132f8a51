// ot-text-unicode counts positions in Unicode code points; the DOM counts UTF-16 code units. These
// convert between the two (a position inside a surrogate pair counts as the pair's start).

/** Code points in `s`. */
export function codePointLength(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}

/** The code point position of UTF-16 index `index` of `s`. */
export const toCodePoints = (s: string, index: number): number => codePointLength(s.slice(0, index));

/** The UTF-16 index of code point position `pos` of `s` (clamped to its length). */
export function toUtf16(s: string, pos: number): number {
  let i = 0;
  for (let n = 0; n < pos && i < s.length; n++) {
    const c = s.charCodeAt(i);
    const d = s.charCodeAt(i + 1);
    i += c >= 0xd800 && c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff ? 2 : 1;
  }
  return i;
}
