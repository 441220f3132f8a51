// The client the hooks use, given once near the root of the tree.
import type { EventMapShape, RealtimeClient } from '@ieum/realtime/client';
import { createContext, createElement, type ReactNode, useContext } from 'react';

// biome-ignore lint/suspicious/noExplicitAny: the provider holds a client of any event map
type AnyClient = RealtimeClient<any>;

const RealtimeContext = createContext<AnyClient | undefined>(undefined);

/** Makes `client` the one `useChannel`, `usePresence` and `useConnectionState` use below it. */
export function RealtimeProvider(props: { client: AnyClient; children?: ReactNode }): ReactNode {
  return createElement(RealtimeContext.Provider, { value: props.client }, props.children);
}

/**
 * `client` if given, else the one of the nearest `RealtimeProvider`, typed by the event map `M`.
 * @throws Error when there is neither.
 */
export function useRealtimeClient<M extends EventMapShape = EventMapShape>(
  client?: RealtimeClient<M>,
): RealtimeClient<M> {
  const provided = useContext(RealtimeContext);
  const c = client ?? provided;
  if (!c) {
    throw new Error(
      'no realtime client here: pass one, or wrap the tree in <RealtimeProvider client={client}>',
    );
  }
  return c as RealtimeClient<M>;
}
