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
node --conditions=ieum-source --import tsx bench/scripts/game.ts --players 100,500 --seconds 15 --write
\`\`\`

- **tick time**: the simulation step plus encoding and sending that tick's snapshots (each client
  gets one every third tick, spread evenly over the ticks); 16.7 ms is the budget.
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
