// views/signin.js: #/signin

import { h } from '../dom.js';
import * as api from '../api.js';
import { setMe } from '../session.js';
import { navigate, href } from '../router.js';
import { field, formError, showError, whileBusy } from '../forms.js';

export function signinView(outlet, ctx) {
  const username = h('input', {
    name: 'username', id: 'signin-username', autocomplete: 'username', required: true,
    maxlength: '30', 'data-test': 'signin-username', autocapitalize: 'none', spellcheck: 'false',
  });
  const password = h('input', {
    name: 'password', id: 'signin-password', type: 'password', autocomplete: 'current-password',
    required: true, 'data-test': 'signin-password',
  });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', 'data-test': 'signin-submit' }, 'Sign in');
  const error = formError();

  const form = h('form', { class: 'panel auth', 'data-test': 'signin-form', novalidate: true },
    h('h1', null, 'Sign in'),
    field('Username', username),
    field('Password', password),
    error,
    submit,
    h('p', { class: 'muted' }, 'New here? ', h('a', { href: href('/signup'), 'data-test': 'to-signup' }, 'Create an account')));

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    showError(error, null);
    const name = username.value.trim();
    if (!name || !password.value) {
      showError(error, 'Type your username and password.');
      return;
    }
    try {
      const r = await whileBusy(submit, 'Signing in…', () => api.signIn(name, password.value));
      setMe({ id: r.user_id, username: name });
      navigate(ctx.query.next && ctx.query.next.startsWith('/') ? ctx.query.next : '/feed');
    } catch (err) {
      showError(error, err);
      password.select();
    }
  });

  outlet.append(form);
  username.focus();
}
