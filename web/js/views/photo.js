// views/photo.js: #/photo/<id>: the photo, its likes and its comments
// (read, add, delete one's own, or any on one's own photo).

import { h, fill } from '../dom.js';
import * as api from '../api.js';
import { me, isMe } from '../session.js';
import { navigate } from '../router.js';
import { flash, errorBox } from '../notify.js';
import { isId } from '../format.js';
import { imgAttrs } from '../images.js';
import { field, formError, showError, whileBusy } from '../forms.js';
import { likeButton } from '../components/like-button.js';
import { userLink, timeEl, placeLink } from '../components/photo-card.js';
import { pager, apiPage } from '../components/pager.js';

const COMMENTS = 20;

export async function photoView(outlet, ctx) {
  const id = ctx.params.id;
  if (!isId(id)) {
    outlet.append(h('p', { class: 'error', 'data-test': 'error' }, 'There is no such photo.'));
    return;
  }
  const loading = h('p', { class: 'muted' }, 'Loading…');
  outlet.append(loading);
  let photo;
  try {
    photo = await api.photo(id, { signal: ctx.signal });
  } catch (err) {
    if (api.isAbort(err)) return;
    fill(outlet, errorBox(err));
    return;
  }
  loading.remove();

  const own = isMe(photo.user.id);
  const comments = commentsSection(photo, ctx);

  const side = h('div', { class: 'photo-side' },
    h('header', { class: 'card-head' }, userLink(photo.user), placeLink(photo)),
    photo.caption ? h('p', { class: 'caption', 'data-test': 'photo-caption' }, photo.caption) : null,
    h('div', { class: 'actions' },
      likeButton(photo),
      h('span', { class: 'muted' }, timeEl(photo.created_at)),
      own ? h('button', {
        type: 'button', class: 'btn btn-danger btn-small', 'data-test': 'photo-delete',
        onclick: (e) => removePhoto(photo, e.currentTarget),
      }, 'Delete') : null),
    comments);

  outlet.append(h('article', {
    class: 'photo-page', 'data-test': 'photo-page', dataset: { photoId: photo.id },
  },
  h('figure', { class: 'photo-figure' },
    h('a', { href: photo.image_url, target: '_blank', rel: 'noopener', title: 'Open the full image' },
      h('img', { ...imgAttrs(photo, 'full', '(max-width: 900px) 100vw, 620px'), loading: 'eager', 'data-test': 'photo-image' }))),
  side));
}

async function removePhoto(photo, btn) {
  if (!confirm('Delete this photo?')) return;
  try {
    await whileBusy(btn, 'Deleting…', () => api.deletePhoto(photo.id));
    flash('Photo deleted.');
    navigate('/user/' + photo.user.id);
  } catch (err) {
    flash(err, 'error');
  }
}

function commentsSection(photo, ctx) {
  const count = h('span', { 'data-test': 'comment-count' }, String(photo.comment_count || 0));
  const page = apiPage('comments');
  const p = pager({
    signal: ctx.signal,
    testId: 'comments',
    listClass: 'comments',
    load: async (maxId, signal) => page(await api.comments(photo.id, { count: COMMENTS, maxId, signal })),
    render: (c) => commentItem(c, photo, removed),
    empty: h('p', { class: 'muted', 'data-test': 'empty' }, 'No comments yet. Say something nice!'),
  });

  function removed() {
    photo.comment_count = Math.max(0, (photo.comment_count || 0) - 1);
    count.textContent = String(photo.comment_count);
  }

  const text = h('textarea', {
    name: 'text', rows: '2', maxlength: '2200', placeholder: 'Add a comment…',
    'data-test': 'comment-text', required: true,
  });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', 'data-test': 'comment-submit' }, 'Post');
  const error = formError('comment-error');
  const form = h('form', { class: 'comment-form', 'data-test': 'comment-form' },
    field('Comment', text), error, submit);

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    showError(error, null);
    const body = text.value;
    if (!body.trim()) {
      showError(error, 'Write something first.');
      return;
    }
    try {
      const r = await whileBusy(submit, 'Posting…', () => api.addComment(photo.id, body));
      text.value = '';
      // stored by a worker in a moment; shown at once, as ours
      const c = { id: r.id, user: { ...me() }, text: body, created_at: new Date().toISOString() };
      const el = commentItem(c, photo, removed);
      el.dataset.pending = 'true';
      p.list.prepend(el);
      p.el.querySelector('[data-test="empty"]')?.remove();
      photo.comment_count = (photo.comment_count || 0) + 1;
      count.textContent = String(photo.comment_count);
    } catch (err) {
      showError(error, err);
    }
  });

  return h('section', { class: 'comments-section', 'aria-label': 'Comments' },
    h('h2', null, 'Comments (', count, ')'),
    form,
    p.el);
}

function commentItem(c, photo, onRemoved) {
  const mine = isMe(c.user.id) || isMe(photo.user.id);
  const li = h('div', { class: 'comment', 'data-test': 'comment', dataset: { commentId: c.id } },
    userLink(c.user),
    h('span', { class: 'comment-text', 'data-test': 'comment-body' }, c.text),
    h('span', { class: 'muted small' }, timeEl(c.created_at)));
  if (mine) {
    li.append(h('button', {
      type: 'button', class: 'btn btn-link btn-small', 'data-test': 'comment-delete',
      title: 'Delete this comment',
      onclick: async (e) => {
        const btn = e.currentTarget;
        try {
          await whileBusy(btn, '…', () => api.deleteComment(c.id));
          li.remove();
          onRemoved();
          flash('Comment deleted.');
        } catch (err) {
          if (err.status === 404 && li.dataset.pending) {
            flash('That comment is still being saved; try again in a moment.', 'error');
          } else {
            flash(err, 'error');
          }
        }
      },
    }, 'Delete'));
  }
  return li;
}
