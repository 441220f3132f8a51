// The "Realtime layer" section of docs/performance.md: written by
// `npm run bench -- --only rt --write-realtime`, kept as it is when a full `npm run bench` writes
// the rest of the document again (as the game section is).
import type { RunInfo } from './document.js';
import { endMarker, keepMarkedSection, replaceMarkedSection, startMarker } from './marked-section.js';
import { type Column, errorsList, formatNumber, mediansTable, type Row, speedup } from './report.js';
import type { ScenarioInfo } from './scenarios.js';

const START = startMarker('realtime', '`npm run bench -- --only rt --write-realtime`');
const END = endMarker('realtime');

/** The realtime layer's column, and what it is compared with (targets from issue 15). */
const SUBJECT = 'ieum-rt';
const REFERENCES = [
  { name: 'ieum-broadcast', label: '÷ ieum wss.broadcast (target ≥ 0.8×)' },
  {
    name: 'socketio-rooms',
    label: '÷ Socket.IO rooms (target ≥ 3×; through Redis: + redis-adapter, target ≥ 2×)',
  },
  { name: 'socketio-streams', label: '÷ Socket.IO + redis-streams-adapter' },
];

function ratios(rows: readonly Row[]): string {
  const out = [
    `| Scenario | ieum RealtimeServer | ${REFERENCES.map((r) => r.label).join(' | ')} |`,
    `| --- | ---: | ${REFERENCES.map(() => '---:').join(' | ')} |`,
  ];
  for (const row of rows) {
    const value = row.cells[SUBJECT]?.median;
    const cells = REFERENCES.map((r) => {
      const s = speedup(row.metric, value, row.cells[r.name]?.median);
      return s === undefined ? '–' : `${s.toFixed(2)}×`;
    });
    out.push(
      `| ${row.metric.label} | ${value === undefined ? '–' : `${formatNumber(value)} ${row.metric.unit}`} | ${cells.join(' | ')} |`,
    );
  }
  return out.join('\n');
}

/** The section for the realtime scenarios' `rows` (medians over `info.reps` repetitions). */
export function realtimeSection(
  info: RunInfo,
  scenarios: readonly ScenarioInfo[],
  rows: readonly Row[],
  columns: readonly Column[],
): string {
  const errors = errorsList(rows, columns);
  return [
    START,
    '## Realtime layer',
    '',
    "`@ieum/realtime` measured side by side with Socket.IO 4 rooms and with ieum's own raw",
    '`wss.broadcast`, which frames a message once and writes it to every socket with no channels,',
    'history or acknowledgements: the floor for the layer above it. Same run, same load generator',
    '(`bench/gen`, protocol `rt`: it sends the realtime `hello` and `sub` after the upgrade, JSON',
    'codec, and checks every delivery by content), servers interleaved, each on its own pinned core.',
    '',
    '```sh',
    `npm run bench -- --only rt --reps ${info.reps} --write-realtime`,
    '```',
    '',
    `- **Run**: ${info.date}, ieum commit ${info.ieum.commit} (from ${info.ieum.from === 'dist' ? '`dist/`' : 'sources'}), Node.js ${info.node}, socket.io ${info.packages['socket.io']}; medians of ${info.reps} repetitions, ${info.warmup} s warm-up + ${info.duration} s measured per cell.`,
    `- **Machine**: ${info.cpu}, ${info.cores} CPUs shared with other work${
      info.foreignMean !== undefined
        ? ` (other processes used on average ${info.foreignMean.toFixed(2)} of a core during the cells; ${info.disturbedCells} of ${info.cells} cells were disturbed)`
        : ''
    }: compare the ratios, not the absolute numbers.`,
    '- **Servers**: `ieum RealtimeServer` (`bench/servers/ieum-realtime.mjs`: default options but for the limits against abusive clients, which are off; JSON codec; MemoryAdapter); `Socket.IO 4 rooms` (`bench/servers/socketio-rooms.mjs`, WebSocket transport); `ieum wss.broadcast` (`bench/servers/ieum.mjs`).',
    '- **Through Redis**: `bench/servers/ieum-realtime-redis.mjs` and `bench/servers/socketio-redis.mjs`, 3 worker processes each (`bench/servers/cluster.mjs`), shown in the columns of their single-process counterparts; the streams adapter has a column of its own.',
    '- **Recovery** (a client that missed 10,000 messages) is measured by `bench/scripts/recovery.ts`, below.',
    '',
    ...scenarios.map((s) => `- **${s.title}** (\`${s.id}\`): ${s.description}`),
    '',
    mediansTable(rows, columns),
    '',
    'The realtime server relative to the others (> 1: better than it; for latency and memory the',
    "other's value ÷ ieum's):",
    '',
    ratios(rows),
    '',
    ...(errors.length ? ['Errors during the run:', '', ...errors.map((e) => `- ${e}`), ''] : []),
    END,
  ].join('\n');
}

/** `doc` with its realtime section replaced by (or, if it has none, followed by) `section`. */
export function replaceRealtimeSection(doc: string, section: string): string {
  return replaceMarkedSection(doc, 'realtime', section);
}

/**
 * `fresh` (a newly written document) with the realtime and recovery sections of `previous`, if
 * it had them.
 */
export function keepRealtimeSection(previous: string | undefined, fresh: string): string {
  return keepMarkedSection(previous, keepMarkedSection(previous, fresh, 'realtime'), 'recovery');
}
