// The showcase's home page: a card per app, and one for the dashboard, from the apps list.
import type { ShowcaseApp } from './apps.js';

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export const FAVICON =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="8" fill="#0f172a"/>' +
  '<circle cx="11" cy="16" r="5" fill="none" stroke="#38bdf8" stroke-width="3"/>' +
  '<circle cx="21" cy="16" r="5" fill="none" stroke="#a78bfa" stroke-width="3"/></svg>';

export interface HomePageOptions {
  apps: ShowcaseApp[];
  /** Link to the dashboard (with `#token=` when the visitor may have it). */
  dashboardHref: string;
  /** Shown on the dashboard card when the link carries no token. */
  dashboardNote: string;
}

function card(
  href: string,
  title: string,
  description: string,
  tags: string[],
  accent: string,
  id: string,
): string {
  return `<a class="card" id="app-${escapeHtml(id)}" href="${escapeHtml(href)}" style="--accent:${escapeHtml(accent)}">
  <h2>${escapeHtml(title)}</h2>
  <p>${escapeHtml(description)}</p>
  <ul>${tags.map((t) => `<li>${escapeHtml(t)}</li>`).join('')}</ul>
  <span class="open">Open →</span>
</a>`;
}

/** The home page's HTML. */
export function homePage(options: HomePageOptions): string {
  const cards = options.apps.map((a) =>
    card(`/${a.name}/`, a.title, a.description, a.tags, a.accent, a.name),
  );
  cards.push(
    card(
      options.dashboardHref,
      'Live dashboard',
      `The apps above, watched live over ieum: connections, message and byte rates per channel, queues, event-loop delay, recovery, and a server-side frame inspector. ${options.dashboardNote}`,
      ['metrics', 'uPlot', 'frame inspector'],
      '#0ea5e9',
      'dashboard',
    ),
  );
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ieum showcase</title>
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<style>
  * { box-sizing: border-box; }
  body { margin: 0; min-height: 100vh; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: #e2e8f0;
    background: radial-gradient(60rem 30rem at 10% -10%, #1e3a8a55, transparent), radial-gradient(50rem 30rem at 100% 0%, #6d28d955, transparent), #0b1120; }
  main { max-width: 70rem; margin: 0 auto; padding: 4rem 1.5rem; }
  h1 { font-size: clamp(2rem, 5vw, 3.2rem); margin: 0; letter-spacing: -.02em; }
  h1 span { background: linear-gradient(90deg, #38bdf8, #a78bfa); -webkit-background-clip: text; background-clip: text; color: transparent; }
  .lead { color: #94a3b8; max-width: 44rem; font-size: 1.1rem; }
  .grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(17rem, 1fr)); gap: 1.25rem; margin-top: 2.5rem; }
  .card { display: flex; flex-direction: column; gap: .5rem; padding: 1.4rem; border-radius: 1rem; text-decoration: none; color: inherit;
    background: #111a2ecc; border: 1px solid #1e293b; border-top: 3px solid var(--accent); transition: transform .15s, border-color .15s; }
  .card:hover, .card:focus-visible { transform: translateY(-3px); border-color: var(--accent); outline: none; }
  .card h2 { margin: 0; font-size: 1.25rem; }
  .card p { margin: 0; color: #94a3b8; font-size: .95rem; flex: 1; }
  .card ul { display: flex; flex-wrap: wrap; gap: .35rem; padding: 0; margin: .25rem 0; list-style: none; }
  .card li { font-size: .75rem; padding: .1rem .55rem; border-radius: 1rem; background: #1e293b; color: #cbd5e1; }
  .open { color: var(--accent); font-weight: 600; font-size: .9rem; }
  footer { margin-top: 3rem; color: #64748b; font-size: .85rem; }
  code { background: #1e293b; padding: .1rem .35rem; border-radius: .3rem; }
</style>
</head>
<body>
<main>
  <h1>ieum <span>showcase</span></h1>
  <p class="lead">Real-time apps on <code>@ieum/realtime</code> and <code>@ieum/websocket</code>. Open several tabs,
  stop the server and start it again: the apps reconnect, recover what they missed, and send what you typed meanwhile once.</p>
  <div class="grid">
${cards.join('\n')}
  </div>
  <footer>Each app also runs on its own: <code>npm run example:&lt;name&gt;</code>. Source in <code>examples/</code>.</footer>
</main>
</body>
</html>
`;
}
