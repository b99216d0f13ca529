// views/user.js: #/user/<id>: one person's photos in a grid, and the
// follow / unfollow button.  ?posted=<photo id>: their new photo, which the
// workers may not have stored yet: the grid is read again until it is there.

import { h, fill } from '../dom.js';
import * as api from '../api.js';
import { me, isMe } from '../session.js';
import { isFollowing, remember } from '../follows.js';
import { href } from '../router.js';
import { flash } from '../notify.js';
import { isId, plural } from '../format.js';
import { pager, apiPage } from '../components/pager.js';
import { photoTile } from '../components/photo-card.js';

const PAGE = 12;

export function userView(outlet, ctx) {
  const id = ctx.params.id;
  if (!isId(id)) {
    outlet.append(h('p', { class: 'error', 'data-test': 'error' }, 'There is no such user.'));
    return;
  }
  const own = isMe(id);
  let fb = null;
  const name = h('h1', { 'data-test': 'user-name' }, own ? me().username : 'User #' + id);
  const countEl = h('span', { class: 'muted', 'data-test': 'user-count' });
  const note = h('p', { class: 'muted', 'data-test': 'user-note', hidden: true });
  const head = h('div', { class: 'profile' },
    h('span', { class: 'avatar avatar-big', 'aria-hidden': 'true' }, '@'),
    h('div', { class: 'profile-main' }, name, countEl),
    own ? h('a', { class: 'btn btn-primary', href: href('/upload'), 'data-test': 'user-upload' }, '+ New photo')
      : (fb = followButton(id, () => name.textContent)).el);

  let tries = 0;
  const page = apiPage('photos');
  const p = pager({
    signal: ctx.signal,
    testId: 'user-photos',
    listClass: 'grid',
    load: async (maxId, signal) => page(await api.userPhotos(id, { count: PAGE, maxId, signal })),
    render: (photo) => photoTile(photo),
    empty: own ? 'You have not shared any photos yet.' : 'No photos yet.',
    onPage: (items, n) => {
      if (n === 1 && items[0] && items[0].user) {
        fill(name, items[0].user.username);
        setAvatar(items[0].user.username);
      }
      const shown = Number(p.list.dataset.count);
      countEl.textContent = plural(shown, 'photo', 'photos') + (p.list.dataset.state === 'done' ? '' : '+');
      waitForPosted(n);
    },
  });

  function setAvatar(username) {
    head.querySelector('.avatar').textContent = username.slice(0, 1).toUpperCase();
  }
  if (own) setAvatar(me().username);

  // a photo just posted: read the first page again until it shows
  function waitForPosted(n) {
    const posted = ctx.query.posted;
    if (!posted || n !== 1) return;
    if (p.list.querySelector(`[data-photo-id="${CSS.escape(posted)}"]`)) {
      note.hidden = true;
      return;
    }
    if (tries >= 10) {
      note.textContent = 'Your new photo is taking a while to appear; refresh in a moment.';
      return;
    }
    tries += 1;
    note.hidden = false;
    note.textContent = 'Your new photo is on its way…';
    const t = setTimeout(() => p.reload(), 1500);
    ctx.signal.addEventListener('abort', () => clearTimeout(t));
  }

  // the profile: the name, the counts, and whether the reader follows them
  const counts = h('p', { class: 'muted', 'data-test': 'user-counts' });
  head.querySelector('.profile-main').append(counts);
  api.user(id, { signal: ctx.signal }).then((u) => {
    fill(name, u.username);
    setAvatar(u.username);
    fill(counts, [plural(u.photo_count, 'photo', 'photos'),
                  plural(u.follower_count, 'follower', 'followers'),
                  u.following_count + ' following'].join(' · '));
    if (fb && !fb.touched()) {
      remember(id, u.following);
      fb.show();
    }
  }).catch((err) => {
    if (!api.isAbort(err) && err.status === 404) {
      fill(name, 'No such user');
    }
  });

  outlet.append(head, note, p.el);
}


// {el, show, touched}: touched() once it was used (what it did stands over
// a profile that comes after)
function followButton(userId, nameOf) {
  let used = false;
  const btn = h('button', { type: 'button', class: 'btn', 'data-test': 'follow-button' });
  const show = () => {
    const on = isFollowing(userId);
    btn.textContent = on ? 'Following ✓' : 'Follow';
    btn.className = on ? 'btn btn-light' : 'btn btn-primary';
    btn.dataset.following = on ? 'true' : 'false';
    btn.setAttribute('aria-pressed', on ? 'true' : 'false');
    btn.title = on ? 'Unfollow' : 'Follow';
  };
  btn.addEventListener('mouseenter', () => { if (isFollowing(userId)) btn.textContent = 'Unfollow'; });
  btn.addEventListener('mouseleave', show);
  btn.addEventListener('click', async () => {
    used = true;
    const on = !isFollowing(userId);
    btn.disabled = true;
    try {
      await (on ? api.follow(userId) : api.unfollow(userId));
      remember(userId, on);
      flash(on ? `You follow ${nameOf()} now; their photos will show in your feed.`
        : `You no longer follow ${nameOf()}.`);
    } catch (err) {
      flash(err, 'error');
    } finally {
      btn.disabled = false;
      show();
    }
  });
  show();
  return { el: btn, show, touched: () => used };
}
