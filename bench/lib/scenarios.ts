// What is measured. Each scenario runs the generator against one server and returns one number
// per metric; the runner repeats it (servers interleaved) and reports medians.
import {
  type GeneratorOptions,
  type GeneratorResult,
  holdConnections,
  type Launch,
  runGenerator,
} from './generator.js';
import {
  REALTIME_REDIS_SERVERS,
  REDIS_SERVERS,
  type RunningServer,
  type ServerSpec,
  withDeflate,
} from './servers.js';

export interface Metric {
  id: string;
  label: string;
  unit: string;
  better: 'higher' | 'lower';
}

export interface Timing {
  quick: boolean;
  warmup: number;
  duration: number;
}

export interface MeasureContext {
  /** A running server (for `fresh` scenarios: started for this measurement alone). */
  server: RunningServer;
  generator: string;
  launch: Launch;
  timing: Timing;
  /** Raw generator reports, kept in performance.json. */
  record(result: GeneratorResult): void;
}

/** What the report needs to know about a scenario (also stored in performance.json). */
export type ScenarioInfo = Pick<Scenario, 'id' | 'title' | 'description' | 'metrics' | 'group'>;

export interface Scenario {
  id: string;
  title: string;
  /** One sentence for the report: what load, what is counted. */
  description: string;
  /** The servers it runs on, given the selected ones (deflate scenarios: their deflate variants). */
  servers(selected: readonly ServerSpec[]): ServerSpec[];
  /** Needs a server process of its own (e.g. memory). */
  fresh?: boolean;
  /**
   * `realtime`: an `rt-*` scenario, run on the realtime servers (REALTIME_SERVERS) only when
   * selected by name (`--only rt`), and reported in a section of its own.
   */
  group?: 'realtime';
  metrics: Metric[];
  measure(ctx: MeasureContext): Promise<Record<string, number>>;
}

const MiB = 1024 * 1024;

function target(
  server: RunningServer,
  fanout: boolean,
): Pick<GeneratorOptions, 'port' | 'path' | 'protocol'> {
  const protocol = server.spec.protocol;
  if (protocol === 'rt') return { port: server.port, protocol, path: '/realtime' };
  if (protocol === 'raw') return { port: fanout ? server.fanoutPort! : server.port, protocol };
  return { port: server.port, protocol, ...(fanout ? { path: '/fanout' } : {}) };
}

async function generate(ctx: MeasureContext, o: GeneratorOptions): Promise<GeneratorResult> {
  const result = await runGenerator(ctx.generator, o, ctx.launch);
  ctx.record(result);
  return result;
}

function echo(id: string, size: number, label: string, connections: number, inflight: number): Scenario {
  const large = size >= 64 * 1024;
  return {
    id,
    title: `Echo ${label}`,
    description: `${connections} connections × ${inflight} binary messages of ${label} in flight, echoed${
      large ? '; Socket.IO skipped (its binary attachments need a different framing)' : ''
    }.`,
    servers: (selected) => selected.filter((s) => s.protocol !== 'sio' || !large),
    metrics: [
      large
        ? { id: 'mibps', label: `Echo ${label}`, unit: 'MiB/s', better: 'higher' }
        : { id: 'msgps', label: `Echo ${label}`, unit: 'msg/s', better: 'higher' },
    ],
    async measure(ctx): Promise<Record<string, number>> {
      const r = await generate(ctx, {
        ...target(ctx.server, false),
        mode: 'echo',
        connections,
        inflight,
        size,
        duration: ctx.timing.duration,
        warmup: ctx.timing.warmup,
      });
      return large ? { mibps: r.bytes_per_s! / MiB } : { msgps: r.messages_per_s! };
    },
  };
}

