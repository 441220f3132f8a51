/**
 * @ieum/nats: the NATS JetStream adapter of @ieum/realtime. Several server processes share
 * channels (history, offsets, epochs), fan-out, message-id dedupe and presence through JetStream.
 */
export { NatsAdapter, type NatsAdapterStatus } from './adapter.js';
export { NatsAdapterError, NatsAdapterErrorCode } from './errors.js';
export type { NatsAdapterOptions } from './options.js';
