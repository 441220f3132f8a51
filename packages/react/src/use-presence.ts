import type { Channel, EventMapShape, RealtimeClient } from '@ieum/realtime/client';
import { useEffect, useState } from 'react';
import { holdChannel } from './channel-holds.js';
import { useRealtimeClient } from './realtime-provider.js';

/**
 * The users present in the channel `name`, kept current while the component is mounted (it
 * subscribes with presence events). Presence lists users the server authenticated: a server
 * without an `authenticate` hook has none, so this stays empty.
 */
export function usePresence<M extends EventMapShape>(
  name: string,
  options: { client?: RealtimeClient<M> } = {},
): string[] {
  const client = useRealtimeClient(options.client);
  const channel = (client as RealtimeClient).channel(name, { presence: true });
  const [users, setUsers] = useState<string[]>(() => [...channel.present]);
  useEffect(() => {
    const update = () => setUsers([...channel.present]);
    channel.on('join', update).on('leave', update).on('subscribed', update);
    // Subscribed without presence by another hook: subscribing again asks for it.
    const release = holdChannel(channel as Channel<object>, true);
    update();
    return () => {
      channel.off('join', update).off('leave', update).off('subscribed', update);
      release();
    };
  }, [channel]);
  return users;
}
