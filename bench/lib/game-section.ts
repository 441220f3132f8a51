// The "Game" section of docs/performance.md: written by bench/scripts/game.ts, kept as it is when
// `npm run bench` writes the rest of the document again.

const START = '<!-- game:start (written by bench/scripts/game.ts) -->';
const END = '<!-- game:end -->';

/** The section around the measured `table`. */
export function gameSection(table: string): string {
  return `${START}
## Game

The 60 Hz arena of examples/game (see its README for the netcode): one authoritative server
process, bot players in another process, each bot running the page's own client code (prediction,
reconciliation, delta decoding) and changing direction every 0.3-1.5 s.

\`\`\`sh
node --conditions=ieum-source --import tsx bench/scripts/game.ts --players 100,500 --seconds 15 --reps 3 --write
\`\`\`

- **tick CPU**: CPU time the server process used during a tick: the simulation step plus encoding
  and sending that tick's snapshots (each client gets one every third tick, spread evenly over the
  ticks); 16.7 ms is the budget. **server CPU**: the server process's CPU over the whole run
  (ticks, inputs, pings, GC), as a share of one core.
- **tick time**: the same on the wall clock: on a busy machine it includes the time the process
  waited for a core, which is what players feel.
- **tick start late**: how long after its due time a tick started (timer jitter and the event loop
  being busy with input); the loop is drift-free, so lateness never accumulates.
- **snapshot payload**: the binary snapshots (deltas against the last acknowledged one);
  **realtime bytes out**: the same in their MessagePack envelope plus ping replies (WebSocket frame
  headers, 2-4 bytes a message, not counted).
- **input → ack**: from sending an input message (three inputs, 20 a second) to the first snapshot
  whose \`ackSeq\` covers it; it includes up to one tick of queueing on the server and up to one
  snapshot interval (50 ms) of waiting for the next snapshot.
- **corrections**: reconciliations where the server disagreed with a bot's prediction.
- **bots event-loop delay**: when the bots' own process is saturated, latencies include its delay.

How to read it on a small machine: at 500 players the bots alone need most of a core, so on two
shared cores the server waits for CPU. The wall-clock columns (tick time, lateness, skipped ticks,
input → ack) then measure that contention more than the server, and late inputs pile up past the
server's 30-input queue, which is what the corrections are. The tick CPU column is the server's own
cost against the 16.7 ms budget; for a clean wall-clock figure run the bots on another machine.

${table}
${END}`;
}

/** `doc` with its game section replaced by (or, if it has none, followed by) the one for `table`. */
export function replaceGameSection(doc: string, table: string): string {
  return withSection(doc, gameSection(table));
}

function withSection(doc: string, section: string): string {
  const start = doc.indexOf(START);
  const end = doc.indexOf(END);
  if (start !== -1 && end > start) return doc.slice(0, start) + section + doc.slice(end + END.length);
  return `${doc.trimEnd()}\n\n${section}\n`;
}

/** `fresh` (a newly written document) with the game section of `previous`, if it had one. */
export function keepGameSection(previous: string | undefined, fresh: string): string {
  if (previous === undefined) return fresh;
  const start = previous.indexOf(START);
  const end = previous.indexOf(END);
  if (start === -1 || end < start) return fresh;
  return withSection(fresh, previous.slice(start, end + END.length));
}
