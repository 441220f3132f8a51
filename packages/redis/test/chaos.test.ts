// The recovery promise across processes under random connection loss: clients reach two
// RealtimeServers (each with its own RedisAdapter) through a balancer that alternates between
// them and cuts connections at random. Every client must end with every message of every channel
// once, in order, and every publish must be stored once.
import { describe, it } from 'node:test';
import { RedisAdapter } from '../src/index.js';
import { chaosAcrossTwoServers, deleteKeys, requireRedis, testPrefix } from './helpers.js';

const url = await requireRedis();

describe('recovery across two servers under random connection loss', () => {
  it('every client receives every message once, in order, and no publish applies twice', {
    timeout: 90_000,
  }, async () => {
    const keyPrefix = testPrefix('chaos');
    const adapters = [0, 1].map(() => new RedisAdapter({ url, keyPrefix, history: { maxMessages: 10_000 } }));
    try {
      await chaosAcrossTwoServers(adapters, { channels: ['alpha', 'beta'] });
    } finally {
      await deleteKeys(keyPrefix);
    }
  });
});
