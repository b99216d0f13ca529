// main.js: the client's start: the routes, the top bar, and what a lost
// session does.

import { h, fill } from './dom.js';
import * as api from './api.js';
import { me, setMe, onChange } from './session.js';
import { route, start, navigate, href, parseHash } from './router.js';
import { flash, hideFlash } from './notify.js';
import { signinView } from './views/signin.js';
import { signupView } from './views/signup.js';
import { feedView } from './views/feed.js';
import { userView } from './views/user.js';
import { photoView } from './views/photo.js';
import { nearbyView } from './views/nearby.js';
import { activityView } from './views/activity.js';
import { uploadView } from './views/upload.js';

route('/signin', signinView, { public: true });
route('/signup', signupView, { public: true });
route('/feed', feedView);
route('/upload', uploadView);
route('/user/:id', userView);
route('/photo/:id', photoView);
route('/nearby', nearbyView);
route('/activity', activityView);

function notFound(outlet) {
  outlet.append(h('div', { class: 'panel empty', 'data-test': 'not-found' },
    h('h1', null, 'Nothing here'),
    h('p', null, h('a', { href: href(me() ? '/feed' : '/signin') }, 'Go back home'))));
}

// Signed out: only the public routes.  Signed in: not the sign-in forms.
function guard(r, path) {
  if (path === '/' || path === '') return me() ? '/feed' : '/signin';
  if (!r) return null;
  if (!r.public && !me()) return '/signin';
  if (r.public && me()) return '/feed';
  return null;
}

function navLink(path, text, test) {
  return h('a', { href: href(path), class: 'nav-link', 'data-test': test, dataset: { path } }, text);
}

function renderNav() {
  const nav = document.getElementById('nav');
  const u = me();
  if (!u) {
    fill(nav, h('div', { class: 'nav-user' },
      navLink('/signin', 'Sign in', 'nav-signin'), navLink('/signup', 'Sign up', 'nav-signup')));
  } else {
    fill(nav,
      h('div', { class: 'nav-main' },
        navLink('/feed', 'Feed', 'nav-feed'),
        navLink('/nearby', 'Nearby', 'nav-nearby'),
        navLink('/activity', 'Activity', 'nav-activity'),
        h('a', { href: href('/upload'), class: 'nav-link nav-upload', 'data-test': 'nav-upload', dataset: { path: '/upload' } }, '+ Upload')),
      h('div', { class: 'nav-user' },
        h('a', {
          href: href('/user/' + u.id), class: 'nav-link nav-me', 'data-test': 'nav-me',
          dataset: { path: '/user/' + u.id }, title: 'Your page',
        }, '@', h('span', { 'data-test': 'nav-username' }, u.username)),
        h('button', { type: 'button', class: 'btn btn-light btn-small', 'data-test': 'nav-signout', onclick: signOut }, 'Sign out')));
  }
  markCurrent();
}

function markCurrent() {
  const { path } = parseHash();
  for (const a of document.querySelectorAll('#nav [data-path]')) {
    if (a.dataset.path === path) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

async function signOut(e) {
  const btn = e.currentTarget;
  btn.disabled = true;
  try {
    await api.signOut();
  } catch (err) {
    // the cookie may outlive a failed sign-out: say so, but forget the user
    if (err.status !== 401) flash(err, 'error');
  } finally {
    btn.disabled = false;
  }
  setMe(null);
  navigate('/signin');
  flash('You are signed out.');
}

api.onUnauthorized(() => {
  if (!me()) return;
  setMe(null);
  flash('Your session has ended. Please sign in again.', 'error');
  navigate('/signin');
});

onChange(() => {
  renderNav();
});
document.addEventListener('routechange', () => {
  markCurrent();
  // an error banner is about the page it was shown on (unless it is new:
  // it may be what sent us here)
  const f = document.getElementById('flash');
  if (f && !f.hidden && f.dataset.kind === 'error' && Date.now() - Number(f.dataset.at || 0) > 1000) {
    hideFlash();
  }
});

document.getElementById('booting')?.remove();
renderNav();
start(document.getElementById('view'), { guard, notFound });
