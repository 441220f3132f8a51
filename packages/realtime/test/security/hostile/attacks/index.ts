// Every attacker of the hostile-peers run, in the order of issue 13.
import type { Attack } from '../attack.js';
import { deflateUnread } from './deflate-unread.js';
import { fallbackFlood } from './fallback-flood.js';
import { historyFlood } from './history-flood.js';
import { presenceFlap } from './presence-flap.js';
import { replayLoop } from './replay-loop.js';
import { unreadPings } from './unread-pings.js';

export const attacks: readonly Attack[] = [
  fallbackFlood,
  historyFlood,
  replayLoop,
  presenceFlap,
  unreadPings,
  deflateUnread,
];
