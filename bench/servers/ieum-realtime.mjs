// ieum realtime server (@ieum/realtime, JSON codec) for the realtime scenarios (`--only rt`).
// Subscribers subscribe to channel "bench"; the control connection sends `emit` events "bcast"
// whose handler publishes the data to that channel with `rt.publish` (stored with an offset in
// the default MemoryAdapter's history, then fanned out): the path of a chat room's message. Ack
// scenario: clients `pub` to channel "ack" (nobody subscribed) and wait for the `res` carrying
// the message's position. Limits meant to stop abusive clients (message and input rates,
// heartbeats, which the load generator does not answer) are off or pushed past a run; everything
// else is the default. Only public APIs.
import { RealtimeServer } from '@ieum/realtime/server';
import { announce } from './control.mjs';

const rt = new RealtimeServer({
  port: 0,
  host: '127.0.0.1',
  rateLimit: false,
  inputBytesPerSecond: false,
  subscribeRateLimit: false,
  channelRate: false,
  heartbeatIntervalMs: 300_000,
  helloTimeoutMs: 60_000,
  httpFallback: false,
});
rt.handle('bcast', (data) => rt.publish('bench', 'bcast', data).then(() => undefined));
rt.on('error', (error) => process.stderr.write(`realtime error: ${error.message}\n`));
rt.on('listening', () => announce({ port: rt.address().port }));
