// api.js: the JSON API of ngx_photo (README, "API"), one function a call.
//
// The session is the HttpOnly photo_session cookie the server sets on
// sign-in: requests send it (credentials: 'same-origin') and this code
// never sees or keeps a token.  Ids are strings (64-bit) and stay strings.

export class ApiError extends Error {
  constructor(status, code, message, extra = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;          // 0: no answer (network failure)
    this.code = code;              // the API's error code, e.g. 'not_found'
    this.requestId = extra.requestId || null;
    this.retryAfter = extra.retryAfter || null;
  }
}

let unauthorizedHandler = null;

// Called with the error when a request finds no valid session (401
// 'unauthorized'); not for a wrong password at sign-in.
export function onUnauthorized(fn) {
  unauthorizedHandler = fn;
}

export function isAbort(err) {
  return err && err.name === 'AbortError';
}

// A key for one write and its retries (README, "Idempotency-Key").
export function newIdempotencyKey() {
  if (globalThis.crypto && crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? '?' + s : '';
}

function errorFrom(status, body, retryAfter) {
  const e = body && body.error;
  if (e && typeof e.message === 'string') {
    return new ApiError(status, e.code || 'error', e.message,
                        { requestId: e.request_id, retryAfter });
  }
  return new ApiError(status, 'http_' + status, 'HTTP ' + status,
                      { retryAfter });
}

function parse(text) {
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function check(err) {
  if (err.status === 401 && err.code === 'unauthorized' && unauthorizedHandler) {
    unauthorizedHandler(err);
  }
  return err;
}

async function request(method, path, { json, params, signal, headers } = {}) {
  const init = {
    method,
    credentials: 'same-origin',
    headers: { Accept: 'application/json', ...(headers || {}) },
    signal,
  };
  if (json !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(json);
  }
  let res;
  try {
    res = await fetch(path + query(params), init);
  } catch (err) {
    if (isAbort(err)) throw err;
    throw new ApiError(0, 'network', 'network failure');
  }
  let text = '';
  try {
    text = await res.text();
  } catch (err) {
    if (isAbort(err)) throw err;
    throw new ApiError(0, 'network', 'network failure');
  }
  const body = parse(text);
  if (!res.ok) throw check(errorFrom(res.status, body, res.headers.get('Retry-After')));
  return body;
}

const enc = encodeURIComponent;

// ---- accounts and sessions

export const signUp = (username, password) =>
  request('POST', '/v1/users', { json: { username, password } });

// Answers {user_id}; the token in the answer is ignored: the cookie holds it.
export async function signIn(username, password) {
  const r = await request('POST', '/v1/sessions', { json: { username, password } });
  return { user_id: r.user_id };
}

export const signOut = () => request('DELETE', '/v1/sessions');

// ---- reading photos: pages are {photos, next_max_id}

export const feed = ({ count, maxId, signal } = {}) =>
  request('GET', '/v1/feed', { params: { count, max_id: maxId }, signal });

export const userPhotos = (userId, { count, maxId, signal } = {}) =>
  request('GET', `/v1/users/${enc(userId)}/photos`,
          { params: { count, max_id: maxId }, signal });

export const photo = (id, { signal } = {}) =>
  request('GET', `/v1/photos/${enc(id)}`, { signal });

export const nearby = ({ lat, lng, radiusKm, count, sort, signal }) =>
  request('GET', '/v1/photos/nearby',
          { params: { lat, lng, radius_km: radiusKm, count, sort }, signal });

export const activity = ({ count, maxId, signal } = {}) =>
  request('GET', '/v1/activity', { params: { count, max_id: maxId }, signal });

// ---- writes (202 {id, status: 'queued'}: applied by the workers)

export const postPhoto = ({ mediaId, caption, lat, lng }, idempotencyKey) => {
  const json = { media_id: mediaId };
  if (caption) json.caption = caption;
  if (lat !== undefined && lat !== null) {
    json.lat = lat;
    json.lng = lng;
  }
  const headers = idempotencyKey ? { 'Idempotency-Key': idempotencyKey } : {};
  return request('POST', '/v1/photos', { json, headers });
};

export const deletePhoto = (id) => request('DELETE', `/v1/photos/${enc(id)}`);

export const like = (id) => request('POST', `/v1/photos/${enc(id)}/likes`);
export const unlike = (id) => request('DELETE', `/v1/photos/${enc(id)}/likes`);

export const comments = (photoId, { count, maxId, signal } = {}) =>
  request('GET', `/v1/photos/${enc(photoId)}/comments`,
          { params: { count, max_id: maxId }, signal });

export const addComment = (photoId, text) =>
  request('POST', `/v1/photos/${enc(photoId)}/comments`, { json: { text } });

export const deleteComment = (commentId) =>
  request('DELETE', `/v1/comments/${enc(commentId)}`);

// a profile: {id, username, photo_count, follower_count, following_count,
// following}
export const user = (userId, { signal } = {}) =>
  request('GET', `/v1/users/${enc(userId)}`, { signal });
export const whoAmI = ({ signal } = {}) => request('GET', '/v1/me', { signal });

export const follow = (userId) => request('POST', `/v1/users/${enc(userId)}/follow`);
export const unfollow = (userId) => request('DELETE', `/v1/users/${enc(userId)}/follow`);

// ---- upload: POST /v1/media with the raw image as the body.
//
// XMLHttpRequest rather than fetch, for its upload progress events.
// onProgress(sent, total) as the bytes go out.  Returns {promise, abort};
// the promise gives {media_id, image_url, width, height}.
export function uploadMedia(file, { onProgress } = {}) {
  const xhr = new XMLHttpRequest();
  const promise = new Promise((resolve, reject) => {
    xhr.open('POST', '/v1/media');
    xhr.withCredentials = true;
    xhr.setRequestHeader('Content-Type', file.type);
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.responseType = 'text';
    if (onProgress) {
      xhr.upload.addEventListener('progress', (e) => {
        onProgress(e.loaded, e.lengthComputable ? e.total : file.size);
      });
    }
    xhr.addEventListener('load', () => {
      const body = parse(xhr.responseText);
      if (xhr.status >= 200 && xhr.status < 300 && body && body.media_id) {
        if (onProgress) onProgress(file.size, file.size);
        resolve(body);
      } else if (xhr.status === 0) {
        reject(new ApiError(0, 'network', 'network failure'));
      } else {
        reject(check(errorFrom(xhr.status, body, xhr.getResponseHeader('Retry-After'))));
      }
    });
    xhr.addEventListener('error', () => reject(new ApiError(0, 'network', 'network failure')));
    xhr.addEventListener('timeout', () => reject(new ApiError(0, 'network', 'network failure')));
    xhr.addEventListener('abort', () => {
      reject(new DOMException('upload cancelled', 'AbortError'));
    });
    xhr.send(file);
  });
  return { promise, abort: () => xhr.abort() };
}
