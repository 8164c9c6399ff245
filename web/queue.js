// The merge queue panel: one <tbody> per item (its row and its details), with review and cancel actions.

import { $, empty, h, pill, replace, table, text, timeEl, ui } from './dom.js?token=__TOKEN__';
import { act, actionButton } from './actions.js?token=__TOKEN__';

export const OPEN = new Set(['queued', 'waiting', 'blocked_by_review']);

function queueItem(item) {
  const id = item.id;
  const main = h('tr');
  const detail = h('tr', { class: 'detail' });
  const body = h('tbody', { 'aria-label': `Queue item ${id}` }, main, detail);
  const blockInput = h('input', { type: 'text', class: 'input', placeholder: 'What must change?', 'aria-label': 'Why block' });
  const blockForm = h(
    'form',
    { class: 'inline-form', hidden: true },
    blockInput,
    h('button', { type: 'submit', class: 'btn danger' }, 'Block'),
  );
  blockForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!blockInput.value.trim()) return blockInput.focus();
    const requestId = body.item.merge_request?.id;
    const done = await act(
      'merge.review.submit',
      { merge_request_id: requestId, verdict: 'BLOCK', summary: blockInput.value },
      `Merge request ${requestId} blocked`,
    );
    if (done) {
      blockInput.value = '';
      blockForm.hidden = true;
    }
  });
  const reviewButtons = h(
    'span',
    { class: 'buttons' },
    actionButton(
      'Approve',
      () =>
        act(
          'merge.review.submit',
          { merge_request_id: body.item.merge_request.id, verdict: 'APPROVE', summary: 'Approved from the dashboard' },
          `Merge request ${body.item.merge_request.id} approved`,
        ),
      { tone: 'ok' },
    ),
    h(
      'button',
      { type: 'button', class: 'btn', on: { click: () => ((blockForm.hidden = !blockForm.hidden), blockInput.focus()) } },
      'Block…',
    ),
  );
  const cancel = actionButton(
    'Cancel',
    () => act('merge.main.cancel', { request_id: id, reason: 'cancelled from the dashboard' }, `Queue item ${id} cancelled`),
    { confirm: 'Confirm cancel' },
  );
  const actions = h('div', { class: 'row-actions' }, reviewButtons, cancel, blockForm);
  body.update = (q) => {
    body.item = q;
    const review = q.merge_request;
    const reviewable = review && (review.status === 'requested' || review.status === 'blocked') && OPEN.has(q.state);
    reviewButtons.hidden = !reviewable;
    if (!reviewable) blockForm.hidden = true;
    cancel.hidden = !OPEN.has(q.state);
    replace(
      main,
      h('td', { class: 'num' }, `#${q.id}`),
      h('td', {}, pill(q.state)),
      h(
        'td',
        { class: 'branch' },
        h('code', {}, text(q.source_branch)),
        h('span', { class: 'arrow' }, ' → '),
        h('code', {}, text(q.target_branch)),
      ),
      h('td', { class: 'reason-cell' }, text(q.reason, '')),
      h(
        'td',
        {},
        review
          ? h(
              'span',
              {},
              `MR #${review.id} `,
              pill(review.status),
              review.summary ? h('span', { class: 'muted' }, ` ${review.summary}`) : null,
            )
          : h('span', { class: 'muted' }, '—'),
      ),
      h('td', { class: 'when' }, timeEl(q.updated_at, 'ago')),
      h('td', { class: 'actions-cell' }, actions),
    );
    const files = q.conflict_files ?? [];
    const log = q.gate_log_tail;
    detail.hidden = files.length === 0 && !log;
    const parts = [];
    if (files.length > 0)
      parts.push(
        h(
          'div',
          { class: 'files' },
          h('span', { class: 'label' }, 'Conflicting files'),
          files.map((f) => h('code', {}, f)),
        ),
      );
    if (log) {
      const details = h(
        'details',
        { open: ui.openLogs.has(q.id) },
        h('summary', {}, `Gate log (attempt ${q.attempts})`),
        h('pre', { class: 'output' }, log),
      );
      details.addEventListener('toggle', () => (details.open ? ui.openLogs.add(q.id) : ui.openLogs.delete(q.id)));
      parts.push(details);
    }
    replace(detail, h('td', { colspan: '7' }, parts));
  };
  return body;
}

export function renderQueue(queue) {
  const open = queue.filter((q) => OPEN.has(q.state) || q.state === 'checking').length;
  $('queue-count').textContent = queue.length ? `${open} open · ${queue.length} shown` : '';
  const el = $('queue');
  if (queue.length === 0) return replace(el, empty('The queue is empty. Agents queue work with merge.main.request.'));
  let tableEl = el.querySelector('table');
  if (!tableEl) {
    replace(el, table(['Item', 'State', 'Branch', 'Reason', 'Review', 'Updated', '']));
    tableEl = el.querySelector('table');
    tableEl.querySelector('tbody').remove();
    tableEl.classList.add('queue');
  }
  keyedBodies(tableEl, queue);
}

/** Keyed <tbody> per item (a table's rows cannot be wrapped in anything else). */
function keyedBodies(tableEl, queue) {
  const existing = new Map([...tableEl.tBodies].map((b) => [b.dataset.key, b]));
  const wanted = queue.map((q) => {
    let body = existing.get(String(q.id));
    if (!body) {
      body = queueItem(q);
      body.dataset.key = String(q.id);
    }
    body.update(q);
    existing.delete(String(q.id));
    return body;
  });
  for (const body of existing.values()) body.remove();
  wanted.forEach((body, index) => {
    if (tableEl.tBodies[index] !== body) tableEl.insertBefore(body, tableEl.tBodies[index] ?? null);
  });
}