function latency(connections: number): Scenario {
  const label = `${connections} connection${connections === 1 ? '' : 's'}`;
  return {
    id: `latency-${connections}`,
    title: `Round trip, ${label}`,
    description: `${label}, one 16 B message in flight on each; time from write to verified echo.`,
    servers: (selected) => [...selected],
    metrics: [
      { id: 'p50', label: `RTT p50, ${label}`, unit: 'µs', better: 'lower' },
      { id: 'p99', label: `RTT p99, ${label}`, unit: 'µs', better: 'lower' },
      { id: 'p999', label: `RTT p99.9, ${label}`, unit: 'µs', better: 'lower' },
    ],
    async measure(ctx) {
      const r = await generate(ctx, {
        ...target(ctx.server, false),
        mode: 'echo',
        connections,
        inflight: 1,
        size: 16,
        duration: ctx.timing.duration,
        warmup: ctx.timing.warmup,
      });
      const l = r.latency_us!;
      return { p50: l.p50, p99: l.p99, p999: l.p999 };
    },
  };
}

interface FanoutOptions {
  /** permessage-deflate (server_no_context_takeover), 1 KiB JSON messages instead of 64 B. */
  deflate?: boolean;
  /** Messages the control connection sends at once (one write) per round. Default 1. */
  burst?: number;
}

function fanout(id: string, subscribers: number, options: FanoutOptions = {}): Scenario {
  const deflate = options.deflate ?? false;
  const burst = options.burst ?? 1;
  const size = deflate ? 1024 : 64;
  const label = `${subscribers / 1000}k${burst > 1 ? `, bursts of ${burst}` : ''}`;
  const what = deflate ? '1 KiB JSON' : '64 B';
  return {
    // Thousands of disconnects keep a server busy for seconds: a process of its own, stopped after.
    fresh: subscribers > 1000,
    id,
    title: `${deflate ? 'Deflate fan-out' : 'Fan-out'} to ${subscribers.toLocaleString('en')}${burst > 1 ? `, bursts of ${burst}` : ''}`,
    description:
      burst > 1
        ? `A control connection sends ${burst} messages of ${what} in one write, the server broadcasts each to ${subscribers.toLocaleString('en')} subscribers; the next burst goes when the last subscriber has all ${burst} (a busy room: several messages to broadcast arrive together).`
        : `A control connection sends a ${what} message, the server broadcasts it to ${subscribers.toLocaleString('en')} subscribers${
            deflate ? ' (permessage-deflate, server_no_context_takeover, threshold 0)' : ''
          }; the next one goes when the last subscriber has it.`,
    servers: (selected) =>
      deflate
        ? selected.filter((s) => s.name === 'ieum' || s.name === 'ws').map((s) => withDeflate(s, 'fanout'))
        : [...selected],
    metrics: [
      {
        id: 'dps',
        label: `${deflate ? 'Deflate fan-out' : 'Fan-out'} ${label}: deliveries`,
        unit: 'msg/s',
        better: 'higher',
      },
      {
        id: 'last',
        label: `${deflate ? 'Deflate fan-out' : 'Fan-out'} ${label}: last delivery p50`,
        unit: 'ms',
        better: 'lower',
      },
    ],
    async measure(ctx) {
      const r = await generate(ctx, {
        ...target(ctx.server, true),
        mode: 'fanout',
        connections: subscribers,
        size,
        ...(burst > 1 ? { inflight: burst } : {}),
        ...(deflate ? { deflate: true, payload: 'json' as const } : {}),
        duration: ctx.timing.duration,
        warmup: ctx.timing.warmup / 2,
        setupTimeout: 60,
      });
      return { dps: r.deliveries_per_s!, last: r.latency_us!.p50 / 1000 };
    },
  };
}

const handshakes: Scenario = {
  id: 'handshakes',
  title: 'Handshakes',
  description:
    '50 concurrent loops of connect, upgrade (Socket.IO: and its connect packet), close handshake; the server closes TCP first. raw TCP: a canned 101 answer and close frame, nothing parsed.',
  servers: (selected) => [...selected],
  metrics: [{ id: 'hps', label: 'Handshakes', unit: 'conn/s', better: 'higher' }],
  async measure(ctx) {
    const floor = ctx.server.spec.protocol === 'raw';
    const r = await generate(ctx, {
      ...(floor ? { port: ctx.server.handshakePort!, protocol: 'ws' as const } : target(ctx.server, false)),
      mode: 'handshake',
      connections: 50,
      duration: ctx.timing.duration,
      warmup: ctx.timing.warmup / 2,
    });
    return { hps: r.handshakes_per_s! };
  },
};

