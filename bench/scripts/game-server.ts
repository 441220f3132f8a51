// The game server of bench/scripts/game.ts, in its own process: started with the options in
// argv[2] (JSON), it sends { port } once listening and answers 'start' (begin recording) and
// 'stats' (what it recorded) over IPC.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createGameApp } from '../../examples/game/server.js';
import type { GameServerOptions, TickSample } from '../../examples/game/src/game-server.js';

const options = JSON.parse(process.argv[2] ?? '{}') as GameServerOptions;
const server = http.createServer((req, res) => {
  if (!app.handleRequest(req, res)) res.writeHead(404).end();
});
const app = await createGameApp({ ...options, server });
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));

let samples: TickSample[] = [];
let recording = false;
let startedAt = 0;
let bytesAt = 0;
let wireAt = 0;
let skippedAt = 0;
let cpuAt = process.cpuUsage();
app.game.onTickSample = (s) => {
  if (recording) samples.push(s);
};
// Realtime messages out (snapshots in their envelope, ping replies), WebSocket frame headers aside.
const wireBytes = async () => (await app.rt.metrics!.bytesOut.get()).values[0]?.value ?? 0;

process.on('message', async (m: string) => {
  if (m === 'start') {
    samples = [];
    recording = true;
    startedAt = performance.now();
    bytesAt = app.game.snapshotBytes;
    wireAt = await wireBytes();
    skippedAt = app.game.loop.skipped;
    cpuAt = process.cpuUsage();
  } else if (m === 'stats') {
    recording = false;
    process.send!({
      seconds: (performance.now() - startedAt) / 1000,
      players: app.game.players,
      lateMs: samples.map((s) => s.lateMs),
      durationMs: samples.map((s) => s.durationMs),
      cpuMs: samples.map((s) => s.cpuMs),
      cpuSeconds: (() => {
        const u = process.cpuUsage(cpuAt);
        return (u.user + u.system) / 1e6;
      })(),
      snapshotBytes: app.game.snapshotBytes - bytesAt,
      wireBytes: (await wireBytes()) - wireAt,
      skipped: app.game.loop.skipped - skippedAt,
    });
  } else if (m === 'exit') {
    void app.close().then(() => process.exit(0));
  }
});
process.send!({ port: (server.address() as AddressInfo).port });
