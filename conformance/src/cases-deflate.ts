// Sections 12 and 13: permessage-deflate (RFC 7692). 12.x: message sizes and payload kinds under
// default parameters; 13.x: the same traffic under each negotiated parameter combination.
import type { Case } from './case-kinds.js';
import { DeflateCodec } from './deflate-codec.js';
import { type FrameSpec, OP } from './frames.js';
import type { CaseResult, Message, Session } from './session.js';

const SIZES = [16, 64, 256, 1024, 4096, 8192, 16384, 32768, 65536, 131072];
/** Messages per case: 1000 for small sizes, fewer for large ones so a case moves ≤ ~4 MiB. */
/** Messages per case: `max` (1000, as Autobahn) for small sizes, fewer for large ones so a case moves ≤ ~4 MiB. */
const countFor = (size: number, max = 1000) =>
  Math.max(Math.min(10, max), Math.min(max, Math.floor((4 * 1024 * 1024) / size)));

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Kind = 'text-repetitive' | 'text-utf8' | 'binary-random' | 'binary-repetitive' | 'text-random';
function makePayload(kind: Kind, size: number, seed: number): { opcode: number; data: Buffer } {
  const r = rng(seed);
  if (kind === 'binary-random')
    return {
      opcode: OP.BINARY,
      data: Buffer.from(Array.from({ length: size }, () => Math.floor(r() * 256))),
    };
  if (kind === 'binary-repetitive')
    return { opcode: OP.BINARY, data: Buffer.from(Array.from({ length: size }, (_, i) => (i * 7) % 64)) };
  if (kind === 'text-random') {
    return {
      opcode: OP.TEXT,
      data: Buffer.from(Array.from({ length: size }, () => 32 + Math.floor(r() * 95))),
    };
  }
  const unit = kind === 'text-utf8' ? '이음 연결 ÄÖÜ ' : 'Hello, WebSocket compression! ';
  let text = '';
  while (Buffer.byteLength(text) < size) text += unit;
  const b = Buffer.from(text);
  // Cut on a character boundary at or below `size`.
  let end = Math.min(size, b.length);
  while (end > 0 && (b[end]! & 0xc0) === 0x80) end--;
  return { opcode: OP.TEXT, data: b.subarray(0, end) };
}

async function exchange(
  s: Session,
  payloads: Array<{ opcode: number; data: Buffer }>,
  fragments: number,
): Promise<CaseResult> {
  if (!s.deflate) return { outcome: 'FAILED', reason: 'permessage-deflate was not negotiated' };
  const codec = new DeflateCodec(s.deflate, s.role);
  try {
    let checked = 0;
    const window = 32;
    for (let k = 0; k < payloads.length; k++) {
      const { opcode, data } = payloads[k]!;
      const z = await codec.compress(data);
      const frames: FrameSpec[] = [];
      const step = Math.max(1, Math.ceil(z.length / fragments));
      for (let i = 0; i < z.length || i === 0; i += step) {
        frames.push({
          opcode: i === 0 ? opcode : OP.CONT,
          payload: z.subarray(i, i + step),
          fin: i + step >= z.length,
          rsv: i === 0 ? 4 : 0,
        });
      }
      await s.send(frames);
      // Keep a few messages in flight, then check echoes in order.
      while (k - checked >= window || (k === payloads.length - 1 && checked < payloads.length)) {
        const ok = await s.until(() => s.view().messages.length > checked || s.peerClosed(), 30_000);
        const v = s.view();
        if (v.violation) return { outcome: 'FAILED', reason: v.violation };
        if (!ok || v.messages.length <= checked)
          return { outcome: 'FAILED', reason: `no echo for message ${checked + 1}` };
        const m: Message = v.messages[checked]!;
        const body = m.compressed ? await codec.decompress(m.data) : m.data;
        const want = payloads[checked]!;
        if (m.opcode !== want.opcode || !body.equals(want.data)) {
          return {
            outcome: 'FAILED',
            reason: `message ${checked + 1}: echo differs (${body.length} vs ${want.data.length} bytes)`,
          };
        }
        checked++;
      }
    }
    await s.finishClose();
    const v = s.view();
    if (!v.close) return { outcome: 'FAILED', reason: 'peer did not answer our close frame' };
    return { outcome: 'OK', reason: '' };
  } catch (error) {
    return {
      outcome: 'FAILED',
      reason: `invalid compressed data from the peer: ${(error as Error).message}`,
    };
  } finally {
    codec.close();
  }
}

interface Negotiation {
  /** Offer sent when the harness is the client. */
  offer: string;
  /** Response parameters when the harness is the server; `clientBits` only if the client offered it. */
  response: {
    serverNoContext?: boolean;
    clientNoContext?: boolean;
    serverBits?: number;
    clientBits?: number;
  };
}

