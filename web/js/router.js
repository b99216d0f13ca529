// router.js: hash routes (#/feed, #/user/42, #/nearby?lat=…), since the
// server serves the page only at /.
//
// A view is view(outlet, ctx) with ctx = {params, query, signal}; signal is
// aborted when the person goes elsewhere, so a view passes it to its
// requests and hangs its clean-up (observers, uploads) on it.

const routes = [];
let outlet = null;
let guard = null;
let notFound = null;
let controller = null;

// pattern: '/user/:id'.  options.public: shown without a session.
export function route(pattern, view, options = {}) {
  const names = [];
  const re = new RegExp('^' + pattern.replace(/:([a-z]+)/g, (_, n) => {
    names.push(n);
    return '([^/]+)';
  }) + '/?$');
  routes.push({ re, names, view, public: !!options.public, pattern });
}

export function parseHash(hash = location.hash) {
  const s = hash.replace(/^#/, '') || '/';
  const i = s.indexOf('?');
  const path = i < 0 ? s : s.slice(0, i);
  const query = Object.fromEntries(new URLSearchParams(i < 0 ? '' : s.slice(i + 1)));
  return { path, query };
}

export function href(path, query) {
  const q = query ? new URLSearchParams(
    Object.entries(query).filter(([, v]) => v !== undefined && v !== null && v !== ''),
  ).toString() : '';
  return '#' + path + (q ? '?' + q : '');
}

// Goes to path; shown again when it is where we already are.
export function navigate(path, query) {
  const target = href(path, query);
  if (location.hash === target) render();
  else location.hash = target;
}

// Changes the address's query without showing the view again (a form that
// keeps its state in the address, so that a reload repeats it).
export function replaceQuery(query) {
  const { path } = parseHash();
  history.replaceState(null, '', href(path, query));
}

// options.guard(route or null, path) → a path to go to instead, or null.
export function start(el, options = {}) {
  outlet = el;
  guard = options.guard || null;
  notFound = options.notFound || null;
  window.addEventListener('hashchange', render);
  render();
}

export function render() {
  const { path, query } = parseHash();
  let match = null;
  let params = {};
  for (const r of routes) {
    const m = r.re.exec(path);
    if (m) {
      match = r;
      r.names.forEach((n, i) => { params[n] = decodeURIComponent(m[i + 1]); });
      break;
    }
  }
  if (guard) {
    const elsewhere = guard(match, path);
    if (elsewhere && elsewhere !== path) {
      location.replace(href(elsewhere));
      return;
    }
  }
  if (controller) controller.abort();
  controller = new AbortController();
  const ctx = { params, query, signal: controller.signal, path };
  outlet.replaceChildren();
  outlet.dataset.route = match ? match.pattern : 'not-found';
  window.scrollTo(0, 0);
  document.dispatchEvent(new CustomEvent('routechange', { detail: { path } }));
  const view = match ? match.view : notFound;
  if (!view) return;
  Promise.resolve()
    .then(() => view(outlet, ctx))
    .catch((err) => {
      if (err && err.name === 'AbortError') return;
      console.error(err);
      outlet.append(Object.assign(document.createElement('p'), {
        className: 'error', textContent: 'This page failed: ' + err.message,
      }));
    });
}
