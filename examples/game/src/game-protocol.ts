// Names and shapes the game's server and client agree on, besides the binary codecs.
import type { Arena } from './movement.js';

/** Events a game client sends (realtime `emit`/`request`). */
export const GameEvents = { input: 'i', ping: 'ping', info: 'info' } as const;
/** The event a snapshot arrives as, on the client. */
export const SNAPSHOT_EVENT = 's';

/** The reply to `info`: what the client needs to predict and draw. */
export interface GameInfo {
  arena: Arena;
  tickHz: number;
  snapshotHz: number;
  view: { halfWidth: number; halfHeight: number };
}
