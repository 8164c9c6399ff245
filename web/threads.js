// The threads panel: one card per child, with its output, attach command and controls.

import { $, empty, h, pill, replace, text, timeEl } from './dom.js?token=__TOKEN__';
import { act, actionButton, copy } from './actions.js?token=__TOKEN__';

// ---------- keyed lists (so forms in cards keep what is typed while data updates) ----------

function keyed(container, items, key, create) {
  const existing = new Map([...container.children].filter((el) => el.dataset.key).map((el) => [el.dataset.key, el]));
  const wanted = [];
  for (const item of items) {
    const id = String(key(item));
    let el = existing.get(id);
    if (!el) {
      el = create(item);
      el.dataset.key = id;
    }
    el.update(item);
    existing.delete(id);
    wanted.push(el);
  }
  for (const el of existing.values()) el.remove();
  for (const stray of [...container.children].filter((el) => !el.dataset.key)) stray.remove();
  wanted.forEach((el, index) => {
    if (container.children[index] !== el) container.insertBefore(el, container.children[index] ?? null);
  });
}

// ---------- threads ----------

function threadCard(thread) {
  const id = thread.id;
  const status = h('span');
  const title = h('span', { class: 'title' });
  const meta = h('span', { class: 'meta' });
  const branch = h('code', { class: 'thread-branch' });
  const reason = h('span');
  const report = h('p', { class: 'report' });
  const output = h('pre', { class: 'output', tabindex: '0', 'aria-label': `Last output of thread ${id}` });
  const attachCode = h('code', { class: 'cmd' });
  const copyButton = h('button', { type: 'button', class: 'btn small' }, 'Copy');
  copyButton.addEventListener('click', () => copy(attachCode.textContent, copyButton));
  const attach = h('div', { class: 'attach' }, h('span', { class: 'label' }, 'Watch'), attachCode, copyButton);

  const directive = h('input', {
    type: 'text',
    class: 'input',
    placeholder: 'Directive for this thread…',
    'aria-label': `Directive for thread ${id}`,
  });
  const mode = h(
    'select',
    { class: 'input select', 'aria-label': 'Delivery' },
    h('option', { value: 'queue' }, 'at its next step'),
    h('option', { value: 'interrupt_patch' }, 'interrupt now'),
    h('option', { value: 'restart' }, 'restart with it'),
  );
  const send = h('button', { type: 'submit', class: 'btn primary' }, 'Send');
  const form = h('form', { class: 'directive' }, directive, mode, send);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!directive.value.trim()) return directive.focus();
    send.disabled = true;
    const done = await act(
      'thread.child.directive',
      { thread_id: id, mode: mode.value, text: directive.value },
      `Directive sent to thread ${id}`,
    );
    send.disabled = false;
    if (done) directive.value = '';
  });
  const controls = h(
    'div',
    { class: 'controls' },
    form,
    h(
      'div',
      { class: 'buttons' },
      actionButton('Interrupt', () => act('thread.child.interrupt', { thread_id: id }, `Ctrl-C sent to thread ${id}`)),
      actionButton(
        'Stop',
        () => act('thread.child.stop', { thread_id: id, reason: 'stopped from the dashboard' }, `Thread ${id} stopped`),
        { tone: 'danger', confirm: 'Confirm stop' },
      ),
    ),
  );

  const card = h(
    'article',
    { class: 'thread', 'aria-label': `Thread ${id}` },
    h('header', {}, status, h('span', { class: 'id' }, `#${id}`), title, meta),
    h('p', { class: 'reason' }, reason, branch),
    report,
    output,
    attach,
    controls,
  );
  card.update = (t) => {
    card.dataset.status = t.status;
    replace(status, pill(t.status));
    title.textContent = text(t.title, `thread ${t.id}`);
    meta.textContent = [t.runner, t.role, `session ${t.session_id}`].filter(Boolean).join(' · ');
    branch.textContent = text(t.branch, '');
    branch.hidden = !t.branch;
    const ended = !t.active && typeof t.completed_at === 'number';
    replace(reason, text(t.status_reason, t.status), ended ? ' · ended ' : '', ended ? timeEl(t.completed_at, 'ago') : '');
    report.textContent = t.last_report ? `Last report: ${t.last_report}` : '';
    report.hidden = !t.last_report;
    const lines = t.output ? t.output.replace(/\s+$/, '') : '';
    const shown = lines || '(no output yet)';
    if (output.textContent !== shown) {
      const atEnd = output.scrollTop + output.clientHeight >= output.scrollHeight - 4;
      output.textContent = shown;
      if (atEnd) output.scrollTop = output.scrollHeight;
    }
    output.classList.toggle('none', !lines);
    // An ended thread's window is gone: no output box without output, no attach command to nowhere.
    output.hidden = !lines && !t.active;
    attachCode.textContent = text(t.attach_command, '');
    attach.hidden = !t.attach_command || !t.active;
    controls.hidden = !t.active;
  };
  return card;
}

export function renderThreads(threads) {
  const running = threads.filter((t) => t.active).length;
  $('threads-count').textContent = threads.length ? `${running} running · ${threads.length} total` : '';
  const list = $('threads');
  list.classList.toggle('cards', threads.length > 0);
  if (threads.length === 0) return replace(list, empty('No child threads. Agents start them with thread.child.spawn.'));
  const ordered = [...threads].sort((a, b) => Number(b.active) - Number(a.active) || a.id - b.id);
  keyed(list, ordered, (t) => t.id, threadCard);
}
