// The shared Adapter behaviour suite, run on NatsAdapter with a peer adapter (another process's
// view of the same NATS) for fan-out and presence.
import { after, it } from 'node:test';
import { adapterConformance } from '@ieum/realtime/adapter-conformance';
import { NatsAdapter } from '../src/index.js';
import { deleteStreams, requireNats, testPrefix } from './helpers.js';

const servers = await requireNats();
if (servers) {
  const prefix = testPrefix('conf');
  const create = () => new NatsAdapter({ servers, prefix, history: { maxMessages: 10 } });
  adapterConformance('NatsAdapter', create, { maxMessages: 10, deliveryMs: 2000 }, create);
  after(() => deleteStreams(servers, prefix));
} else {
  it('NATS JetStream is not reachable: skipped (see the message above)', { skip: true }, () => {});
}
