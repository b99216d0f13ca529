// photo-card.js: a photo in a list: a card in the feed's column, a square
// tile in a grid.

import { h } from '../dom.js';
import { imgAttrs } from '../images.js';
import { timeAgo, fullTime, place, plural } from '../format.js';
import { href } from '../router.js';
import { likeButton } from './like-button.js';
import { icon } from '../icons.js';

export function userLink(user, cls = 'user-link') {
  const name = (user && user.username) || 'someone';
  return h('a', {
    class: cls, href: href('/user/' + user.id), 'data-test': 'user-link',
    dataset: { userId: user.id },
  }, h('span', { class: 'avatar', 'aria-hidden': 'true' }, name.slice(0, 1).toUpperCase()), name);
}

export function timeEl(iso) {
  return h('time', { datetime: iso, title: fullTime(iso) }, timeAgo(iso));
}

export function placeLink(photo) {
  if (typeof photo.lat !== 'number' || typeof photo.lng !== 'number') return null;
  return h('a', {
    class: 'place', 'data-test': 'photo-place',
    href: href('/nearby', { lat: photo.lat, lng: photo.lng, radius_km: 10 }),
    title: 'Photos near here',
  }, icon('pin'), place(photo.lat, photo.lng));
}

// The feed's card.
export function photoCard(photo) {
  const link = href('/photo/' + photo.id);
  return h('article', {
    class: 'card', 'data-test': 'photo-card',
    dataset: { photoId: photo.id, userId: photo.user && photo.user.id },
  },
  h('header', { class: 'card-head' }, userLink(photo.user), placeLink(photo)),
  h('a', { class: 'card-image', href: link, 'data-test': 'photo-link' },
    h('img', imgAttrs(photo, 'standard', '(max-width: 640px) 100vw, 614px'))),
  h('div', { class: 'card-body' },
    h('div', { class: 'actions' },
      likeButton(photo),
      h('a', { class: 'comments-link', href: link, 'data-test': 'comments-link' },
        icon('comment'), plural(photo.comment_count || 0, 'comment', 'comments'))),
    photo.caption ? h('p', { class: 'caption', 'data-test': 'photo-caption' },
      h('strong', null, (photo.user && photo.user.username) || ''), ' ', photo.caption) : null,
    h('a', { class: 'when', href: link }, timeEl(photo.created_at))));
}

// A grid's tile.
export function photoTile(photo, size = 'low') {
  return h('a', {
    class: 'tile', href: href('/photo/' + photo.id), 'data-test': 'photo-tile',
    dataset: { photoId: photo.id, userId: photo.user && photo.user.id },
    title: photo.caption || '',
  },
  h('img', imgAttrs(photo, size, '(max-width: 640px) 50vw, 300px')),
  h('span', { class: 'tile-info' },
    icon('heart', { filled: true }), h('span', null, String(photo.like_count || 0)),
    icon('comment', { filled: true }), h('span', null, String(photo.comment_count || 0))));
}
