/**
 * @ieum/react: React hooks for the @ieum/realtime client. Give the client once with
 * `<RealtimeProvider client={client}>`, then `useChannel`, `usePresence` and
 * `useConnectionState` in any component below it.
 */
export { RealtimeProvider, useRealtimeClient } from './realtime-provider.js';
export { type UseChannelOptions, useChannel } from './use-channel.js';
export { useConnectionState } from './use-connection-state.js';
export { usePresence } from './use-presence.js';
