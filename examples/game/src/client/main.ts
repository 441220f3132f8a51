// The arena page: keyboard in, canvas and HUD out. All netcode lives in GameClient.
import { GameClient } from '../game-client.js';
import { Buttons, ORB_RADIUS, PLAYER_RADIUS } from '../movement.js';
import { Kind } from '../snapshot-codec.js';

const KEYS: Record<string, number> = {
  KeyW: Buttons.up,
  ArrowUp: Buttons.up,
  KeyS: Buttons.down,
  ArrowDown: Buttons.down,
  KeyA: Buttons.left,
  ArrowLeft: Buttons.left,
  KeyD: Buttons.right,
  ArrowRight: Buttons.right,
};

function playerNameFromStorage(): string {
  const stored = localStorage.getItem('ieum-game-name');
  if (stored) return stored;
  const name = `pilot-${100 + Math.floor(Math.random() * 900)}`;
  localStorage.setItem('ieum-game-name', name);
  return name;
}

const base = location.pathname.replace(/index\.html$/, '').replace(/\/+$/, '');
const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${base}/realtime`;
const name = playerNameFromStorage();
const client = new GameClient(url, { name });

const canvas = document.getElementById('arena') as HTMLCanvasElement;
const ctx = canvas.getContext('2d')!;
const hud = {
  state: document.getElementById('state')!,
  ping: document.getElementById('ping')!,
  tick: document.getElementById('tick')!,
  players: document.getElementById('players')!,
  score: document.getElementById('score')!,
  name: document.getElementById('name')!,
};
hud.name.textContent = name;

let held = 0;
addEventListener('keydown', (e) => {
  const b = KEYS[e.code];
  if (b === undefined) return;
  held |= b;
  e.preventDefault();
});
addEventListener('keyup', (e) => {
  const b = KEYS[e.code];
  if (b !== undefined) held &= ~b;
});
addEventListener('blur', () => {
  held = 0;
});

const hue = (id: number) => (id * 137.508) % 360;

/** Where the own player is drawn: between its last two predicted steps. */
function self(): { x: number; y: number } | undefined {
  const p = client.predictor;
  if (!p?.body) return undefined;
  const prev = p.previous ?? p.body;
  const a = Math.min(1, client.alpha);
  return { x: prev.x + (p.body.x - prev.x) * a, y: prev.y + (p.body.y - prev.y) * a };
}

// For tests and the curious: `__game.self()` in the console.
(globalThis as { __game?: unknown }).__game = { client, self };

function resize(): void {
  const dpr = Math.min(2, devicePixelRatio || 1);
  canvas.width = Math.round(innerWidth * dpr);
  canvas.height = Math.round(innerHeight * dpr);
}
addEventListener('resize', resize);
resize();

function draw(now: number): void {
  const w = canvas.width;
  const h = canvas.height;
  const info = client.info;
  const me = self();
  const bg = ctx.createLinearGradient(0, 0, 0, h);
  bg.addColorStop(0, '#0b1020');
  bg.addColorStop(1, '#121a33');
  ctx.fillStyle = bg;
  ctx.fillRect(0, 0, w, h);
  if (!info || !me) return;
  // Show at most what the server sends around the player.
  const scale = Math.min(w / (2 * info.view.halfWidth), h / (2 * info.view.halfHeight));
  ctx.save();
  ctx.translate(w / 2, h / 2);
  ctx.scale(scale, scale);
  ctx.translate(-me.x, -me.y);
  // Floor grid and walls.
  ctx.strokeStyle = 'rgba(120, 140, 200, 0.09)';
  ctx.lineWidth = 1 / scale;
  ctx.beginPath();
  for (let x = 0; x <= info.arena.width; x += 100) {
    ctx.moveTo(x, 0);
    ctx.lineTo(x, info.arena.height);
  }
  for (let y = 0; y <= info.arena.height; y += 100) {
    ctx.moveTo(0, y);
    ctx.lineTo(info.arena.width, y);
  }
  ctx.stroke();
  ctx.strokeStyle = 'rgba(79, 209, 197, 0.7)';
  ctx.lineWidth = 4;
  ctx.shadowColor = '#4fd1c5';
  ctx.shadowBlur = 16;
  ctx.strokeRect(0, 0, info.arena.width, info.arena.height);
  ctx.shadowBlur = 0;
  // Everyone else, a little in the past, between two snapshots.
  const serverTick = client.clock.serverTick(now);
  const delayTicks = (2 * info.tickHz) / info.snapshotHz + 1;
  const you = client.latest?.you;
  const placed = serverTick === undefined ? [] : client.interpolator.sample(serverTick - delayTicks);
  const pulse = 1 + 0.15 * Math.sin(now / 180);
  for (const p of placed) {
    if (p.entity.kind !== Kind.orb) continue;
    ctx.fillStyle = '#f6c453';
    ctx.shadowColor = '#f6c453';
    ctx.shadowBlur = 12;
    ctx.beginPath();
    ctx.arc(p.x, p.y, ORB_RADIUS * pulse, 0, Math.PI * 2);
    ctx.fill();
  }
  ctx.shadowBlur = 0;
  ctx.textAlign = 'center';
  ctx.font = '600 15px system-ui, sans-serif';
  const disc = (x: number, y: number, id: number, label: string, own: boolean) => {
    ctx.fillStyle = `hsl(${hue(id)} 70% 58%)`;
    ctx.shadowColor = ctx.fillStyle;
    ctx.shadowBlur = own ? 22 : 10;
    ctx.beginPath();
    ctx.arc(x, y, PLAYER_RADIUS, 0, Math.PI * 2);
    ctx.fill();
    ctx.shadowBlur = 0;
    if (own) {
      ctx.strokeStyle = '#ffffff';
      ctx.lineWidth = 2.5;
      ctx.stroke();
    }
    ctx.fillStyle = 'rgba(230, 236, 255, 0.9)';
    ctx.fillText(label, x, y - PLAYER_RADIUS - 8);
  };
  for (const p of placed) {
    if (p.entity.kind !== Kind.player || p.id === you) continue;
    disc(p.x, p.y, p.id, `${p.entity.name} · ${p.entity.score}`, false);
  }
  const own = you === undefined ? undefined : client.latest?.entities.get(you);
  disc(me.x, me.y, you ?? 0, `${own?.name ?? name} · ${own?.score ?? 0}`, true);
  ctx.restore();
}

let hudAt = 0;
function updateHud(now: number): void {
  if (now - hudAt < 200) return;
  hudAt = now;
  const latest = client.latest;
  hud.state.textContent = client.state;
  hud.state.className = client.state;
  hud.ping.textContent = client.pingMs === undefined ? '…' : `${Math.round(client.pingMs)} ms`;
  hud.tick.textContent = latest ? String(latest.tick) : '…';
  hud.players.textContent = latest ? String(latest.players) : '…';
  const own = latest?.entities.get(latest.you);
  hud.score.textContent = String(own?.score ?? 0);
}

function frame(now: number): void {
  client.update(now, held);
  draw(now);
  updateHud(now);
  requestAnimationFrame(frame);
}
requestAnimationFrame(frame);