function respond(n: Negotiation['response']): (offer: string) => string | undefined {
  return (offer) => {
    const first = offer
      .split(',')
      .map((x) => x.trim())
      .find((x) => x.startsWith('permessage-deflate'));
    if (!first) return undefined;
    const parts = ['permessage-deflate'];
    if (n.serverNoContext) parts.push('server_no_context_takeover');
    if (n.clientNoContext) parts.push('client_no_context_takeover');
    if (n.serverBits) parts.push(`server_max_window_bits=${n.serverBits}`);
    // RFC 7692 §7.1.2.2: only when the client offered client_max_window_bits.
    if (n.clientBits && /client_max_window_bits/.test(first))
      parts.push(`client_max_window_bits=${n.clientBits}`);
    return parts.join('; ');
  };
}

function deflateCase(
  id: string,
  description: string,
  n: Negotiation,
  kind: Kind,
  size: number,
  fragments: number,
  count: number,
): Case {
  return {
    id,
    description,
    timeoutMs: 120_000,
    deflateOffer: n.offer,
    deflateResponse: respond(n.response),
    run: (s) =>
      exchange(
        s,
        Array.from({ length: count }, (_, i) => makePayload(kind, size, i + size)),
        fragments,
      ),
  };
}

export interface DeflateCaseOptions {
  /** Most messages per case. Default 1000 (Autobahn's count); a smaller number runs faster. */
  maxMessages?: number;
}

export function deflateCases(options: DeflateCaseOptions = {}): Case[] {
  const count = (size: number) => countFor(size, options.maxMessages ?? 1000);
  const cases: Case[] = [];
  const defaults: Negotiation = { offer: 'permessage-deflate; client_max_window_bits', response: {} };
  const kinds: Array<[string, Kind]> = [
    ['12.1', 'text-repetitive'],
    ['12.2', 'text-utf8'],
    ['12.3', 'binary-random'],
    ['12.4', 'binary-repetitive'],
    ['12.5', 'text-random'],
  ];
  for (const [section, kind] of kinds) {
    SIZES.forEach((size, i) => {
      cases.push(
        deflateCase(
          `${section}.${i + 1}`,
          `${count(size)} ${kind} messages of ${size} bytes, compressed`,
          defaults,
          kind,
          size,
          1,
          count(size),
        ),
      );
    });
    SIZES.slice(2).forEach((size, i) => {
      cases.push(
        deflateCase(
          `${section}.${SIZES.length + i + 1}`,
          `${count(size)} ${kind} messages of ${size} bytes, compressed, in 4 fragments`,
          defaults,
          kind,
          size,
          4,
          count(size),
        ),
      );
    });
  }
  const negotiations: Array<[string, string, Negotiation]> = [
    ['13.1', 'default parameters', defaults],
    [
      '13.2',
      'client_no_context_takeover',
      {
        offer: 'permessage-deflate; client_no_context_takeover; client_max_window_bits',
        response: { clientNoContext: true },
      },
    ],
    [
      '13.3',
      'window bits 8',
      {
        offer: 'permessage-deflate; client_max_window_bits=8; server_max_window_bits=8',
        response: { serverBits: 8, clientBits: 8 },
      },
    ],
    [
      '13.4',
      'window bits 15',
      {
        offer: 'permessage-deflate; client_max_window_bits=15; server_max_window_bits=15',
        response: { serverBits: 15, clientBits: 15 },
      },
    ],
    [
      '13.5',
      'no context takeover both ways, window bits 8',
      {
        offer:
          'permessage-deflate; client_no_context_takeover; server_no_context_takeover; client_max_window_bits=8; server_max_window_bits=8',
        response: { serverNoContext: true, clientNoContext: true, serverBits: 8, clientBits: 8 },
      },
    ],
    [
      '13.6',
      'no context takeover both ways, window bits 15',
      {
        offer:
          'permessage-deflate; client_no_context_takeover; server_no_context_takeover; client_max_window_bits=15; server_max_window_bits=15',
        response: { serverNoContext: true, clientNoContext: true, serverBits: 15, clientBits: 15 },
      },
    ],
    [
      '13.7',
      'several offers in one header, the first with an unknown parameter',
      {
        offer:
          'permessage-deflate; x-unknown=1, permessage-deflate; server_no_context_takeover; client_max_window_bits=9, permessage-deflate',
        response: { serverNoContext: true, serverBits: 9 },
      },
    ],
  ];
  for (const [section, name, n] of negotiations) {
    SIZES.forEach((size, i) => {
      cases.push(
        deflateCase(
          `${section}.${i + 1}`,
          `${name}: ${count(size)} text messages of ${size} bytes`,
          n,
          'text-repetitive',
          size,
          1,
          count(size),
        ),
      );
    });
  }
  return cases;
}