const memory = (connections: number, id = 'memory'): Scenario => ({
  id,
  title: 'Memory per idle connection',
  description: `Server RSS (VmRSS after a full GC) with ${connections.toLocaleString('en')} idle connections minus RSS before them, divided by ${connections.toLocaleString('en')}; a fresh server process each time.`,
  servers: (selected) => [...selected],
  fresh: true,
  metrics: [
    {
      id: 'kib',
      label: `Memory per idle connection (${connections / 1000}k)`,
      unit: 'KiB',
      better: 'lower',
    },
  ],
  async measure(ctx) {
    const server = ctx.server;
    await server.gc();
    const before = server.rssBytes();
    const held = await holdConnections(
      ctx.generator,
      {
        ...target(server, false),
        mode: 'hold',
        connections,
        duration: 60,
        setupTimeout: 60,
      },
      ctx.launch,
    );
    try {
      await server.gc();
      const after = server.rssBytes();
      return { kib: (after - before) / held.count / 1024 };
    } finally {
      ctx.record(await held.release());
    }
  },
});

function deflateEcho(
  id: string,
  size: number,
  label: string,
  connections: number,
  inflight: number,
): Scenario {
  return {
    id,
    title: `Deflate echo ${label}`,
    description: `${connections} connections × ${inflight} JSON text messages of ${label} in flight, permessage-deflate both ways (threshold 0, default window bits, context takeover on the server).`,
    servers: (selected) =>
      selected.filter((s) => s.name === 'ieum' || s.name === 'ws').map((s) => withDeflate(s, 'echo')),
    metrics: [{ id: 'msgps', label: `Deflate echo ${label}`, unit: 'msg/s', better: 'higher' }],
    async measure(ctx) {
      const r = await generate(ctx, {
        ...target(ctx.server, false),
        mode: 'echo',
        connections,
        inflight,
        size,
        payload: 'json',
        deflate: true,
        duration: ctx.timing.duration,
        warmup: ctx.timing.warmup,
      });
      return { msgps: r.messages_per_s! };
    },
  };
}

/** Fan-out where every message makes the trip through Redis, as between processes. */
function redisFanout(id: string, subscribers: number): Scenario {
  const base = fanout(id, subscribers);
  return {
    ...base,
    fresh: true,
    title: `Fan-out through Redis to ${subscribers.toLocaleString('en')}`,
    description: `As fan-out, but the server publishes each 64 B message to Redis and broadcasts it when its Redis subscription delivers it (the path between processes): ieum with @ieum/redis (RedisAdapter: Lua publish with offsets and dedupe, stream history, sharded pub/sub), ws with an ioredis PUBLISH/SUBSCRIBE pair and a send loop. Needs Redis (REDIS_URL, default 127.0.0.1:6379).`,
    servers: (selected) => REDIS_SERVERS.filter((r) => selected.some((s) => s.name === r.name)),
    metrics: [
      {
        id: 'dps',
        label: `Redis fan-out ${subscribers / 1000}k: deliveries`,
        unit: 'msg/s',
        better: 'higher',
      },
      {
        id: 'last',
        label: `Redis fan-out ${subscribers / 1000}k: last delivery p50`,
        unit: 'ms',
        better: 'lower',
      },
    ],
  };
}

/** Realtime servers whose names are selected (`--servers`), in REALTIME_SERVERS order. */
function realtimeServers(selected: readonly ServerSpec[], names?: readonly string[]): ServerSpec[] {
  return selected.filter((s) => s.group === 'realtime' && (!names || names.includes(s.name)));
}

