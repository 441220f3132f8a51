// Codecs turn protocol messages into WebSocket messages and back. The codec is chosen with the
// WebSocket subprotocol `ieum.v1.<codec name>`, so both sides know it before the first message.
import { decode as msgpackDecode, encode as msgpackEncode } from '@msgpack/msgpack';
import { binaryFromJson, binaryToJson, mayHoldBinary } from './binary.js';
import { PROTOCOL_VERSION, ProtocolViolation } from './messages.js';

export interface Codec {
  /** Short name used in the subprotocol, e.g. `json`. */
  readonly name: string;
  /** Whether encoded messages are binary (sent as binary frames) or text. */
  readonly binary: boolean;
  encode(message: unknown): string | Uint8Array;
  /** Throws `ProtocolViolation` for data that does not decode. */
  decode(data: string | Uint8Array): unknown;
}

const textDecoder = new TextDecoder('utf-8', { fatal: true });

/**
 * JSON in text frames: the default, readable in any WebSocket debugging tool. Binary data
 * (`Uint8Array`) is written as `{"$bin":"<base64>"}` and read back as a `Uint8Array`.
 */
export const jsonCodec: Codec = {
  name: 'json',
  binary: false,
  encode: (message) => JSON.stringify(binaryToJson(message)),
  decode(data) {
    const text = typeof data === 'string' ? data : decodeUtf8(data);
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch (error) {
      throw new ProtocolViolation(`not valid JSON: ${(error as Error).message}`);
    }
    return mayHoldBinary(text) ? binaryFromJson(message) : message;
  },
};

function decodeUtf8(data: Uint8Array): string {
  try {
    return textDecoder.decode(data);
  } catch (error) {
    throw new ProtocolViolation(`not valid JSON: ${(error as Error).message}`);
  }
}

/** MessagePack in binary frames: smaller, and carries `Uint8Array` payloads without base64. */
export const msgpackCodec: Codec = {
  name: 'msgpack',
  binary: true,
  encode: (message) => msgpackEncode(message, { ignoreUndefined: true }),
  decode(data) {
    if (typeof data === 'string') throw new ProtocolViolation('msgpack messages must be binary frames');
    try {
      return msgpackDecode(data);
    } catch (error) {
      throw new ProtocolViolation(`not valid MessagePack: ${(error as Error).message}`);
    }
  },
};

/** The WebSocket subprotocol naming this protocol version and `codec`. */
export const subprotocolFor = (codec: Codec): string => `ieum.v${PROTOCOL_VERSION}.${codec.name}`;
