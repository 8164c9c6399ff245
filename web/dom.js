/* global document, location, Node */
// DOM helpers and shared page state. All data is written with textContent (never innerHTML),
// so nothing from the ledger is ever parsed as HTML.

export const token = new URLSearchParams(location.search).get('token') ?? '';

/** Open <details> and the like survive re-rendering. */
export const ui = { openFeatures: new Set(), openLogs: new Set(), clockOffset: 0, snapshot: null, lastChange: 0 };

// ---------- DOM helpers ----------

/** Builds an element: attrs are attributes (class, title, data-*…), `on` holds listeners; children are nodes or text. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'on') for (const [event, fn] of Object.entries(value)) el.addEventListener(event, fn);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export const $ = (id) => document.getElementById(id);
export const text = (value, fallback = '—') => (value === undefined || value === null || value === '' ? fallback : String(value));
const now = () => Date.now() + ui.clockOffset;

export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

/** A time that keeps itself current: "12s ago" or "in 3m 20s". */
export function timeEl(ms, mode) {
  if (typeof ms !== 'number') return h('span', { class: 'muted' }, '—');
  const el = h('time', { 'data-at': ms, 'data-mode': mode, datetime: new Date(ms).toISOString(), title: new Date(ms).toLocaleString() });
  el.textContent = relative(ms, mode);
  return el;
}

function duration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

export function relative(ms, mode) {
  const delta = (ms - now()) / 1000;
  if (mode === 'in') return delta <= 0 ? 'expired' : `in ${duration(delta)}`;
  return `${duration(-delta)} ago`;
}

export function tickClocks() {
  for (const el of document.querySelectorAll('[data-at]')) el.textContent = relative(Number(el.dataset.at), el.dataset.mode);
  if (ui.lastChange) $('updated').textContent = `· changed ${relative(ui.lastChange, 'ago')}`;
}

const TONE = {
  active: 'ok',
  running: 'ok',
  merged: 'ok',
  completed: 'ok',
  done: 'ok',
  approved: 'ok',
  starting: 'info',
  queued: 'info',
  checking: 'info',
  in_progress: 'info',
  requested: 'info',
  waiting: 'warn',
  blocked: 'warn',
  blocked_by_review: 'warn',
  awaiting_resume: 'warn',
  handoff_attached: 'warn',
  conflict: 'bad',
  gate_failed: 'bad',
  failed: 'bad',
  stopped: 'muted',
  cancelled: 'muted',
  closed: 'muted',
  todo: 'muted',
};

export const pill = (status) => h('span', { class: `pill ${TONE[status] ?? 'muted'}` }, text(status).replaceAll('_', ' '));
export const empty = (message) => h('p', { class: 'empty' }, message);
export const table = (headers, rows) =>
  h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      {},
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          headers.map((title) => h('th', { scope: 'col' }, title)),
        ),
      ),
      h('tbody', {}, rows),
    ),
  );
