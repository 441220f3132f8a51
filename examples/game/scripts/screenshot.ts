// Takes examples/game/screenshot.png: the page in Chromium with a few wandering bots around.
//   node --conditions=ieum-source --import tsx examples/game/scripts/screenshot.ts
import type { WebSocketConstructor } from '@ieum/realtime/client';
import { WebSocket } from '@ieum/websocket';
import { launchChromium } from '../../../scripts/chromium.js';
import { startGame } from '../server.js';
import { GameClient } from '../src/game-client.js';
import { seededRandom } from '../src/game-world.js';

const game = await startGame({ port: 0, arena: { width: 1000, height: 640 }, seed: 7 });
const url = `ws://127.0.0.1:${game.port}/realtime`;
const random = seededRandom(3);
const bots = ['mina', 'joon', 'ada', 'linus'].map((name) => ({
  client: new GameClient(url, { name, WebSocket: WebSocket as unknown as WebSocketConstructor }),
  buttons: 0,
  until: 0,
}));
const drive = setInterval(() => {
  const now = performance.now();
  for (const b of bots) {
    if (now > b.until) {
      b.buttons = [1, 2, 4, 8, 5, 6, 9, 10][Math.floor(random() * 8)]!;
      b.until = now + 400 + random() * 900;
    }
    b.client.update(now, b.buttons);
  }
}, 5);
const browser = await launchChromium();
const page = await browser.newPage({ viewport: { width: 960, height: 560 } });
await page.addInitScript("localStorage.setItem('ieum-game-name', 'you')");
await page.goto(`http://127.0.0.1:${game.port}/`);
await page.waitForFunction("document.getElementById('state')?.textContent === 'open'");
// Steer towards the middle of the arena, then let the bots wander a little.
const me = () => page.evaluate<{ x: number; y: number }>('__game.self()');
await page.waitForFunction('__game.self() !== undefined');
for (let i = 0; i < 40; i++) {
  const { x, y } = await me();
  const keys = [x < 450 ? 'KeyD' : x > 550 ? 'KeyA' : '', y < 270 ? 'KeyS' : y > 370 ? 'KeyW' : ''].filter(
    Boolean,
  );
  if (keys.length === 0) break;
  for (const k of keys) await page.keyboard.down(k);
  await new Promise((r) => setTimeout(r, 100));
  for (const k of keys) await page.keyboard.up(k);
}
await new Promise((r) => setTimeout(r, 2000));
await page.screenshot({ path: new URL('../screenshot.png', import.meta.url).pathname });
await browser.close();
clearInterval(drive);
for (const b of bots) b.client.close();
await game.app.close();
game.server.close();
console.log('wrote examples/game/screenshot.png');
