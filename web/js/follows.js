// follows.js: whom the signed-in user followed from this browser.
//
// The API has no call that says whether one follows somebody, so the follow
// button shows what was last done here (kept per user, no secret in it).

import { me } from './session.js';

function key() {
  const u = me();
  return u ? 'ngx_photo.following.' + u.id : null;
}

function read() {
  const k = key();
  if (!k) return new Set();
  try {
    return new Set(JSON.parse(localStorage.getItem(k) || '[]'));
  } catch {
    return new Set();
  }
}

function write(set) {
  const k = key();
  if (!k) return;
  try {
    localStorage.setItem(k, JSON.stringify([...set]));
  } catch {
    // not kept
  }
}

export function isFollowing(userId) {
  return read().has(String(userId));
}

export function remember(userId, following) {
  const s = read();
  if (following) s.add(String(userId));
  else s.delete(String(userId));
  write(s);
}
