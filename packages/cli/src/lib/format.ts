import { CloseCode } from '@ieum/websocket';

const CLOSE_NAMES = new Map<number, string>(
  Object.entries(CloseCode).map(([name, code]) => [code, name.toLowerCase().replaceAll('_', ' ')]),
);

/** `1000 (normal)`, `4001`, `1006 (abnormal closure)`: a close code as a person reads it. */
export function describeClose(code: number, reason: string): string {
  const name = CLOSE_NAMES.get(code);
  const head = name ? `${code} (${name})` : String(code);
  return reason ? `${head} ${JSON.stringify(reason)}` : head;
}

/** Encodings a binary message is shown or typed in. */
export type BinaryEncoding = 'hex' | 'base64';

/** Decodes typed binary input; throws a message that says what is wrong. */
export function decodeBinary(text: string, encoding: BinaryEncoding): Buffer {
  const compact = text.replace(/\s+/g, '');
  if (encoding === 'hex') {
    if (!/^(?:[0-9a-f]{2})*$/i.test(compact)) throw new Error('not hex: write pairs of 0-9a-f, e.g. 01ff');
    return Buffer.from(compact, 'hex');
  }
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(compact)) throw new Error('not base64');
  return Buffer.from(compact, 'base64');
}

/** Shows bytes in `encoding` (hex with a space every byte, for reading). */
export function encodeBinary(data: Buffer, encoding: BinaryEncoding): string {
  return encoding === 'hex' ? (data.toString('hex').match(/../g) ?? []).join(' ') : data.toString('base64');
}

/** Pretty-prints `text` when it is a JSON object or array; returns it unchanged otherwise. */
export function prettyJson(text: string): string {
  const first = text.trimStart()[0];
  if (first !== '{' && first !== '[') return text;
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

/** `12:34:56.789` in local time. */
export function clock(date = new Date()): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(date.getHours())}:${p(date.getMinutes())}:${p(date.getSeconds())}.${p(date.getMilliseconds(), 3)}`;
}

/** `1.2 kB`, `3.4 MB`: decimal units, as throughput is usually quoted. */
export function humanBytes(n: number): string {
  if (n < 1000) return `${Math.round(n)} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = -1;
  do {
    v /= 1000;
    i++;
  } while (v >= 1000 && i < units.length - 1);
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`;
}

/** `1,234` */
export function humanCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}
