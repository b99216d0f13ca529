// views/feed.js: #/feed: the newest photos of the people one follows, a
// column of cards paged by infinite scroll.

import { h } from '../dom.js';
import * as api from '../api.js';
import { href } from '../router.js';
import { pager, apiPage } from '../components/pager.js';
import { photoCard } from '../components/photo-card.js';
import { icon } from '../icons.js';

const PAGE = 10;

export function feedView(outlet, ctx) {
  const page = apiPage('photos');
  const p = pager({
    signal: ctx.signal,
    testId: 'feed-list',
    listClass: 'column',
    load: async (maxId, signal) => page(await api.feed({ count: PAGE, maxId, signal })),
    render: photoCard,
    empty: h('div', { class: 'empty', 'data-test': 'empty' },
      h('p', null, 'Your feed is empty.'),
      h('p', { class: 'muted' }, 'Follow people to see their photos here: find them on ',
        h('a', { href: href('/nearby') }, 'Nearby'), ', or ',
        h('a', { href: href('/upload') }, 'share a photo'), ' of your own.')),
  });
  outlet.append(
    h('div', { class: 'view-head' },
      h('h1', null, 'Feed'),
      h('button', {
        type: 'button', class: 'btn btn-light', 'data-test': 'feed-refresh',
        onclick: () => p.reload(),
      }, icon('refresh'), 'Refresh')),
    p.el);
}
