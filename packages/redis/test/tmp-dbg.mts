import slotOf from 'cluster-key-slot';
import { RedisAdapter } from '../src/index.ts';
import { ownCluster } from './own-cluster.ts';

const c = await ownCluster();
const a = new RedisAdapter({ cluster: { nodes: c.startup }, keyPrefix: 'x:' });
a.on('error', () => {});
try {
  console.log(await a.position('hit'));
  const victim = await c.masterOf('{hit}');
  await victim.kill();
  console.log('killed', victim.port);
  const cmd = (a as any).cmd;
  const slot = slotOf('x:{hit}:m');
  for (let i = 0; i < 16; i++) {
    await new Promise((r) => setTimeout(r, 700));
    const key = cmd.slots[slot]?.[0];
    let res = '';
    try {
      res = JSON.stringify(await a.position('hit'));
    } catch (e) {
      res = (e as Error).message.slice(0, 40) + ' / ' + (e as any).cause?.message;
    }
    console.log(i, key, cmd.connectionPool.getInstanceByKey(key)?.status, cmd.isRefreshing, res);
  }
} finally {
  await a.close();
  await c.stop();
}
