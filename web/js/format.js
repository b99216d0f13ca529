// format.js: times, places and counts in words.

const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
const STEPS = [
  [60, 'second'], [60, 'minute'], [24, 'hour'], [7, 'day'], [4.35, 'week'],
  [12, 'month'], [Infinity, 'year'],
];

export function timeAgo(iso) {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '';
  let v = (t - Date.now()) / 1000;
  if (Math.abs(v) < 30) return 'just now';
  for (const [n, unit] of STEPS) {
    if (Math.abs(v) < n) return rtf.format(Math.round(v), unit);
    v /= n;
  }
  return '';
}

export function fullTime(iso) {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? '' : new Date(t).toLocaleString();
}

export function place(lat, lng) {
  const f = (x, pos, neg) => `${Math.abs(x).toFixed(4)}° ${x >= 0 ? pos : neg}`;
  return `${f(lat, 'N', 'S')}, ${f(lng, 'E', 'W')}`;
}

export function plural(n, one, many) {
  return `${n} ${n === 1 ? one : many}`;
}

export function isId(s) {
  return typeof s === 'string' && /^[0-9]{1,20}$/.test(s);
}
