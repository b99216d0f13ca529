// pager.js: a list that loads its next page when its end scrolls into view
// (an IntersectionObserver on a sentinel after the list), paging backwards
// with the previous page's next_max_id until it is null.
//
// pager({
//   load(maxId, signal) → {items, next}   one page
//   render(item) → Node                     one item
//   signal                                  the view's: stops everything
//   listClass, testId, empty (text or Node when there is nothing at all)
//   onPage(items, pageNumber)               after each page is shown
// }) → {el, list, reload()}
//
// The list carries data-pages (pages loaded), data-count (items shown) and
// data-state: loading | idle | done | error.

import { h, fill } from '../dom.js';
import { isAbort } from '../api.js';
import { errorBox } from '../notify.js';

export function pager(opts) {
  const list = h('div', { class: opts.listClass || 'list', 'data-test': opts.testId || 'list' });
  const status = h('div', { class: 'pager-status', 'data-test': 'pager-status' });
  const sentinel = h('div', { class: 'sentinel', 'aria-hidden': 'true' });
  const el = h('div', { class: 'pager' }, list, status, sentinel);

  let next = undefined;          // undefined: first page not loaded yet
  let busy = false;
  let done = false;
  let failed = false;
  let pages = 0;
  let count = 0;
  let generation = 0;
  const seen = new Set();

  const setState = (s) => { list.dataset.state = s; };
  setState('idle');
  list.dataset.pages = '0';
  list.dataset.count = '0';

  async function more() {
    if (busy || done || failed || opts.signal.aborted) return;
    busy = true;
    const gen = generation;
    setState('loading');
    fill(status, h('span', { class: 'spinner', 'aria-label': 'Loading' }), ' Loading…');
    try {
      const page = await opts.load(next, opts.signal);
      if (gen !== generation) return;
      pages += 1;
      const fresh = page.items.filter((it) => !it.id || !seen.has(it.id));
      for (const it of fresh) {
        if (it.id) seen.add(it.id);
        list.append(opts.render(it));
      }
      count += fresh.length;
      list.dataset.pages = String(pages);
      list.dataset.count = String(count);
      next = page.next;
      done = !next;
      fill(status);
      if (done && count === 0 && opts.empty) {
        status.append(typeof opts.empty === 'string'
          ? h('p', { class: 'empty', 'data-test': 'empty' }, opts.empty) : opts.empty);
      } else if (done && pages > 1) {
        status.append(h('p', { class: 'muted end', 'data-test': 'end' }, "That's everything."));
      }
      setState(done ? 'done' : 'idle');
      if (opts.onPage) opts.onPage(fresh, pages);
    } catch (err) {
      if (isAbort(err) || gen !== generation) return;
      failed = true;
      setState('error');
      fill(status, errorBox(err),
        h('button', {
          type: 'button', class: 'btn', 'data-test': 'pager-retry',
          onclick: () => { failed = false; more(); },
        }, 'Try again'));
    } finally {
      if (gen === generation) busy = false;
    }
    // still at the end (short pages, a tall window): keep going.  Observing
    // again makes the observer report the sentinel's state once more.
    if (!done && !failed && !opts.signal.aborted) {
      observer.unobserve(sentinel);
      observer.observe(sentinel);
    }
  }

  const observer = new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) more();
  }, { rootMargin: '0px 0px 400px 0px' });
  observer.observe(sentinel);
  opts.signal.addEventListener('abort', () => observer.disconnect());

  function reload() {
    generation += 1;
    next = undefined;
    busy = false;
    done = false;
    failed = false;
    pages = 0;
    count = 0;
    seen.clear();
    list.replaceChildren();
    fill(status);
    list.dataset.pages = '0';
    list.dataset.count = '0';
    setState('idle');
    more();
  }

  return { el, list, reload, more };
}

// Adapts an API page ({photos|comments|activity: [...], next_max_id}).
export function apiPage(field) {
  return (body) => ({ items: (body && body[field]) || [], next: body && body.next_max_id });
}
