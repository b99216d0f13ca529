// dom.js: building elements without innerHTML (all text goes in as text).
//
// h('a', {href: '#/feed', class: 'link', 'data-test': 'x', onclick: fn},
//   'text', child, [more, children], null)

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2), v);
    } else if (k === 'class') {
      el.className = v;
    } else if (k === 'dataset') {
      Object.assign(el.dataset, v);
    } else if (k in el && !k.includes('-') && typeof v !== 'string') {
      el[k] = v;                       // properties: value, disabled, hidden …
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

// Replaces el's children.
export function fill(el, ...children) {
  clear(el);
  return append(el, children);
}
