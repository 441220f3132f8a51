// The shared Adapter behaviour suite, run on RedisAdapter with a peer adapter (another process's
// view of the same Redis) for fan-out and presence.
import { after } from 'node:test';
import { adapterConformance } from '@ieum/realtime/adapter-conformance';
import { RedisAdapter } from '../src/index.js';
import { deleteKeys, requireRedis, testPrefix } from './helpers.js';

const url = await requireRedis();
const keyPrefix = testPrefix('conformance');
const create = () => new RedisAdapter({ url, keyPrefix, history: { maxMessages: 10 } });

adapterConformance('RedisAdapter', create, { maxMessages: 10, deliveryMs: 2000 }, create);

after(() => deleteKeys(keyPrefix));
