// session.js: who is signed in, as far as this page knows.
//
// The session itself is the server's HttpOnly cookie; this keeps only the
// user's id and name (never a token) so the page can greet them and link to
// their own page after a reload.  A 401 from the API clears it.

const KEY = 'ngx_photo.user';
const listeners = new Set();

function load() {
  try {
    const u = JSON.parse(localStorage.getItem(KEY) || 'null');
    if (u && /^[0-9]+$/.test(u.id) && typeof u.username === 'string') return u;
  } catch {
    // unreadable: signed out
  }
  return null;
}

let current = load();

export function me() {
  return current;
}

export function isMe(userId) {
  return !!current && current.id === String(userId);
}

export function setMe(user) {
  current = user ? { id: String(user.id), username: String(user.username) } : null;
  try {
    if (current) localStorage.setItem(KEY, JSON.stringify(current));
    else localStorage.removeItem(KEY);
  } catch {
    // storage refused (private mode): kept for this page only
  }
  for (const fn of listeners) fn(current);
}

export function onChange(fn) {
  listeners.add(fn);
}

// Another tab signed in or out.
window.addEventListener('storage', (e) => {
  if (e.key !== KEY) return;
  current = load();
  for (const fn of listeners) fn(current);
});
