// Components share a client's channel objects: the channel stays subscribed while any mounted
// hook holds it, and is unsubscribed when the last lets go (unless the app subscribed it itself).
import type { Channel } from '@ieum/realtime/client';

const holds = new WeakMap<object, { count: number; ours: boolean }>();

/** Subscribes `channel` for a mounted hook; returns the release for its cleanup. */
export function holdChannel(channel: Channel<object>, resubscribe: boolean): () => void {
  let hold = holds.get(channel);
  if (!hold) {
    hold = { count: 0, ours: !channel.wanted };
    holds.set(channel, hold);
  }
  hold.count++;
  // Errors reach the channel's `error` event; the promise is only for callers who wait.
  if (hold.count === 1 || resubscribe || !channel.wanted) channel.subscribe().catch(() => {});
  const h = hold;
  return () => {
    h.count--;
    if (h.count > 0) return;
    holds.delete(channel);
    if (h.ours) channel.unsubscribe().catch(() => {});
  };
}
