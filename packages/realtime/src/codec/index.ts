/**
 * @ieum/realtime/codec: the realtime wire protocol (version 1) shared by server and client:
 * message types and validation, codecs (JSON, MessagePack) and the disconnect-code table.
 * No Node or DOM dependency.
 */
export { BINARY_MARKER } from './binary.js';
export { type Codec, jsonCodec, msgpackCodec, subprotocolFor } from './codec.js';
export { type DisconnectAction, DisconnectCode, disconnectAction } from './disconnect-codes.js';
export type {
  ChannelName,
  ChannelPayloads,
  ChannelsOf,
  ClientToServer,
  EventData,
  EventMapShape,
  EventName,
  EventReply,
  EventSignature,
  ServerToClient,
  UntypedEvents,
} from './event-map.js';
export {
  type ClientMessage,
  type ErrorBody,
  ErrorCodes,
  isWellFormed,
  MAX_NAME_LENGTH,
  type Position,
  PROTOCOL_VERSION,
  type PresenceMember,
  ProtocolViolation,
  parseClientMessage,
  parseServerMessage,
  type ServerMessage,
  type SubscribeResult,
} from './messages.js';
