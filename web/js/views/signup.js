// views/signup.js: #/signup: makes the account, then signs in with it.

import { h } from '../dom.js';
import * as api from '../api.js';
import { setMe } from '../session.js';
import { navigate, href } from '../router.js';
import { flash, errorText } from '../notify.js';
import { field, formError, showError, whileBusy } from '../forms.js';

const NAME = /^[A-Za-z0-9_.]{1,30}$/;

export function signupView(outlet) {
  const username = h('input', {
    name: 'username', id: 'signup-username', autocomplete: 'username', required: true,
    maxlength: '30', 'data-test': 'signup-username', autocapitalize: 'none', spellcheck: 'false',
  });
  const password = h('input', {
    name: 'password', id: 'signup-password', type: 'password', autocomplete: 'new-password',
    required: true, minlength: '8', maxlength: '128', 'data-test': 'signup-password',
  });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', 'data-test': 'signup-submit' }, 'Create account');
  const error = formError();

  const form = h('form', { class: 'panel auth', 'data-test': 'signup-form', novalidate: true },
    h('h1', null, 'Create an account'),
    field('Username', username, 'Up to 30 letters, digits, “_” or “.”'),
    field('Password', password, 'At least 8 characters'),
    error,
    submit,
    h('p', { class: 'muted' }, 'Have an account? ', h('a', { href: href('/signin'), 'data-test': 'to-signin' }, 'Sign in')));

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    showError(error, null);
    const name = username.value.trim();
    if (!NAME.test(name)) {
      showError(error, 'A username is 1 to 30 letters, digits, “_” or “.”.');
      return;
    }
    if (password.value.length < 8 || password.value.length > 128) {
      showError(error, 'A password is 8 to 128 characters.');
      return;
    }
    let created = null;
    try {
      await whileBusy(submit, 'Creating…', async () => {
        created = await api.signUp(name, password.value);
        const s = await api.signIn(name, password.value);
        setMe({ id: s.user_id, username: created.username });
      });
      flash(`Welcome, ${created.username}! Share a photo or follow people to fill your feed.`);
      navigate('/feed');
    } catch (err) {
      if (created) {
        // the account is made; only the sign-in failed
        showError(error, 'Your account was created, but signing in failed: ' +
          errorText(err) + ' Try signing in.');
      } else {
        showError(error, err);
      }
    }
  });

  outlet.append(form);
  username.focus();
}
