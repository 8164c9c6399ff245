/* global document, EventSource */
// The codestrator dashboard: one page, live over SSE (/api/events), every action through POST /api/call.
// Module URLs carry the token, like every request to the dashboard.

import { $, h, replace, text, tickClocks, token, ui } from './dom.js?token=__TOKEN__';
import { act } from './actions.js?token=__TOKEN__';
import { renderThreads } from './threads.js?token=__TOKEN__';
import { OPEN, renderQueue } from './queue.js?token=__TOKEN__';
import { renderLocks, renderSessions, renderTasks } from './panels.js?token=__TOKEN__';
import { renderConflicts } from './conflicts.js?token=__TOKEN__';

// ---------- summary and page ----------

function renderSummary(s) {
  const open = s.sessions.filter((x) => x.status !== 'closed');
  const queueOpen = s.queue.filter((q) => OPEN.has(q.state) || q.state === 'checking').length;
  const conflicts = s.conflicts.report
    ? s.conflicts.report.pairs.filter((p) => p.conflict_files.length > 0).length +
      s.conflicts.report.branches.filter((b) => b.conflicts_with_target.length > 0).length
    : null;
  const stat = (label, value, sub, tone = '') =>
    h(
      'div',
      { class: `stat ${tone}` },
      h('span', { class: 'stat-label' }, label),
      h('span', { class: 'stat-value' }, String(value)),
      h('span', { class: 'stat-sub' }, sub),
    );
  replace(
    $('summary'),
    stat('Sessions', open.length, `${open.filter((x) => x.live).length} live`),
    stat('Threads', s.threads.filter((t) => t.active).length, `running of ${s.threads.length}`),
    stat('Cases', `${s.tasks.cases.done}/${s.tasks.cases.total}`, `${s.tasks.cases.in_progress} in progress`),
    stat('Locks', s.locks.length, 'live'),
    stat('Queue', queueOpen, `open · ${s.queue.filter((q) => q.state === 'merged').length} merged`),
    stat('Conflicts', conflicts ?? '…', 'predicted', conflicts ? 'bad' : ''),
  );
}

function render(message) {
  const s = message.snapshot;
  ui.snapshot = s;
  ui.clockOffset = message.server_now - Date.now();
  ui.lastChange = message.server_now;
  $('repo-path').textContent = text(s.repo.path, '');
  document.title = s.repo.path ? `codestrator · ${s.repo.path.split('/').pop()}` : 'codestrator';
  const banner = $('errors');
  banner.hidden = s.errors.length === 0;
  replace(
    banner,
    s.errors.map((e) => h('div', {}, h('strong', {}, `${e.section}: `), `${e.code} — ${e.message}`)),
  );
  renderSummary(s);
  renderThreads(s.threads);
  renderQueue(s.queue);
  renderSessions(s.sessions);
  renderLocks(s.locks);
  renderTasks(s.tasks);
  renderConflicts(s.conflicts);
  tickClocks();
}

function setConnection(state, label) {
  $('conn').dataset.state = state;
  $('conn-text').textContent = label;
}

/** EventSource reconnects by itself after a dropped stream; a refused one (closed) is retried here. */
function connect() {
  const source = new EventSource(`/api/events?token=${encodeURIComponent(token)}`);
  source.addEventListener('open', () => setConnection('live', 'Live'));
  source.addEventListener('snapshot', (event) => {
    setConnection('live', 'Live');
    render(JSON.parse(event.data));
  });
  source.addEventListener('error', () => {
    if (source.readyState === EventSource.CLOSED) {
      setConnection('down', 'Disconnected · retrying');
      setTimeout(connect, 5000);
    } else setConnection('reconnecting', 'Reconnecting…');
  });
}

$('process-queue').addEventListener('click', async (event) => {
  const button = event.currentTarget;
  button.disabled = true;
  button.textContent = 'Processing…';
  await act('merge.main.process', {}, (result) => {
    const states = (result.processed ?? []).map((item) => `#${item.id} ${item.state.replaceAll('_', ' ')}`);
    return states.length ? `Processed ${states.length}: ${states.join(', ')}` : 'Nothing was ready to land';
  });
  button.disabled = false;
  button.textContent = 'Process queue';
});

setInterval(tickClocks, 1000);
connect();