/** Fan-out through the realtime layer: one channel, `subscribers` subscribers, bursts of `burst`. */
function realtimeFanout(id: string, subscribers: number, burst: number): Scenario {
  const base = fanout(id, subscribers, { burst });
  const label = `${subscribers / 1000}k${burst > 1 ? `, bursts of ${burst}` : ''}`;
  const many = subscribers.toLocaleString('en');
  return {
    ...base,
    group: 'realtime',
    title: `Realtime fan-out to ${many}${burst > 1 ? `, bursts of ${burst}` : ''}`,
    description: `One channel with ${many} subscribers; a control connection sends ${
      burst > 1 ? `${burst} events of 64 characters in one write` : 'an event of 64 characters'
    }, the server publishes each to the channel (ieum: \`rt.handle\` → \`rt.publish\`, stored in the MemoryAdapter's history; Socket.IO: \`socket.to(room).emit\`; floor: \`wss.broadcast\` of the bytes); the next ${
      burst > 1 ? 'burst' : 'one'
    } goes when the last subscriber has ${burst > 1 ? 'all of them' : 'it'}. Every delivery is checked (realtime: a \`msg\` of the channel whose \`d\` is the payload).`,
    servers: (selected) => realtimeServers(selected),
    metrics: [
      { id: 'dps', label: `Realtime fan-out ${label}: deliveries`, unit: 'msg/s', better: 'higher' },
      { id: 'last', label: `Realtime fan-out ${label}: last delivery p50`, unit: 'ms', better: 'lower' },
    ],
  };
}

/** Realtime fan-out through Redis, 3 server processes sharing the port (node:cluster). */
function realtimeRedisFanout(id: string, subscribers: number, burst: number): Scenario {
  const base = realtimeFanout(id, subscribers, burst);
  const label = `${subscribers / 1000}k${burst > 1 ? `, bursts of ${burst}` : ''}`;
  const many = subscribers.toLocaleString('en');
  return {
    ...base,
    fresh: true,
    title: `Realtime fan-out through Redis, 3 processes, to ${many}${burst > 1 ? `, bursts of ${burst}` : ''}`,
    description: `As realtime fan-out, with 3 server processes on one port (node:cluster hands connections out in turn, so each has a third of the subscribers), all pinned to the server's core, joined by Redis: ieum with @ieum/redis's RedisAdapter (history and dedupe on: each publish is a Lua script storing it in a stream with its offset), Socket.IO with @socket.io/redis-adapter (pub/sub, nothing stored) and with @socket.io/redis-streams-adapter (a Redis stream). Needs Redis (REDIS_URL, default 127.0.0.1:6379).`,
    servers: (selected) =>
      REALTIME_REDIS_SERVERS.filter((r) =>
        selected.some(
          (s) => s.name === r.name || (r.name === 'socketio-streams' && s.name === 'socketio-rooms'),
        ),
      ),
    metrics: [
      { id: 'dps', label: `Realtime Redis fan-out ${label}: deliveries`, unit: 'msg/s', better: 'higher' },
      {
        id: 'last',
        label: `Realtime Redis fan-out ${label}: last delivery p50`,
        unit: 'ms',
        better: 'lower',
      },
    ],
  };
}

