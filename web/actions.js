/* global navigator */
// Actions: every state change goes through POST /api/call with the token header.

import { $, h, text, token } from './dom.js?token=__TOKEN__';

export function toast(message, tone = 'ok', detail) {
  const el = h(
    'div',
    { class: `toast ${tone}`, role: tone === 'bad' ? 'alert' : 'status' },
    h('strong', {}, message),
    detail ? h('div', {}, detail) : null,
  );
  $('toasts').append(el);
  setTimeout(() => el.remove(), tone === 'bad' ? 9000 : 4500);
}

/** Calls an allowed method; resolves to the result or undefined (the error is shown). */
export async function act(method, params, done) {
  try {
    const response = await fetch('/api/call', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
      body: JSON.stringify({ method, params }),
    });
    const body = await response.json().catch(() => ({ error: { code: 'INTERNAL', message: `HTTP ${response.status}` } }));
    if (!response.ok || body.error) {
      const error = body.error ?? {};
      toast(`${method}: ${text(error.code, 'error')}`, 'bad', [error.message, error.hint].filter(Boolean).join(' '));
      return undefined;
    }
    toast(typeof done === 'function' ? done(body.result) : done);
    return body.result;
  } catch (err) {
    toast(`${method} failed`, 'bad', String(err));
    return undefined;
  }
}

/** A button that runs an action once, disabled while it runs; `confirm` asks for a second click first. */
export function actionButton(label, run, { tone = '', confirm } = {}) {
  const button = h('button', { type: 'button', class: `btn ${tone}` }, label);
  let armed = false;
  let timer;
  button.addEventListener('click', async () => {
    if (confirm && !armed) {
      armed = true;
      button.textContent = confirm;
      button.classList.add('armed');
      timer = setTimeout(() => {
        armed = false;
        button.textContent = label;
        button.classList.remove('armed');
      }, 4000);
      return;
    }
    clearTimeout(timer);
    armed = false;
    button.disabled = true;
    button.textContent = `${label}…`;
    button.classList.remove('armed');
    try {
      await run();
    } finally {
      button.disabled = false;
      button.textContent = label;
    }
  });
  return button;
}

export async function copy(value, button) {
  try {
    await navigator.clipboard.writeText(value);
    button.textContent = 'Copied';
  } catch {
    button.textContent = 'Select and copy';
  }
  setTimeout(() => (button.textContent = 'Copy'), 1500);
}
