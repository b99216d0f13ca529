// like-button.js: a heart with the count; a click likes or unlikes at once on
// screen, and puts it back if the API refuses.  The write is applied by a
// worker (202), so the count shown is ours until the next read.

import { h } from '../dom.js';
import * as api from '../api.js';
import { flash } from '../notify.js';
import { icon } from '../icons.js';

export function likeButton(photo) {
  const count = h('span', { class: 'like-count', 'data-test': 'like-count' });
  const heart = h('span', { class: 'heart', 'aria-hidden': 'true' });
  const btn = h('button', {
    type: 'button', class: 'like', 'data-test': 'like-button',
    dataset: { photoId: photo.id },
  }, heart, count);

  function show() {
    btn.setAttribute('aria-pressed', photo.liked ? 'true' : 'false');
    btn.dataset.liked = photo.liked ? 'true' : 'false';
    btn.title = photo.liked ? 'Unlike' : 'Like';
    btn.setAttribute('aria-label', (photo.liked ? 'Unlike' : 'Like') +
      `, ${photo.like_count || 0} likes`);
    heart.replaceChildren(icon('heart', { filled: !!photo.liked }));
    count.textContent = String(photo.like_count || 0);
  }

  btn.addEventListener('click', async () => {
    if (btn.disabled) return;
    const was = { liked: !!photo.liked, like_count: photo.like_count || 0 };
    photo.liked = !was.liked;
    photo.like_count = Math.max(0, was.like_count + (photo.liked ? 1 : -1));
    show();
    btn.disabled = true;
    btn.dataset.pending = 'true';
    try {
      await (photo.liked ? api.like(photo.id) : api.unlike(photo.id));
    } catch (err) {
      Object.assign(photo, was);
      show();
      flash(err, 'error');
    } finally {
      btn.disabled = false;
      delete btn.dataset.pending;
    }
  });

  show();
  return btn;
}
