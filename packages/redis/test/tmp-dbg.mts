import { ownCluster } from './own-cluster.ts';
import { RedisAdapter } from '../src/index.ts';
const c = await ownCluster();
const adapters = [0, 1, 2].map(() => { const a = new RedisAdapter({ cluster: { nodes: c.startup }, keyPrefix: 'x:' }); a.on('error', (e) => 0); return a; });
try {
  console.log('cluster up');
  const got: string[][] = [[], [], []];
  await Promise.all(adapters.map((a, i) => a.subscribe('hit', (e) => e.type === 'message' && got[i]!.push(`${e.epoch}:${e.entry.off}`))));
  console.log('subscribed');
  const victim = await c.masterOf('{hit}');
  for (let i = 1; i <= 60; i++) {
    if (i === 20 && victim.alive()) { await victim.kill(); console.log('killed', victim.port); setInterval(async () => { try { const m = await c.masterOf('{hit}'); console.log('owner now', m.port, (adapters[0] as any).cmd.slots[(await import('cluster-key-slot')).default('x:{hit}')]); } catch (e) { console.log('owner?', (e as Error).message); } }, 1000).unref(); }
    try { await adapters[i % 3]!.publish('hit', { ev: 'e', d: i }); } catch (e) { console.log('pub fail', i, (e as Error).message.slice(0, 30), String((e as any).cause?.message).slice(0,80)); i--; await new Promise((r) => setTimeout(r, 200)); }
    await new Promise((r) => setTimeout(r, 20));
  }
  await new Promise((r) => setTimeout(r, 3000));
  got.forEach((g, i) => console.log(i, g.length, g.slice(-3)));
} finally { await Promise.all(adapters.map((a) => a.close())); await c.stop(); }
