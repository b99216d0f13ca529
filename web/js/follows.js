// follows.js: whether the signed-in user follows somebody, as their profile
// said (GET /v1/users/{id}: "following"), and as this page changed it since:
// a follow is applied by the workers after its 202, so a profile read just
// after one may not show it yet.

const known = new Map();

export function isFollowing(userId) {
  return known.get(String(userId)) === true;
}

export function remember(userId, following) {
  known.set(String(userId), !!following);
}
