// notify.js: telling the person what happened, in words.

import { ApiError } from './api.js';
import { h } from './dom.js';

// The words for an error: the API's own message for what the person can
// act on (4xx), a plain sentence for network failures and server trouble.
export function errorText(err) {
  if (err instanceof ApiError) {
    if (err.status === 0) {
      return "Can't reach the server. Check your connection and try again.";
    }
    if (err.status === 429) {
      const wait = err.retryAfter ? ` (try again in ${err.retryAfter} s)` : '';
      return sentence(err.message) + wait;
    }
    if (err.status >= 500) {
      return 'The server is having trouble right now' +
        ` (${err.status}${err.code && !err.code.startsWith('http_') ? ' ' + err.code : ''}).` +
        ' Please try again in a moment.';
    }
    if (err.status === 413) return 'That file is too large to upload.';
    return sentence(err.message);
  }
  return 'Something went wrong: ' + ((err && err.message) || String(err));
}

function sentence(s) {
  s = String(s || '').trim();
  if (!s) return 'Something went wrong.';
  s = s[0].toUpperCase() + s.slice(1);
  return /[.!?)]$/.test(s) ? s : s + '.';
}

// An inline error paragraph for a view or form.
export function errorBox(err, testId = 'error') {
  const p = h('p', { class: 'error', role: 'alert', 'data-test': testId }, errorText(err));
  if (err instanceof ApiError && err.requestId) p.title = 'request id ' + err.requestId;
  return p;
}

// The banner under the top bar: kind 'error' stays until closed (or the
// next banner), 'info' goes away by itself.
let timer = null;

export function flash(message, kind = 'info') {
  const el = document.getElementById('flash');
  if (!el) return;
  const text = message instanceof Error ? errorText(message) : String(message);
  clearTimeout(timer);
  el.className = 'flash flash-' + kind;
  el.dataset.kind = kind;
  el.dataset.at = String(Date.now());
  el.replaceChildren(
    h('span', { 'data-test': 'flash-text' }, text),
    h('button', {
      type: 'button', class: 'flash-close', 'aria-label': 'Dismiss',
      onclick: () => hideFlash(),
    }, '×'),
  );
  el.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  el.hidden = false;
  if (kind !== 'error') timer = setTimeout(hideFlash, 5000);
}

export function hideFlash() {
  const el = document.getElementById('flash');
  if (el) el.hidden = true;
}
