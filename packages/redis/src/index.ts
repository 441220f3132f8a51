/**
 * @ieum/redis: the Redis adapter of @ieum/realtime. Several server processes share channels
 * (history, offsets, epochs), fan-out, message-id dedupe and presence through one Redis.
 */
export { RedisAdapter, type RedisAdapterStatus } from './adapter.js';
export { RedisAdapterError, RedisAdapterErrorCode } from './errors.js';
export type { RedisAdapterOptions } from './options.js';
