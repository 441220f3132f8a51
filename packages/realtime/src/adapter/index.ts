/**
 * @ieum/realtime/adapter: the `Adapter` interface (where channels live: history, fan-out,
 * deduplication, presence), its types and limits, and the in-memory adapter. For adapter
 * implementations (`@ieum/redis`) and applications that pick one: it loads neither the server,
 * nor jose, nor prom-client. The behaviour suite every adapter passes is
 * `@ieum/realtime/adapter-conformance`.
 */
export {
  type Adapter,
  type AdapterEvent,
  type ChannelEntry,
  type ChannelPosition,
  DEFAULT_DEDUPE,
  DEFAULT_HISTORY,
  DEFAULT_HISTORY_BYTES,
  DEFAULT_MAX_CHANNELS,
  type DedupeLimits,
  type HistoryByteLimits,
  type HistoryLimits,
  type HistoryResult,
  type PresenceChange,
  type PresenceListEntry,
  type PresenceUpdateEvent,
  type PublishInput,
  type PublishResult,
} from './adapter.js';
export { MemoryAdapter, type MemoryAdapterOptions } from './memory.js';
export { isOverloaded, RealtimeError } from './realtime-error.js';
