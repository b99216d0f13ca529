// views/activity.js: #/activity: likes and comments on one's photos and
// new followers, newest first.

import { h } from '../dom.js';
import * as api from '../api.js';
import { href } from '../router.js';
import { imageUrl } from '../images.js';
import { pager, apiPage } from '../components/pager.js';
import { userLink, timeEl } from '../components/photo-card.js';
import { icon } from '../icons.js';

const PAGE = 20;

const WORDS = {
  like: 'liked your photo',
  comment: 'commented on your photo:',
  follow: 'started following you',
};

// An entry keeps the photo's URL as it was when it was written, which may
// no longer open (a signed URL that expired): then the photo is asked for
// afresh, once.
function thumbImg(photo) {
  const img = h('img', {
    src: imageUrl(photo, 'thumbnail'), alt: 'your photo', loading: 'lazy', width: '56', height: '56',
  });
  img.addEventListener('error', async () => {
    try {
      const fresh = await api.photo(photo.id);
      const url = imageUrl(fresh, 'thumbnail');
      if (url && url !== img.getAttribute('src')) img.src = url;
      else img.classList.add('broken');
    } catch {
      img.classList.add('broken');     // deleted since
    }
  }, { once: true });
  return img;
}

function item(a) {
  const thumb = a.photo && a.photo.id
    ? h('a', { class: 'activity-thumb', href: href('/photo/' + a.photo.id), 'data-test': 'activity-photo' },
      thumbImg(a.photo))
    : null;
  return h('div', {
    class: 'activity-item', role: 'listitem', 'data-test': 'activity-item',
    dataset: { type: a.type || 'other', activityId: a.id, actorId: a.actor && a.actor.id },
  },
  h('span', { class: 'activity-icon', 'aria-hidden': 'true' },
    icon(a.type === 'comment' ? 'comment' : a.type === 'follow' ? 'follow' : 'heart', { filled: a.type === 'like' })),
  h('div', { class: 'activity-text' },
    a.actor ? userLink(a.actor) : 'Someone',
    ' ', WORDS[a.type] || a.type,
    a.comment ? h('q', { class: 'activity-comment', 'data-test': 'activity-comment' }, a.comment.text) : null,
    h('div', { class: 'muted small' }, timeEl(a.created_at))),
  thumb);
}

export function activityView(outlet, ctx) {
  const page = apiPage('activity');
  const p = pager({
    signal: ctx.signal,
    testId: 'activity-list',
    listClass: 'activity',
    load: async (maxId, signal) => page(await api.activity({ count: PAGE, maxId, signal })),
    render: item,
    empty: h('div', { class: 'empty', 'data-test': 'empty' },
      h('p', null, 'Nothing yet.'),
      h('p', { class: 'muted' }, 'When people like or comment on your photos, or follow you, it shows here.')),
  });
  p.list.setAttribute('role', 'list');
  outlet.append(
    h('div', { class: 'view-head' },
      h('h1', null, 'Activity'),
      h('button', { type: 'button', class: 'btn btn-light', 'data-test': 'activity-refresh', onclick: () => p.reload() }, icon('refresh'), 'Refresh')),
    p.el);
}
