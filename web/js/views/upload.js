// views/upload.js: #/upload: a photo chosen with the file picker or dropped
// on the page is sent at once (POST /v1/media, with a progress bar); then
// its caption and place, and POST /v1/photos.

import { h, fill } from '../dom.js';
import * as api from '../api.js';
import { me } from '../session.js';
import { href } from '../router.js';
import { errorText } from '../notify.js';
import { field, formError, showError, whileBusy } from '../forms.js';
import { locationFields } from '../components/location-fields.js';
import { icon } from '../icons.js';

const TYPES = ['image/jpeg', 'image/png'];
const CAPTION_MAX = 2200;

export function uploadView(outlet, ctx) {
  let upload = null;       // the request under way: {abort}
  let media = null;        // the stored upload: {media_id, image_url, width, height}
  let postKey = null;      // Idempotency-Key of this media's post, kept for retries
  let preview = null;      // object URL of the chosen file

  // ---- choosing
  const input = h('input', {
    type: 'file', accept: TYPES.join(','), id: 'upload-file', 'data-test': 'file-input',
    class: 'file-input',
  });
  const drop = h('div', { class: 'dropzone', 'data-test': 'dropzone', tabindex: '-1' },
    h('div', { class: 'dropzone-icon', 'aria-hidden': 'true' }, icon('upload')),
    h('p', null, h('strong', null, 'Drop a photo here')),
    h('p', { class: 'muted' }, 'or'),
    h('label', { class: 'btn btn-primary', for: 'upload-file' }, 'Choose a file'),
    input,
    h('p', { class: 'muted small' }, 'JPEG or PNG'));

  // ---- progress
  const img = h('img', { class: 'preview', alt: 'the photo being uploaded', 'data-test': 'upload-preview' });
  const bar = h('progress', { max: '100', value: '0', 'data-test': 'upload-progress', dataset: { state: 'idle' } });
  const pct = h('span', { class: 'pct', 'data-test': 'upload-percent' }, '0%');
  const status = h('p', { class: 'muted', 'data-test': 'upload-status', 'aria-live': 'polite' });
  const uploadError = formError('upload-error');
  const cancel = h('button', { type: 'button', class: 'btn btn-light btn-small', 'data-test': 'upload-cancel', onclick: () => reset() }, 'Choose another');
  const progress = h('div', { class: 'upload-progress', hidden: true },
    img, h('div', { class: 'progress-row' }, bar, pct), status, uploadError, cancel);

  // ---- describing and posting
  const caption = h('textarea', {
    name: 'caption', rows: '3', maxlength: String(CAPTION_MAX), id: 'caption',
    placeholder: 'Write a caption…', 'data-test': 'caption',
  });
  const left = h('span', { class: 'hint' }, `${CAPTION_MAX} characters left`);
  caption.addEventListener('input', () => {
    left.textContent = `${CAPTION_MAX - caption.value.length} characters left`;
  });
  const where = locationFields({ idPrefix: 'upload', legend: 'Location (optional)' });
  const post = h('button', { type: 'submit', class: 'btn btn-primary', 'data-test': 'post-submit', disabled: true }, 'Share');
  const postError = formError('post-error');
  const form = h('form', { class: 'post-form', 'data-test': 'post-form', novalidate: true },
    field('Caption', caption, left), where.el, postError, post);
  const result = h('div', { class: 'panel result', 'data-test': 'post-result', hidden: true });

  function setProgress(sent, total) {
    const p = total ? Math.min(100, Math.round((sent / total) * 100)) : 0;
    bar.value = p;
    pct.textContent = p + '%';
  }

  function reset() {
    if (upload) upload.abort();
    upload = null;
    media = null;
    postKey = null;
    if (preview) URL.revokeObjectURL(preview);
    preview = null;
    input.value = '';
    progress.hidden = true;
    drop.hidden = false;
    post.disabled = true;
    bar.dataset.state = 'idle';
    showError(uploadError, null);
  }

  async function start(file) {
    if (!file) return;
    reset();
    if (!TYPES.includes(file.type)) {
      drop.hidden = false;
      progress.hidden = false;
      img.hidden = true;
      fill(status);
      bar.dataset.state = 'error';
      showError(uploadError, `“${file.name}” is not a JPEG or PNG image.`);
      return;
    }
    preview = URL.createObjectURL(file);
    img.src = preview;
    img.hidden = false;
    drop.hidden = true;
    progress.hidden = false;
    setProgress(0, file.size);
    bar.dataset.state = 'uploading';
    status.textContent = `Uploading ${file.name} (${Math.ceil(file.size / 1024)} KB)…`;
    const mine = api.uploadMedia(file, { onProgress: setProgress });
    upload = mine;
    try {
      const m = await mine.promise;
      if (upload !== mine) return;
      upload = null;
      media = m;
      postKey = api.newIdempotencyKey();
      setProgress(1, 1);
      bar.dataset.state = 'done';
      status.textContent = `Uploaded ✓ ${m.width}×${m.height}. Add a caption and share it.`;
      post.disabled = false;
      caption.focus();
    } catch (err) {
      if (upload !== mine) return;
      upload = null;
      if (api.isAbort(err)) return;
      bar.dataset.state = 'error';
      status.textContent = '';
      showError(uploadError, 'The upload failed: ' + errorText(err));
    }
  }

  input.addEventListener('change', () => start(input.files[0]));

  // drag and drop: on the zone, and anywhere on the page while this view
  // is shown (so a missed drop does not open the file in the tab)
  const over = (e) => {
    if (!e.dataTransfer || ![...e.dataTransfer.types].includes('Files')) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = 'copy';
    drop.classList.add('dragging');
  };
  const leave = () => drop.classList.remove('dragging');
  const dropped = (e) => {
    if (!e.dataTransfer || !e.dataTransfer.files.length) return;
    e.preventDefault();
    leave();
    start(e.dataTransfer.files[0]);
  };
  window.addEventListener('dragover', over);
  window.addEventListener('dragleave', leave);
  window.addEventListener('drop', dropped);
  ctx.signal.addEventListener('abort', () => {
    window.removeEventListener('dragover', over);
    window.removeEventListener('dragleave', leave);
    window.removeEventListener('drop', dropped);
    if (upload) upload.abort();
    if (preview) URL.revokeObjectURL(preview);
  });

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    showError(postError, null);
    if (!media) {
      showError(postError, 'Choose a photo first, and wait for it to upload.');
      return;
    }
    let at;
    try {
      at = where.read();
    } catch (err) {
      showError(postError, err.message);
      return;
    }
    try {
      const r = await whileBusy(post, 'Sharing…', () => api.postPhoto({
        mediaId: media.media_id,
        caption: caption.value.trim(),
        lat: at ? at.lat : undefined,
        lng: at ? at.lng : undefined,
      }, postKey));
      done(r.id);
    } catch (err) {
      showError(postError, err);
    }
  });

  function done(photoId) {
    const u = me();
    fill(result,
      h('h2', null, 'Shared ✓'),
      h('p', null, 'Your photo is being published; it shows up on your page and in your followers’ feeds in a few seconds.'),
      h('p', { class: 'row' },
        h('a', {
          class: 'btn btn-primary', 'data-test': 'see-posted',
          href: href('/user/' + u.id, { posted: photoId }),
        }, 'See it on your page'),
        h('button', {
          type: 'button', class: 'btn btn-light', 'data-test': 'upload-another',
          onclick: () => {
            result.hidden = true;
            body.hidden = false;
            caption.value = '';
            reset();
          },
        }, 'Share another')));
    result.dataset.photoId = photoId;
    result.hidden = false;
    body.hidden = true;
  }

  const body = h('div', { class: 'upload-body' },
    h('div', { class: 'panel upload-pick' }, drop, progress),
    h('div', { class: 'panel' }, form));

  outlet.append(h('h1', null, 'New photo'), body, result);
}
