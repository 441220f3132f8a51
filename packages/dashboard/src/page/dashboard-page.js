// The dashboard page: subscribes to the `stats` channel of the dashboard's realtime endpoint
// (one Sample per second), draws uPlot charts, and runs the frame inspector's tails.
import { RealtimeClient } from '@ieum/realtime/client';
import uPlot from 'uplot';

const base = document.body.dataset.base;
const $ = (sel) => document.querySelector(sel);
const KEEP = 300;

const num = (n) =>
  n >= 1e6
    ? `${(n / 1e6).toFixed(1)}M`
    : n >= 1e4
      ? `${(n / 1e3).toFixed(1)}k`
      : n >= 100
        ? n.toFixed(0)
        : n.toFixed(1);
const bytes = (n) =>
  n >= 1 << 30
    ? `${(n / (1 << 30)).toFixed(1)} GiB`
    : n >= 1 << 20
      ? `${(n / (1 << 20)).toFixed(1)} MiB`
      : n >= 1024
        ? `${(n / 1024).toFixed(1)} KiB`
        : `${n.toFixed(0)} B`;
const exact = (n) => Math.round(n).toLocaleString('en-US');

// ---- token: from #token=…, kept for this tab only --------------------------------------------
function takeToken() {
  const m = location.hash.match(/token=([^&]+)/);
  if (m) {
    sessionStorage.setItem('ieum-dashboard-token', decodeURIComponent(m[1]));
    history.replaceState(null, '', location.pathname + location.search);
  }
  return sessionStorage.getItem('ieum-dashboard-token');
}

function showLogin(message) {
  $('#main').hidden = true;
  $('#login').hidden = false;
  $('#login-error').textContent = message || '';
}

$('#login').addEventListener('submit', (e) => {
  e.preventDefault();
  sessionStorage.setItem('ieum-dashboard-token', e.target.elements.token.value);
  location.reload();
});

