// The editor page: a textarea bound to an EditorSession, others' cursors and selections drawn over
// it (measured on a hidden mirror of the text), who is here, and the connection's state.
import { RealtimeClient } from '@ieum/realtime/client';
import { toCodePoints, toUtf16 } from './code-points.js';
import { EditorSession } from './editor-session.js';
import { DOC_NAME, type Selection } from './protocol.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const area = $<HTMLTextAreaElement>('text');
const mirror = $('mirror');
const overlay = $('overlay');
const state = $('state');
const note = $('note');
const NAME = /^[\p{L}\p{N}_-]{1,24}$/u;

/** A stable color per user. */
function colorOf(user: string): string {
  let h = 0;
  for (const ch of user) h = (h * 31 + ch.codePointAt(0)!) % 360;
  return `hsl(${h} 65% 45%)`;
}

const params = new URLSearchParams(location.search);
const doc = DOC_NAME.test(params.get('doc') ?? '') ? params.get('doc')! : 'welcome';
const stored = localStorage.getItem('ieum-editor-name') ?? '';
const name = NAME.test(stored) ? stored : `guest-${Math.floor(Math.random() * 9000 + 1000)}`;
localStorage.setItem('ieum-editor-name', name);
$<HTMLInputElement>('doc').value = doc;
$<HTMLInputElement>('name').value = name;
$('open').addEventListener('submit', (e) => {
  e.preventDefault();
  const n = $<HTMLInputElement>('name').value.trim();
  const d = $<HTMLInputElement>('doc').value.trim();
  if (!NAME.test(n) || !DOC_NAME.test(d)) {
    showNote('Names are 1-24 letters, digits, _ or -; documents are a-z, 0-9 and -.');
    return;
  }
  localStorage.setItem('ieum-editor-name', n);
  location.search = `?doc=${d}`;
});

const path = document.querySelector<HTMLMetaElement>('meta[name=editor-realtime]')!.content;
const client = new RealtimeClient(
  `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${path}`,
  {
    token: name,
  },
);
// sessionStorage: edits typed offline survive a reload of this tab.
const session = new EditorSession(client, doc, { storage: sessionStorage });
document.title = `${doc} · ieum editor`;

function showNote(text: string): void {
  note.textContent = text;
  note.classList.toggle('show', text !== '');
}

/** The textarea's selection in code points. */
function localSelection(): Selection {
  const v = area.value;
  const a = area.selectionDirection === 'backward' ? area.selectionEnd : area.selectionStart;
  const b = area.selectionDirection === 'backward' ? area.selectionStart : area.selectionEnd;
  return [toCodePoints(v, a), toCodePoints(v, b)];
}

/** Shows the session's text, keeping the local selection where the session moved it. */
function showText(sel: Selection | undefined): void {
  const top = area.scrollTop;
  area.value = session.text;
  if (sel) {
    const a = toUtf16(area.value, sel[0]);
    const b = toUtf16(area.value, sel[1]);
    area.setSelectionRange(Math.min(a, b), Math.max(a, b), a > b ? 'backward' : 'forward');
  }
  area.scrollTop = top;
  drawCursors();
}

function renderState(): void {
  const s = client.state;
  const pending = session.pending;
  state.className = s;
  state.textContent =
    s === 'open'
      ? pending
        ? 'saving…'
        : 'all changes saved'
      : s === 'closed'
        ? 'disconnected'
        : pending
          ? 'offline · edits kept'
          : s === 'connecting'
            ? 'connecting'
            : 'reconnecting';
}

function renderWho(): void {
  const users = [...session.members].sort((a, b) => (a === name ? -1 : b === name ? 1 : a.localeCompare(b)));
  $('who').replaceChildren(
    ...users.map((u) => {
      const s = document.createElement('li');
      s.textContent = [...u][0]!.toUpperCase();
      s.title = u === name ? `${u} (you)` : u;
      s.style.background = colorOf(u);
      if (u === name) s.className = 'me';
      return s;
    }),
  );
}

/** Draws others' carets and selections, measured with a Range on the mirror. */
function drawCursors(): void {
  const value = area.value;
  mirror.textContent = `${value}\u200b`;
  const node = mirror.firstChild as Text;
  const origin = mirror.getBoundingClientRect();
  const dx = -origin.left;
  const dy = -origin.top - area.scrollTop;
  const range = document.createRange();
  const marks: HTMLElement[] = [];
  for (const c of session.remoteCursors()) {
    const color = colorOf(c.user);
    const a = Math.min(toUtf16(value, c.sel[0]), value.length);
    const b = Math.min(toUtf16(value, c.sel[1]), value.length);
    if (a !== b) {
      range.setStart(node, Math.min(a, b));
      range.setEnd(node, Math.max(a, b));
      for (const r of Array.from(range.getClientRects())) {
        const m = document.createElement('div');
        m.className = 'sel';
        Object.assign(m.style, {
          left: `${r.left + dx}px`,
          top: `${r.top + dy}px`,
          width: `${r.width}px`,
          height: `${r.height}px`,
          background: color,
        });
        marks.push(m);
      }
    }
    range.setStart(node, b);
    range.setEnd(node, b + 1);
    const r = range.getClientRects()[0] ?? range.getBoundingClientRect();
    const caret = document.createElement('div');
    caret.className = 'caret';
    caret.dataset.user = c.user;
    Object.assign(caret.style, {
      left: `${r.left + dx}px`,
      top: `${r.top + dy}px`,
      height: `${r.height}px`,
      background: color,
    });
    const label = document.createElement('b');
    label.textContent = c.user;
    label.style.background = color;
    caret.append(label);
    marks.push(caret);
  }
  overlay.replaceChildren(...marks);
}

area.addEventListener('input', () => {
  session.replace(area.value, localSelection());
  drawCursors();
});
for (const ev of ['select', 'keyup', 'mouseup', 'focus']) {
  area.addEventListener(ev, () => session.select(localSelection()));
}
document.addEventListener('selectionchange', () => {
  if (document.activeElement === area) session.select(localSelection());
});
area.addEventListener('scroll', drawCursors);
window.addEventListener('resize', drawCursors);
window.addEventListener('pagehide', () => session.close());

session.on('change', () => showText(session.selection));
session.on('reset', () => showText(undefined));
session.on('update', () => {
  renderState();
  renderWho();
  drawCursors();
});
session.on('lost', (text) => {
  showNote(
    `Some of your edits could not be merged (${text.length} characters were shown when it happened); ` +
      'they are in the browser console.',
  );
  console.info('ieum editor: your text before it was reset:\n', text);
});
session.on('error', (error) => showNote(`The server refused an edit: ${error.message}`));
client.on('state', () => renderState());
client.on('disconnect', (info) => {
  if (info.action === 'stop')
    showNote(`The server closed the connection: ${info.reason || `code ${info.code}`}`);
});

session
  .start()
  .then(() => {
    area.disabled = false;
    showText(undefined);
    area.focus();
    renderState();
  })
  .catch((error: Error) => showNote(`Could not open the document: ${error.message}`));
