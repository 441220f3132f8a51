/**
 * @ieum/redis: the Redis adapter of @ieum/realtime. Several server processes share channels
 * (history, offsets, epochs), fan-out, message-id dedupe and presence through one Redis.
 */
export { RedisAdapter, type RedisAdapterOptions, type RedisAdapterStatus } from './adapter.js';
export { RedisAdapterError, RedisAdapterErrorCode } from './errors.js';