// ---- charts -------------------------------------------------------------------------------------
const charts = [];
function chart(id, series, format) {
  const el = document.getElementById(id);
  const data = [[], ...series.map(() => [])];
  const plot = new uPlot(
    {
      width: Math.max(200, el.clientWidth),
      height: 180,
      series: [
        {},
        ...series.map(([label, stroke]) => ({
          label,
          stroke,
          width: 1.5,
          points: { show: false },
          value: (_u, v) => (v == null ? '–' : format(v)),
        })),
      ],
      axes: [
        { stroke: '#94a3b8', grid: { stroke: '#1e293b' }, ticks: { stroke: '#1e293b' } },
        {
          stroke: '#94a3b8',
          grid: { stroke: '#1e293b' },
          ticks: { stroke: '#1e293b' },
          size: 60,
          values: (_u, vals) => vals.map(format),
        },
      ],
      scales: { y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
      legend: { live: false },
    },
    data,
    el,
  );
  const c = { plot, data, el };
  charts.push(c);
  return (at, values) => {
    data[0].push(at / 1000);
    for (const [i, v] of values.entries()) data[i + 1].push(v);
    if (data[0].length > KEEP) for (const d of data) d.shift();
  };
}
const feeds = {
  messages: chart(
    'chart-messages',
    [
      ['in', '#38bdf8'],
      ['out', '#a78bfa'],
    ],
    num,
  ),
  bytes: chart(
    'chart-bytes',
    [
      ['in', '#38bdf8'],
      ['out', '#a78bfa'],
    ],
    bytes,
  ),
  connections: chart(
    'chart-connections',
    [
      ['open', '#34d399'],
      ['opened/s', '#38bdf8'],
      ['closed/s', '#f43f5e'],
    ],
    num,
  ),
  queues: chart(
    'chart-queues',
    [
      ['queued', '#38bdf8'],
      ['fullest queue', '#a78bfa'],
      ['dropped/s', '#f59e0b'],
      ['slow closes/s', '#f43f5e'],
    ],
    num,
  ),
  loop: chart(
    'chart-loop',
    [
      ['p50', '#34d399'],
      ['p99', '#f59e0b'],
      ['max', '#f43f5e'],
    ],
    (v) => v.toFixed(1),
  ),
  recovery: chart(
    'chart-recovery',
    [
      ['recovered', '#34d399'],
      ['reset', '#f43f5e'],
    ],
    num,
  ),
};
new ResizeObserver(() => {
  for (const c of charts) c.plot.setSize({ width: Math.max(200, c.el.clientWidth), height: 180 });
}).observe($('.charts'));

// ---- samples ------------------------------------------------------------------------------------
function add(s) {
  const r = s.rates;
  feeds.messages(s.at, [r.messagesIn, r.messagesOut]);
  feeds.bytes(s.at, [r.bytesIn, r.bytesOut]);
  feeds.connections(s.at, [s.connections, r.opened, r.disconnects]);
  feeds.queues(s.at, [s.queued.total, s.queued.max, r.dropped, r.slowConsumerDisconnects]);
  feeds.loop(s.at, [s.eventLoop.p50, s.eventLoop.p99, s.eventLoop.max]);
  feeds.recovery(s.at, [r.recovered, r.reset]);
}

function kpi(name, text) {
  const el = document.querySelector(`[data-kpi="${name}"]`);
  if (el) el.textContent = text;
}

function render(s) {
  const r = s.rates;
  kpi('connections', exact(s.connections));
  kpi('opened', `${num(r.opened)} opened/s · ${num(r.disconnects)} closed/s`);
  kpi('messagesIn', num(r.messagesIn));
  kpi('bytesIn', `${bytes(r.bytesIn)}/s`);
  kpi('messagesOut', num(r.messagesOut));
  kpi('bytesOut', `${bytes(r.bytesOut)}/s`);
  kpi('queued', exact(s.queued.total));
  kpi(
    'dropped',
    `fullest ${exact(s.queued.max)} · ${num(r.dropped)} dropped/s · ${num(r.slowConsumerDisconnects)} closed/s`,
  );
  kpi('loop', `${s.eventLoop.p99.toFixed(1)} ms`);
  kpi('loopMax', `p50 ${s.eventLoop.p50.toFixed(1)} · max ${s.eventLoop.max.toFixed(1)} ms`);
  kpi('resumes', num(r.recovered + r.reset));
  kpi('resets', `${num(r.reset)} reset/s · ${exact(s.totals.recovered)} recovered in all`);
  for (const [k, v] of Object.entries(s.totals)) {
    const el = document.querySelector(`[data-total="${k}"]`);
    if (el) el.textContent = exact(v);
  }
  document.querySelector('[data-total="connections"]').textContent = exact(s.connections);
  document.querySelector('[data-total="queued"]').textContent = exact(s.queued.total);
  $('#channels tbody').replaceChildren(
    ...s.channels.map((c) => {
      const tr = document.createElement('tr');
      for (const v of [
        c.name,
        exact(c.subscribers),
        num(c.messagesPerSecond),
        num(c.deliveriesPerSecond),
        `${bytes(c.bytesOutPerSecond)}/s`,
      ]) {
        tr.append(Object.assign(document.createElement('td'), { textContent: v }));
      }
      const b = Object.assign(document.createElement('button'), { type: 'button', textContent: 'tail' });
      b.onclick = () => startTail('channel', c.name);
      const td = document.createElement('td');
      td.append(b);
      tr.append(td);
      return tr;
    }),
  );
  if (s.channels.length === 0) {
    const td = Object.assign(document.createElement('td'), {
      colSpan: 6,
      className: 'muted',
      textContent:
        s.source === 'websocket'
          ? 'a plain WebSocketServer has no channels'
          : 'no channel traffic in the last second',
    });
    const tr = document.createElement('tr');
    tr.append(td);
    $('#channels tbody').replaceChildren(tr);
  }
  const options = [
    ...s.channels.map((c) =>
      Object.assign(document.createElement('option'), { value: c.name, label: 'channel' }),
    ),
    ...s.connectionList.map((c) =>
      Object.assign(document.createElement('option'), {
        value: c.id,
        label: `connection ${c.user ?? ''} (${c.transport}, ${c.queued} queued)`,
      }),
    ),
  ];
  $('#targets').replaceChildren(...options);
  $('#source').textContent = `watching a ${s.source === 'realtime' ? 'RealtimeServer' : 'WebSocketServer'}`;
  $('#updated').textContent = `updated ${new Date(s.at).toLocaleTimeString()}`;
  document.body.dataset.sampleAt = String(s.at);
}

function redraw() {
  for (const c of charts) c.plot.setData(c.data);
}

// ---- connection -----------------------------------------------------------------------------------
const token = takeToken();
let client;
if (!token) showLogin();
else {
  $('#main').hidden = false;
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${base}/realtime`;
  client = new RealtimeClient(url, { token, transports: ['websocket'] });
  client.on('state', (state) => {
    $('#state').textContent = state;
    $('#state').className = `pill ${state}`;
  });
  client.on('disconnect', (d) => {
    if (d.code === 4401) {
      client.close();
      sessionStorage.removeItem('ieum-dashboard-token');
      showLogin('That token was refused.');
    }
  });
  client.handle('frame', (f) => frame(f));
  client
    .request('targets')
    .then((names) => {
      $('#target').replaceChildren(
        ...names.map((n) => Object.assign(document.createElement('option'), { value: n, textContent: n })),
      );
      const wanted = new URLSearchParams(location.search).get('server');
      watch(names.includes(wanted) ? wanted : names[0]);
    })
    .catch((e) => {
      $('#updated').textContent = e.message;
    });
  $('#target').addEventListener('change', (e) => watch(e.target.value));
}

// ---- the watched server: its samples' history, then live ----------------------------------------
let watching;
let stats;
const hooked = new WeakSet();
async function watch(name) {
  $('#target').value = name;
  if (stats) await stats.unsubscribe().catch(() => {});
  stopTail();
  watching = name;
  for (const c of charts) for (const d of c.data) d.length = 0;
  const channel = client.channel(`stats:${name}`);
  stats = channel;
  if (!hooked.has(channel)) {
    // One Channel object per name: its listeners are added once, and act while it is watched.
    hooked.add(channel);
    channel.on('message', (m) => {
      if (stats !== channel) return;
      add(m.data);
      render(m.data);
      redraw();
    });
    channel.on('reset', () => {
      for (const c of charts) for (const d of c.data) d.length = 0;
    });
  }
  const recent = await client.request('recent', name);
  if (stats !== channel) return;
  for (const s of recent.samples) add(s);
  const last = recent.samples.at(-1);
  if (last) render(last);
  redraw();
  await channel.subscribe({ since: { ep: recent.epoch, off: recent.offset } });
}

// ---- frame inspector --------------------------------------------------------------------------
let tailId;
const MAX_ROWS = 500;
function frame(f) {
  if (f.tail !== tailId) return;
  const rows = $('#frames tbody');
  if (f.skipped > 0) {
    const tr = Object.assign(document.createElement('tr'), { className: 'skipped' });
    tr.append(
      Object.assign(document.createElement('td'), {
        colSpan: 4,
        textContent: `… ${f.skipped} frames skipped (rate limit)`,
      }),
    );
    rows.prepend(tr);
  }
  const tr = Object.assign(document.createElement('tr'), { className: f.dir });
  const arrow = { in: '↑ in', out: '↓ out', pub: '● pub' }[f.dir];
  for (const v of [
    new Date(f.at).toLocaleTimeString(),
    arrow,
    f.binary ? `${f.size} B bin` : `${f.size}`,
    f.preview,
  ]) {
    tr.append(Object.assign(document.createElement('td'), { textContent: v }));
  }
  rows.prepend(tr);
  while (rows.children.length > MAX_ROWS) rows.lastChild.remove();
}

function stopTail() {
  if (tailId !== undefined) client.request('untail', tailId).catch(() => {});
  tailId = undefined;
  $('#untail').disabled = true;
}

async function startTail(kind, target) {
  if (!client) return;
  const form = $('#tail');
  form.elements.kind.value = kind;
  form.elements.target.value = target;
  stopTail();
  try {
    const what = kind === 'channel' ? { kind, name: target } : { kind, id: target };
    tailId = await client.request('tail', { source: watching, ...what });
    $('#tail-status').textContent = `tailing ${kind} ${target}`;
    $('#untail').disabled = false;
  } catch (e) {
    $('#tail-status').textContent = e.message;
  }
}

$('#tail').addEventListener('submit', (e) => {
  e.preventDefault();
  startTail(e.target.elements.kind.value, e.target.elements.target.value.trim());
});
$('#untail').addEventListener('click', () => {
  stopTail();
  $('#tail-status').textContent = 'stopped';
});
$('#clear').addEventListener('click', () => $('#frames tbody').replaceChildren());
