// The recovery promise across processes under random connection loss, on NATS: clients reach two
// RealtimeServers (each with its own NatsAdapter) through a balancer that alternates between them
// and cuts connections at random. Every client must end with every message of every channel once,
// in order, and every publish must be stored once. The same run as packages/redis's chaos test.
import { describe, it } from 'node:test';
import { chaosAcrossTwoServers } from '../../redis/test/helpers.js';
import { NatsAdapter } from '../src/index.js';
import { deleteStreams, requireNats, testPrefix } from './helpers.js';

const servers = await requireNats();

describe('recovery across two servers on NATS under random connection loss', () => {
  it('every client receives every message once, in order, and no publish applies twice', {
    timeout: 90_000,
    skip: servers ? false : 'NATS JetStream not reachable',
  }, async () => {
    const prefix = testPrefix('chaos');
    const adapters = [0, 1].map(() => new NatsAdapter({ servers, prefix, history: { maxMessages: 10_000 } }));
    try {
      await chaosAcrossTwoServers(adapters, { channels: ['alpha', 'beta'] });
    } finally {
      await deleteStreams(servers!, prefix);
    }
  });
});