function realtimeAck(connections: number): Scenario {
  return {
    id: `rt-ack-${connections}`,
    group: 'realtime',
    title: `Publish with acknowledgement, ${connections} connections`,
    description: `${connections} connections, each with one publish in flight and waiting for its acknowledgement (16 characters; ieum: a \`pub\` to a channel without subscribers, stored with a new message id each time and answered with its position, checked to be a first-time publish; Socket.IO: \`emitWithAck\`'s packet, the handler emits to an empty room and acknowledges).`,
    servers: (selected) => realtimeServers(selected, ['ieum-rt', 'socketio-rooms']),
    metrics: [
      {
        id: 'aps',
        label: `Publish + ack, ${connections} conns: throughput`,
        unit: 'acks/s',
        better: 'higher',
      },
      { id: 'p50', label: `Publish + ack, ${connections} conns: RTT p50`, unit: 'µs', better: 'lower' },
      { id: 'p99', label: `Publish + ack, ${connections} conns: RTT p99`, unit: 'µs', better: 'lower' },
    ],
    async measure(ctx) {
      const r = await generate(ctx, {
        ...target(ctx.server, false),
        mode: 'ack',
        connections,
        inflight: 1,
        size: 16,
        duration: ctx.timing.duration,
        warmup: ctx.timing.warmup,
      });
      const l = r.latency_us!;
      return { aps: r.messages_per_s!, p50: l.p50, p99: l.p99 };
    },
  };
}

function realtimeMemory(connections: number): Scenario {
  const base = memory(connections, 'rt-memory');
  return {
    ...base,
    group: 'realtime',
    title: 'Memory per idle realtime connection',
    description: `As memory, with ${connections.toLocaleString('en')} connections each subscribed to one channel (ieum: hello + \`sub\` to "bench"; Socket.IO: joined to room "bench"; floor: plain WebSocket connections, no channel).`,
    servers: (selected) => realtimeServers(selected),
    metrics: [
      {
        id: 'kib',
        label: `Memory per idle realtime connection (${connections / 1000}k)`,
        unit: 'KiB',
        better: 'lower',
      },
    ],
  };
}

/**
 * The realtime layer (`--only rt`): not part of a plain `npm run bench`. Quick mode measures
 * 2,000 subscribers and connections instead of 10,000.
 */
export function realtimeScenarios(quick: boolean): Scenario[] {
  const many = quick ? 2_000 : 10_000;
  return [
    realtimeFanout('rt-fanout-1k', 1_000, 1),
    realtimeFanout(`rt-fanout-${many / 1000}k`, many, 1),
    realtimeFanout('rt-fanout-burst-1k', 1_000, 8),
    realtimeFanout(`rt-fanout-burst-${many / 1000}k`, many, 8),
    realtimeAck(100),
    realtimeRedisFanout('rt-redis-fanout-1k', 1_000, 1),
    realtimeRedisFanout('rt-redis-fanout-burst-1k', 1_000, 8),
    realtimeMemory(many),
  ];
}

/**
 * Every scenario, in report order. Quick mode (`--quick`, under a minute) measures the large
 * fan-out with 2,000 subscribers and memory with 1,000 connections instead of 10,000.
 */
export function allScenarios(quick: boolean): Scenario[] {
  const many = quick ? 2_000 : 10_000;
  return [
    echo('echo-16b', 16, '16 B', 50, 8),
    echo('echo-1k', 1024, '1 KiB', 50, 8),
    echo('echo-64k', 64 * 1024, '64 KiB', 10, 4),
    echo('echo-1m', MiB, '1 MiB', 4, 2),
    latency(1),
    latency(100),
    fanout('fanout-1k', 1_000),
    fanout('fanout-10k', many),
    fanout('fanout-burst-10k', many, { burst: 8 }),
    handshakes,
    memory(quick ? 1_000 : 10_000),
    deflateEcho('deflate-echo-1k', 1024, '1 KiB', 50, 8),
    deflateEcho('deflate-echo-64k', 64 * 1024, '64 KiB', 10, 4),
    fanout('deflate-fanout-1k', 1_000, { deflate: true }),
    redisFanout('redis-fanout-1k', 1_000),
  ];
}

/**
 * Scenarios whose id equals or starts with one of `filters` (all but the realtime ones when none;
 * those are selected by name, e.g. `rt`).
 */
export function selectScenarios(filters: readonly string[], quick: boolean): Scenario[] {
  if (filters.length === 0) return allScenarios(quick);
  const all = [...allScenarios(quick), ...realtimeScenarios(quick)];
  return all.filter((s) => filters.some((f) => s.id === f || s.id.startsWith(f)));
}
