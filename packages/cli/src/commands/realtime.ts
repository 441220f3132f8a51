import readline from 'node:readline';
import {
  type Channel,
  type Position,
  RealtimeClient,
  type WebSocketConstructor,
} from '@ieum/realtime/client';
import { WebSocket } from '@ieum/websocket';
import type { Command } from 'commander';
import { type ClientFlags, clientOptions, parseWebSocketUrl } from '../lib/client-options.js';
import { clock } from '../lib/format.js';
import { collect } from '../lib/parsers.js';
import { describeConnectError, UserError } from '../lib/user-error.js';

export interface RealtimeFlags extends ClientFlags {
  channel: string[];
  token?: string;
  since?: string;
  presence?: boolean;
  members?: boolean;
  publish?: string | true;
  tail?: boolean;
  jsonl?: boolean;
}

const EXAMPLES = `
Talks to a RealtimeServer (@ieum/realtime/server). A URL without a path gets the server's default
path /realtime. Messages go to stdout, one per line; status lines (subscribed, recovered,
reconnecting) go to stderr. The client reconnects on its own and recovers the messages missed
meanwhile, so a tail survives a server restart without a gap (or says "reset" when history is gone).

--publish reads stdin: each line is one message (JSON if it parses, else a string), retried
until the server acknowledges it. It exits once stdin ends and every line is acknowledged,
unless --tail is given too.

Exit status: 0 done (or Ctrl+C), 1 could not connect, refused (token, channel) or a publish failed.

Examples:
  $ ieum realtime ws://localhost:8081 -c room:lobby --token alice            # tail
  $ ieum realtime ws://localhost:8081 -c room:lobby --presence --jsonl
  $ ieum realtime ws://localhost:8081 -c room:lobby --since 8f2c…:120       # from a position
  $ echo '{"text":"hi"}' | ieum realtime ws://localhost:8081 -c room:lobby --publish line
  $ ieum realtime ws://localhost:8081 -c room:lobby --members`;

/** Registers `ieum realtime URL`. */
export function registerRealtime(program: Command): void {
  program
    .command('realtime')
    .description('subscribe, publish and watch presence on an @ieum/realtime server')
    .argument('<url>', 'ws:// or wss:// URL of the realtime endpoint (default path /realtime)')
    .requiredOption('-c, --channel <name>', 'channel (repeatable)', collect)
    .option('--token <token>', 'token sent in the hello (what the server authenticates)')
    .option('--since <epoch:offset>', 'start after this position (one channel), recovering history')
    .option('--presence', 'show who is present, and joins and leaves')
    .option('--members', 'print the users present in the channel(s) and exit')
    .option('--publish [event]', 'publish each stdin line as this event (default "message")')
    .option('--tail', 'with --publish: keep printing the channel after stdin ends')
    .option('--jsonl', 'one JSON object per event on stdout')
    .option('-H, --header <header>', "request header 'Name: value' (repeatable)", collect)
    .option('--origin <origin>', 'send this Origin header')
    .option('--insecure', 'wss: do not verify the server certificate')
    .option('--ca <file>', 'wss: trust this CA certificate (PEM)')
    .addHelpText('after', EXAMPLES)
    .action(async (url: string, flags: RealtimeFlags) => {
      process.exitCode = await runRealtime(url, flags);
    });
}

function parsePosition(text: string): Position {
  const colon = text.lastIndexOf(':');
  const off = Number(text.slice(colon + 1));
  if (colon <= 0 || !Number.isSafeInteger(off) || off < 0) {
    throw new UserError(`--since ${text}: write the position as EPOCH:OFFSET, e.g. 8f2c1a:120`);
  }
  return { ep: text.slice(0, colon), off };
}

