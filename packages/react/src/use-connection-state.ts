import type { ConnectionState, EventMapShape, RealtimeClient } from '@ieum/realtime/client';
import { useCallback, useSyncExternalStore } from 'react';
import { useRealtimeClient } from './realtime-provider.js';

/**
 * The client's connection state (`connecting`, `open`, `reconnecting`, `closed`), re-rendering
 * when it changes. Uses the provider's client unless one is given.
 */
export function useConnectionState<M extends EventMapShape>(client?: RealtimeClient<M>): ConnectionState {
  const c = useRealtimeClient(client);
  const subscribe = useCallback(
    (changed: () => void) => {
      c.on('state', changed);
      return () => void c.off('state', changed);
    },
    [c],
  );
  return useSyncExternalStore(subscribe, () => c.state);
}
