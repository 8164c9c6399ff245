// The sessions, locks and tasks panels: plain tables and lists, rebuilt on every change.

import { $, empty, h, pill, replace, table, text, timeEl, ui } from './dom.js?token=__TOKEN__';

// ---------- sessions, locks ----------

export function renderSessions(sessions) {
  const open = sessions.filter((s) => s.status !== 'closed');
  $('sessions-count').textContent = `${open.filter((s) => s.live).length} live · ${open.length} open`;
  if (sessions.length === 0) return replace($('sessions'), empty('No sessions yet. An agent opens one with session.open.'));
  replace(
    $('sessions'),
    table(
      ['Session', 'Status', 'Branch', 'Request', 'Last seen'],
      sessions.map((s) =>
        h(
          'tr',
          { class: s.status === 'closed' ? 'dim' : '' },
          h('td', { class: 'num' }, `#${s.id}`),
          h(
            'td',
            { class: 'status-cell' },
            h('span', { class: `live-dot ${s.live ? 'on' : ''}`, title: s.live ? 'live' : 'not live' }),
            pill(s.status),
          ),
          h('td', { class: 'branch' }, s.branch ? h('code', {}, s.branch) : h('span', { class: 'muted' }, 'main checkout')),
          h('td', { class: 'request' }, text(s.user_request, s.agent_role)),
          h('td', { class: 'when' }, timeEl(s.status === 'closed' ? s.closed_at : s.last_seen_at, 'ago')),
        ),
      ),
    ),
  );
}

export function renderLocks(locks) {
  $('locks-count').textContent = locks.length ? `${locks.length} live` : '';
  if (locks.length === 0) return replace($('locks'), empty('No live locks.'));
  replace(
    $('locks'),
    table(
      ['Scope', 'Holder', 'Fence', 'Expires'],
      locks.map((l) =>
        h(
          'tr',
          {},
          h('td', { class: 'scope' }, h('span', { class: 'tag' }, l.scope_type), h('code', {}, l.scope_path)),
          h('td', {}, h('code', {}, text(l.owner_key))),
          h('td', { class: 'num' }, text(l.fence)),
          h('td', { class: 'when' }, timeEl(l.lease_until, 'in')),
        ),
      ),
    ),
  );
}

// ---------- tasks ----------

function progress(done, total) {
  const bar = h('span', { class: 'bar-fill' });
  bar.style.width = total ? `${Math.round((done / total) * 100)}%` : '0%';
  return h(
    'span',
    { class: 'progress', role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': String(total), 'aria-valuenow': String(done) },
    h('span', { class: 'bar' }, bar),
    h('span', { class: 'ratio' }, `${done}/${total}`),
  );
}

export function renderTasks(tree) {
  const c = tree.cases;
  $('tasks-count').textContent = c.total ? `${c.done}/${c.total} cases done` : '';
  if (tree.epics.length === 0) return replace($('tasks'), empty('No tasks yet. Agents plan with task.create.'));
  replace(
    $('tasks'),
    tree.epics.map((epic) =>
      h(
        'div',
        { class: 'epic' },
        h(
          'div',
          { class: 'epic-head' },
          h('span', { class: 'level' }, 'Epic'),
          h('span', { class: 'title' }, epic.title),
          pill(epic.status),
        ),
        epic.features.length === 0
          ? empty('No features.')
          : epic.features.map((f) => {
              const details = h(
                'details',
                { class: 'feature', open: ui.openFeatures.has(f.id) },
                h(
                  'summary',
                  {},
                  h('span', { class: 'title' }, f.title),
                  f.in_progress ? h('span', { class: 'tag info' }, `${f.in_progress} active`) : null,
                  f.blocked ? h('span', { class: 'tag warn' }, `${f.blocked} blocked`) : null,
                  progress(f.done, f.total),
                ),
                f.cases.length === 0
                  ? empty('No cases.')
                  : h(
                      'ul',
                      { class: 'cases' },
                      f.cases.map((k) =>
                        h(
                          'li',
                          {},
                          pill(k.status),
                          h('span', { class: 'num' }, `#${k.id}`),
                          h('span', { class: 'title' }, k.title),
                          k.owner_key ? h('code', { class: 'owner' }, k.owner_key) : null,
                        ),
                      ),
                    ),
              );
              details.addEventListener('toggle', () => (details.open ? ui.openFeatures.add(f.id) : ui.openFeatures.delete(f.id)));
              return details;
            }),
      ),
    ),
  );
}