/** Runs the realtime session; resolves with the exit status. */
export async function runRealtime(urlText: string, flags: RealtimeFlags): Promise<number> {
  const url = parseWebSocketUrl(urlText);
  if (url.pathname === '/') url.pathname = '/realtime';
  const since = flags.since !== undefined ? parsePosition(flags.since) : undefined;
  if (since && flags.channel.length > 1) throw new UserError('--since takes one --channel');
  const options = clientOptions(flags);
  let lastSocketError: unknown;
  // The realtime client constructs sockets as `new WS(url, protocols)`; this one carries the flags.
  class ConfiguredWebSocket extends WebSocket {
    constructor(address: string, protocols?: string | string[]) {
      super(address, protocols ?? [], options);
      this.on('error', (error) => {
        lastSocketError = error;
      });
    }
  }
  const publishing = flags.publish !== undefined;
  const tail = !flags.members && (!publishing || flags.tail === true);
  const event = flags.publish === true || flags.publish === undefined ? 'message' : flags.publish;

  const out = (record: Record<string, unknown>, human: string): void => {
    process.stdout.write(
      `${flags.jsonl ? JSON.stringify({ time: new Date().toISOString(), ...record }) : `${clock()} ${human}`}\n`,
    );
  };
  const note = (text: string): void => {
    if (flags.jsonl) out({ type: 'status', text }, text);
    else process.stderr.write(`${text}\n`);
  };

  const client = new RealtimeClient(url.href, {
    WebSocket: ConfiguredWebSocket as unknown as WebSocketConstructor,
    transports: ['websocket'],
    ...(flags.token !== undefined ? { token: flags.token } : {}),
  });
  let welcomed = false;
  let failure: string | undefined;
  let settled = false;
  let resolveDone: (status: number) => void = () => {};
  const done = new Promise<number>((resolve) => {
    resolveDone = resolve;
  });
  const finish = (status: number): void => {
    if (settled) return;
    settled = true;
    resolveDone(status);
  };
  const fail = (message: string): void => {
    // Once, and not after the end: close() fails pending subscriptions, whose error listeners
    // land here again.
    if (settled) return;
    failure = message;
    finish(1);
    client.close();
  };
  client.on('state', (state) => {
    if (state === 'open') {
      if (welcomed) note(`reconnected (session ${client.sessionId})`);
      welcomed = true;
    }
  });
  client.on('disconnect', ({ code, reason, action }) => {
    if (action === 'stop' && failure === undefined && code !== 1000)
      fail(`the server closed the connection: ${code} ${reason}`.trim());
    else if (!welcomed)
      fail(
        lastSocketError
          ? describeConnectError(lastSocketError, url.href)
          : `cannot connect to ${url.href} (${code} ${reason})`,
      );
    else if (action !== 'stop') note(`disconnected (${code}${reason ? ` ${reason}` : ''}); reconnecting`);
  });

  const channels: Channel[] = flags.channel.map((name) =>
    client.channel(name, { presence: flags.presence === true }),
  );
  for (const ch of channels) {
    ch.on('message', (m) =>
      out(
        {
          type: 'message',
          channel: ch.name,
          event: m.event,
          data: m.data,
          offset: m.offset,
          epoch: m.epoch,
          own: m.own,
        },
        `${ch.name} #${m.offset} ${m.event} ${JSON.stringify(m.data)}${m.own ? ' (own)' : ''}`,
      ),
    );
    // A join may repeat the member list that was just printed (our own join, for one).
    const shown = new Set<string>();
    ch.on('subscribed', (r) => {
      const recovered =
        r.recovered === undefined
          ? ''
          : r.recovered
            ? '; missed messages recovered'
            : `; history lost (${r.reason}): some messages were missed`;
      note(`subscribed to ${ch.name} at ${r.ep}:${r.off}${recovered}`);
      if (flags.presence && r.members) {
        shown.clear();
        for (const m of r.members) shown.add(m.user);
        out(
          { type: 'members', channel: ch.name, members: r.members },
          `${ch.name} present: ${r.members.map((m) => m.user).join(', ') || '(nobody)'}`,
        );
      }
    });
    ch.on('reset', (reason) => note(`${ch.name}: history reset (${reason}); messages may be missing`));
    ch.on('join', (m) => {
      if (shown.has(m.user)) return;
      shown.add(m.user);
      out({ type: 'join', channel: ch.name, user: m.user }, `${ch.name} + ${m.user} joined`);
    });
    ch.on('leave', (m) => {
      shown.delete(m.user);
      out({ type: 'leave', channel: ch.name, user: m.user }, `${ch.name} - ${m.user} left`);
    });
    ch.on('error', (error) => fail(`${ch.name}: ${error.message} (${error.code})`));
  }

  const work: Promise<unknown>[] = [];
  if (tail || flags.members) {
    for (const ch of channels) {
      work.push(
        ch
          .subscribe(since ? { since } : {})
          .catch((error: Error & { code?: string }) =>
            fail(`cannot subscribe to ${ch.name}: ${error.message}${error.code ? ` (${error.code})` : ''}`),
          ),
      );
    }
  }
  if (flags.members) {
    void Promise.all(work).then(async () => {
      for (const ch of channels) {
        const members = await ch.members().catch((error: Error) => fail(`${ch.name}: ${error.message}`));
        if (members)
          out(
            { type: 'members', channel: ch.name, members },
            `${ch.name} present: ${members.map((m) => m.user).join(', ') || '(nobody)'}`,
          );
      }
      finish(0);
    });
  }
  if (publishing) {
    const acks: Promise<unknown>[] = [];
    const input = readline.createInterface({ input: process.stdin });
    input.on('line', (line) => {
      if (line.trim() === '') return;
      let data: unknown = line;
      try {
        data = JSON.parse(line);
      } catch {}
      for (const ch of channels) {
        acks.push(
          ch.publish(event, data).then(
            (ack) => {
              if (!tail)
                out(
                  { type: 'published', channel: ch.name, offset: ack.offset, duplicate: ack.duplicate },
                  `${ch.name} published #${ack.offset}`,
                );
            },
            (error: Error) => fail(`${ch.name}: publish failed: ${error.message}`),
          ),
        );
      }
    });
    input.on('close', () => {
      void Promise.all(acks).then(() => {
        if (!tail) finish(0);
      });
    });
  }
  const onSigint = (): void => finish(0);
  process.once('SIGINT', onSigint);
  const status = await done;
  process.removeListener('SIGINT', onSigint);
  client.close();
  process.stdin.unref?.();
  if (failure !== undefined) throw new UserError(failure);
  return status;
}
