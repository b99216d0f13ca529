// location-fields.js: latitude and longitude typed in, or filled from the
// browser's geolocation.
//
// locationFields({required, lat, lng}) → {el, read(), set(lat, lng)};
// read() gives {lat, lng} (numbers), null when both are empty and the place
// is optional, and throws an Error saying what is wrong otherwise.

import { h } from '../dom.js';
import { icon } from '../icons.js';

export function locationFields(opts = {}) {
  const lat = h('input', {
    type: 'text', inputmode: 'decimal', name: 'lat', id: opts.idPrefix + '-lat',
    placeholder: 'e.g. 48.8566', 'data-test': 'lat', autocomplete: 'off',
    value: opts.lat === undefined ? '' : String(opts.lat),
  });
  const lng = h('input', {
    type: 'text', inputmode: 'decimal', name: 'lng', id: opts.idPrefix + '-lng',
    placeholder: 'e.g. 2.3522', 'data-test': 'lng', autocomplete: 'off',
    value: opts.lng === undefined ? '' : String(opts.lng),
  });
  const note = h('span', { class: 'muted small', 'data-test': 'geo-status', 'aria-live': 'polite' });
  const geo = h('button', {
    type: 'button', class: 'btn btn-light', 'data-test': 'geolocate',
    onclick: locate,
  }, icon('locate'), 'Use my location');

  function locate() {
    if (!('geolocation' in navigator)) {
      note.textContent = "This browser can't tell where you are; type the place in.";
      return;
    }
    geo.disabled = true;
    note.textContent = 'Finding where you are…';
    navigator.geolocation.getCurrentPosition((pos) => {
      geo.disabled = false;
      set(pos.coords.latitude, pos.coords.longitude);
      note.textContent = `Found (within ${Math.round(pos.coords.accuracy)} m).`;
      if (opts.onLocate) opts.onLocate();
    }, (err) => {
      geo.disabled = false;
      note.textContent = err.code === err.PERMISSION_DENIED
        ? 'Location permission was refused; type the place in.'
        : "Couldn't find where you are; type the place in.";
    }, { enableHighAccuracy: false, timeout: 10000, maximumAge: 60000 });
  }

  function set(a, b) {
    lat.value = (Math.round(a * 1e6) / 1e6).toString();
    lng.value = (Math.round(b * 1e6) / 1e6).toString();
  }

  function num(input, name, lo, hi) {
    const s = input.value.trim().replace(',', '.');
    if (!/^[-+]?(\d+\.?\d*|\.\d+)$/.test(s)) throw new Error(`${name} must be a number.`);
    const v = Number(s);
    if (v < lo || v > hi) throw new Error(`${name} must be between ${lo} and ${hi}.`);
    return v;
  }

  function read() {
    const a = lat.value.trim();
    const b = lng.value.trim();
    if (!a && !b && !opts.required) return null;
    if (!a || !b) throw new Error('Give both latitude and longitude' + (opts.required ? '.' : ', or neither.'));
    return { lat: num(lat, 'Latitude', -90, 90), lng: num(lng, 'Longitude', -180, 180) };
  }

  const el = h('fieldset', { class: 'location' },
    h('legend', null, opts.legend || 'Location'),
    h('div', { class: 'row' },
      h('label', { for: lat.id }, 'Latitude', lat),
      h('label', { for: lng.id }, 'Longitude', lng)),
    h('div', { class: 'row row-center' }, geo, note));
  return { el, read, set };
}
