// views/nearby.js: #/nearby?lat=&lng=&radius_km=&sort=: photos taken near a
// place, typed in or found by the browser's geolocation.  The search is kept
// in the address, so a reload (or a photo's place link) repeats it.

import { h, fill } from '../dom.js';
import * as api from '../api.js';
import { replaceQuery } from '../router.js';
import { errorBox } from '../notify.js';
import { plural, place } from '../format.js';
import { field, formError, showError, whileBusy } from '../forms.js';
import { locationFields } from '../components/location-fields.js';
import { photoTile } from '../components/photo-card.js';

const COUNT = 20;

export function nearbyView(outlet, ctx) {
  const q = ctx.query;
  const where = locationFields({
    idPrefix: 'nearby', required: true, legend: 'Where',
    lat: q.lat, lng: q.lng,
    onLocate: () => form.requestSubmit(),
  });
  const radius = h('input', {
    type: 'number', name: 'radius_km', min: '0.1', max: '1000', step: 'any',
    value: q.radius_km || '10', 'data-test': 'radius', id: 'nearby-radius',
  });
  const sort = h('select', { name: 'sort', 'data-test': 'sort', id: 'nearby-sort' },
    h('option', { value: 'distance' }, 'Nearest first'),
    h('option', { value: 'recent' }, 'Newest first'));
  sort.value = q.sort === 'recent' ? 'recent' : 'distance';
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', 'data-test': 'nearby-submit' }, 'Search');
  const error = formError();
  const summary = h('p', { class: 'muted', 'data-test': 'nearby-summary', 'aria-live': 'polite' });
  const results = h('div', { class: 'grid', 'data-test': 'nearby-results', dataset: { state: 'idle' } });

  const form = h('form', { class: 'panel nearby-form', 'data-test': 'nearby-form', novalidate: true },
    where.el,
    h('div', { class: 'row' },
      field('Within (km)', radius),
      field('Order', sort)),
    error,
    submit);

  let seq = 0;
  async function search() {
    showError(error, null);
    let at;
    let km;
    try {
      at = where.read();
      km = Number(radius.value);
      if (!(km > 0 && km <= 1000)) throw new Error('The distance must be more than 0 and at most 1000 km.');
    } catch (err) {
      showError(error, err.message);
      return;
    }
    replaceQuery({ lat: at.lat, lng: at.lng, radius_km: km, sort: sort.value });
    const mine = ++seq;
    results.dataset.state = 'loading';
    summary.textContent = 'Searching…';
    try {
      const body = await whileBusy(submit, 'Searching…', () => api.nearby({
        lat: at.lat, lng: at.lng, radiusKm: km, count: COUNT, sort: sort.value, signal: ctx.signal,
      }));
      if (mine !== seq) return;
      const photos = body.photos || [];
      fill(results, photos.map((p) => photoTile(p)));
      summary.textContent = photos.length
        ? `${plural(photos.length, 'photo', 'photos')} within ${km} km of ${place(at.lat, at.lng)}` +
          (photos.length === COUNT ? ` (the ${sort.value === 'recent' ? 'newest' : 'nearest'} ${COUNT})` : '')
        : `No photos within ${km} km of ${place(at.lat, at.lng)} yet.`;
      results.dataset.state = 'done';
    } catch (err) {
      if (api.isAbort(err) || mine !== seq) return;
      fill(results);
      summary.textContent = '';
      results.dataset.state = 'error';
      results.append(errorBox(err));
    }
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    search();
  });

  outlet.append(h('h1', null, 'Nearby'), form, summary, results);
  if (q.lat && q.lng) search();
}
