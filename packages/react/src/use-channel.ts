import type {
  Channel,
  ChannelMessage,
  ChannelName,
  ChannelPayloads,
  EventMapShape,
  RealtimeClient,
} from '@ieum/realtime/client';
import { useEffect, useRef } from 'react';
import { holdChannel } from './channel-holds.js';
import { useRealtimeClient } from './realtime-provider.js';

/** Options of {@link useChannel}. */
export interface UseChannelOptions<M extends EventMapShape> {
  /** The client (default: the `RealtimeProvider`'s). Passing a typed one types the channel. */
  client?: RealtimeClient<M>;
}

/**
 * Subscribes to the channel `name` while the component is mounted (recovering what it missed
 * across reconnects) and calls `onMessage` for each message. Returns the channel, to publish:
 * `const { channel } = useChannel('room:1', (m) => ...); channel.publish('message', data)`.
 * Several components may use one channel: it is unsubscribed when the last unmounts.
 */
export function useChannel<
  M extends EventMapShape = EventMapShape,
  N extends ChannelName<M> = ChannelName<M>,
>(
  name: N,
  onMessage?: (message: ChannelMessage<ChannelPayloads<M, N>>) => void,
  options: UseChannelOptions<M> = {},
): { channel: Channel<ChannelPayloads<M, N>> } {
  const client = useRealtimeClient(options.client);
  const channel = client.channel(name);
  // The latest callback, without resubscribing on every render.
  const handler = useRef(onMessage);
  handler.current = onMessage;
  useEffect(() => {
    const listener = (m: ChannelMessage<ChannelPayloads<M, N>>) => handler.current?.(m);
    channel.on('message', listener);
    const release = holdChannel(channel as Channel<object>, false);
    return () => {
      channel.off('message', listener);
      release();
    };
  }, [channel]);
  return { channel };
}
