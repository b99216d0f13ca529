// forms.js: small helpers the views' forms share.

import { h, fill } from './dom.js';
import { errorText } from './notify.js';

export function field(labelText, input, hint) {
  return h('label', { class: 'field' },
    h('span', { class: 'field-label' }, labelText),
    input,
    hint ? h('span', { class: 'hint' }, hint) : null);
}

// The paragraph a form shows its error in (empty and hidden until then).
export function formError(testId = 'form-error') {
  return h('p', { class: 'error', role: 'alert', 'data-test': testId, hidden: true });
}

export function showError(el, errOrText) {
  if (!errOrText) {
    el.hidden = true;
    fill(el);
    return;
  }
  fill(el, typeof errOrText === 'string' ? errOrText : errorText(errOrText));
  el.hidden = false;
}

// Runs fn with the button disabled and showing busyText meanwhile.
export async function whileBusy(button, busyText, fn) {
  const text = button.textContent;
  button.disabled = true;
  button.dataset.busy = 'true';
  button.textContent = busyText;
  try {
    return await fn();
  } finally {
    button.disabled = false;
    delete button.dataset.busy;
    button.textContent = text;
  }
}
