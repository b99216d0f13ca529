#!/usr/bin/python3
"""The web client (web/) in a real browser: headless Chromium driven by
Selenium, against a running stack.

    PHOTO_WEB_URL          the page (default the stack's nginx:
                           http://$PHOTO_HOST:$PHOTO_NGINX_PORT/)
    PHOTO_SCREENSHOT_DIR   where the screenshots go (default
                           $PHOTO_RUN_DIR/screenshots, else ./run/screenshots)

What a person would check: user A signs up, uploads a PNG through the file
picker (the progress bar reaches done) and shares it with a caption and a
typed place; a wrong password is refused in words; user B signs up, follows
A from A's page and sees the photo in the feed; A has 31 photos (30 more
posted through the API) and B's feed pages through all of them as B
scrolls; B finds the photo nearby, likes it and comments on it; A's
activity shows the like, the comment and the follow.  Network failures and
5xx are shown in words; drag and drop uploads too.  Screenshots of each
page are saved on every run.

Exit status 0 when everything holds; otherwise 1 with what did not.
Needs Debian's python3-selenium (run it with /usr/bin/python3), chromium
and chromedriver.
"""

import http.cookiejar
import json
import os
import random
import string
import struct
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib

try:
    from selenium import webdriver
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
except ImportError:
    sys.exit('FAIL: no selenium for this Python; run with /usr/bin/python3 '
             '(Debian\'s python3-selenium)')

BASE = os.environ.get('PHOTO_WEB_URL') or 'http://%s:%s/' % (
    os.environ.get('PHOTO_HOST', '127.0.0.1'), os.environ.get('PHOTO_NGINX_PORT', '18080'))
if not BASE.endswith('/'):
    BASE += '/'
_u = urllib.parse.urlsplit(BASE)
ORIGIN = f'{_u.scheme}://{_u.netloc}'
SHOTS = os.environ.get('PHOTO_SCREENSHOT_DIR') or os.path.join(
    os.environ.get('PHOTO_RUN_DIR') or './run', 'screenshots')
CHROMIUM = os.environ.get('PHOTO_CHROMIUM', '/usr/bin/chromium')
CHROMEDRIVER = os.environ.get('PHOTO_CHROMEDRIVER', '/usr/bin/chromedriver')

PASSWORD = 'pw-' + ''.join(random.choices(string.ascii_letters + string.digits, k=12))
SEEDED = 30            # photos A posts through the API, besides the first
ASYNC_DEADLINE = 20    # seconds for a queued write to show


class Failure(Exception):
    pass


def T(name):
    """The CSS selector of a data-test attribute."""
    return f'[data-test="{name}"]'


# ---------------------------------------------------------------- images

def png(width, height, seed=0):
    """A real PNG: an RGB gradient, different for each seed."""
    rnd = random.Random(seed)
    tint = rnd.randrange(256)
    rows = []
    for y in range(height):
        g = (y * 255) // max(1, height - 1)
        row = bytearray(b'\0')               # filter: none
        for x in range(width):
            r = (x * 255) // max(1, width - 1)
            row += bytes((r, g, tint // 2 + (x + y) * 127 // (width + height)))
        rows.append(bytes(row))

    def chunk(kind, data):
        return (struct.pack('>I', len(data)) + kind + data +
                struct.pack('>I', zlib.crc32(kind + data) & 0xffffffff))

    return (b'\x89PNG\r\n\x1a\n' +
            chunk(b'IHDR', struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0)) +
            chunk(b'IDAT', zlib.compress(b''.join(rows), 6)) +
            chunk(b'IEND', b''))


# ---------------------------------------------------------------- the API

class Api:
    """The JSON API through urllib, with a cookie jar: signed in by
    POST /v1/sessions, as the browser is (and with its Origin)."""

    def __init__(self):
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar))

    def call(self, method, path, body=None, ctype='application/json'):
        headers = {'Origin': ORIGIN, 'Accept': 'application/json'}
        data = None
        if body is not None:
            data = json.dumps(body).encode() if ctype == 'application/json' else body
            headers['Content-Type'] = ctype
        req = urllib.request.Request(ORIGIN + path, data=data, method=method, headers=headers)
        try:
            with self.opener.open(req, timeout=15) as r:
                raw = r.read()
                return r.status, (json.loads(raw) if raw else None)
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                return e.code, json.loads(raw)
            except ValueError:
                return e.code, raw.decode('utf-8', 'replace')

    def must(self, want, method, path, body=None, ctype='application/json'):
        status, answer = self.call(method, path, body, ctype)
        if status != want:
            raise Failure(f'{method} {path}: HTTP {status} (wanted {want}): {answer}')
        return answer

    def sign_in(self, username, password):
        return self.must(201, 'POST', '/v1/sessions',
                         {'username': username, 'password': password})

    def post_png(self, data, caption, lat=None, lng=None):
        media = self.must(201, 'POST', '/v1/media', data, 'image/png')
        body = {'media_id': media['media_id'], 'caption': caption}
        if lat is not None:
            body.update(lat=lat, lng=lng)
        return self.must(202, 'POST', '/v1/photos', body)['id']


def wait_for_server(deadline=60):
    end = time.time() + deadline
    last = None
    while time.time() < end:
        try:
            with urllib.request.urlopen(BASE, timeout=5) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError) as e:
            last = e
        time.sleep(2)
    raise Failure(f'{BASE} does not answer ({last}); is the stack running?')


# ---------------------------------------------------------------- browser

class Browser:
    def __init__(self):
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for a in ('--headless=new', '--no-sandbox', '--disable-dev-shm-usage',
                  '--window-size=1280,900', '--lang=en-US'):
            opts.add_argument(a)
        opts.set_capability('goog:loggingPrefs', {'browser': 'ALL'})
        self.d = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
        self.d.set_window_size(1280, 900)
        self.d.set_page_load_timeout(30)
        self.shots = []

    def quit(self):
        try:
            self.d.quit()
        except WebDriverException:
            pass

    # -- finding
    def find(self, css, root=None):
        return (root or self.d).find_elements(By.CSS_SELECTOR, css)

    def one(self, css, timeout=10, visible=True):
        el = None

        def ready():
            nonlocal el
            for e in self.find(css):
                if not visible or e.is_displayed():
                    el = e
                    return True
            return False
        self.wait(ready, timeout, f'{css} on the page')
        return el

    def wait(self, pred, timeout, what, interval=0.15):
        end = time.time() + timeout
        last = None
        while True:
            try:
                if pred():
                    return
            except WebDriverException as e:   # stale element while re-rendering
                last = e
            if time.time() >= end:
                raise Failure(f'timed out after {timeout} s waiting for {what}' +
                              (f' (last error: {last.msg})' if last else '') +
                              f'; page at {self.d.current_url}')
            time.sleep(interval)

    def js(self, script, *args):
        return self.d.execute_script(script, *args)

    def attr(self, css, name):
        els = self.find(css)
        return els[0].get_attribute(name) if els else None

    # -- doing
    def go(self, route):
        """Navigates within the app, as a link would."""
        self.js('location.hash = arguments[0]', route)

    def load(self, route=''):
        """Loads the page afresh."""
        self.d.get(BASE + route)

    def type(self, css, text, clear=True):
        el = self.one(css)
        if clear:
            el.clear()
        el.send_keys(text)
        return el

    def click(self, css, timeout=10):
        el = self.one(css, timeout)
        self.wait(el.is_enabled, timeout, f'{css} enabled')
        el.click()
        return el

    def images_load(self, scope, timeout=10):
        """Every image under scope that is on screen loads (none broken)."""
        state = {}

        def loaded():
            state.update(self.js('''
                const imgs = [...document.querySelectorAll(arguments[0] + ' img')].filter((i) => {
                  const r = i.getBoundingClientRect();
                  return r.bottom > 0 && r.top < innerHeight && r.width > 0;
                });
                return {n: imgs.length,
                        pending: imgs.filter((i) => !i.complete).length,
                        broken: imgs.filter((i) => i.complete && i.naturalWidth === 0)
                                    .map((i) => i.currentSrc || i.src)};''', scope))
            return state['n'] > 0 and not state['pending'] and not state['broken']
        try:
            self.wait(loaded, timeout, f'the images of {scope} to load')
        except Failure:
            raise Failure(f'images of {scope} do not load: {state}')
        return state['n']

    def route(self):
        return urllib.parse.urlsplit(self.d.current_url).fragment

    def shot(self, name):
        os.makedirs(SHOTS, exist_ok=True)
        path = os.path.join(SHOTS, name + '.png')
        self.d.save_screenshot(path)
        self.shots.append(path)
        return path

    def console_errors(self):
        try:
            logs = self.d.get_log('browser')
        except WebDriverException:
            return []
        return [l['message'] for l in logs if l['level'] == 'SEVERE']


# ---------------------------------------------------------------- steps

class Run:
    def __init__(self):
        self.b = None
        self.tag = ''.join(random.choices(string.ascii_lowercase + string.digits, k=6))
        self.user_a = 'wa_' + self.tag
        self.user_b = 'wb_' + self.tag
        # a place of its own for each run, so nearby finds this run's photo
        self.lat = round(random.uniform(-55, 55), 5)
        self.lng = round(random.uniform(-170, 170), 5)
        self.ids = {}
        self.steps = 0
        self.tmp = None

    def step(self, name, fn):
        t = time.time()
        try:
            fn()
        except Failure:
            self._failed(name)
            raise
        except Exception as e:
            self._failed(name)
            raise Failure(f'{type(e).__name__}: {e}') from e
        self.steps += 1
        print(f'ok {self.steps} - {name} ({time.time() - t:.1f} s)', flush=True)

    def _failed(self, name):
        print(f'not ok {self.steps + 1} - {name}', flush=True)
        if self.b:
            try:
                p = self.b.shot('failure')
                print(f'# screenshot of the failure: {p}', flush=True)
            except WebDriverException:
                pass

    # -- helpers shared by the steps
    def sign_up(self, username):
        b = self.b
        b.load('#/signup')
        b.one(T('signup-form'))
        b.type(T('signup-username'), username)
        b.type(T('signup-password'), PASSWORD)
        b.click(T('signup-submit'))
        shown = lambda: b.find(T('form-error')) and b.find(T('form-error'))[0].is_displayed()
        for _ in range(4):
            b.wait(lambda: b.route() == '/feed' or shown(), 15, f'{username} to be signed up')
            if b.route() == '/feed' or 'too many' not in b.find(T('form-error'))[0].text.lower():
                break
            time.sleep(2)                  # the address's sign-up limit: 1 a second
            b.click(T('signup-submit'))
        if b.route() != '/feed':
            err = b.find(T('form-error'))
            raise Failure(f'sign-up of {username} failed: ' +
                          (err[0].text if err and err[0].is_displayed() else 'no error shown'))
        b.wait(lambda: b.one(T('nav-username')).text == username, 10, 'the name in the top bar')
        me = json.loads(b.js("return localStorage.getItem('ngx_photo.user')") or 'null')
        if not me or me.get('username') != username:
            raise Failure(f'the page does not know who is signed in: {me}')
        return me['id']

    def sign_in(self, username, password):
        b = self.b
        b.go('/signin')
        b.one(T('signin-form'))
        b.type(T('signin-username'), username)
        b.type(T('signin-password'), password)
        b.click(T('signin-submit'))

    def sign_out(self):
        b = self.b
        b.click(T('nav-signout'))
        b.wait(lambda: b.route() == '/signin' and b.find(T('signin-form')), 10, 'the sign-in page')

    def check_no_token_stored(self):
        b = self.b
        cookie = b.d.get_cookie('photo_session')
        if not cookie:
            raise Failure('no photo_session cookie after signing in')
        if not cookie.get('httpOnly'):
            raise Failure('the photo_session cookie is not HttpOnly')
        stored = b.js('''
            const out = [];
            for (const s of [localStorage, sessionStorage])
              for (let i = 0; i < s.length; i++) out.push(s.key(i) + '=' + s.getItem(s.key(i)));
            return out;''')
        token = cookie['value']
        secret = token.split('-', 1)[-1]
        for item in stored:
            if token in item or secret in item:
                raise Failure(f'the session token is in web storage: {item[:60]}…')
        if b.js('return document.cookie').find('photo_session') >= 0:
            raise Failure('the session cookie is readable from JavaScript')

    def feed_ids(self):
        return self.b.js(
            "return [...document.querySelectorAll('[data-test=\"feed-list\"] [data-test=\"photo-card\"]')]"
            ".map(e => [e.dataset.photoId, e.dataset.userId])")

    def scroll_feed_to_end(self, timeout):
        """Scrolls down until the feed says it has no more pages."""
        b = self.b
        end = time.time() + timeout
        while time.time() < end:
            state = b.attr(T('feed-list'), 'data-state')
            if state == 'done':
                return
            if state == 'error':
                raise Failure('the feed shows an error: ' + b.one(T('pager-status')).text)
            b.js('window.scrollTo(0, document.documentElement.scrollHeight)')
            time.sleep(0.25)
        raise Failure(f'the feed did not reach its end in {timeout} s '
                      f'(pages {b.attr(T("feed-list"), "data-pages")}, '
                      f'photos {b.attr(T("feed-list"), "data-count")})')

    # -- the scenario
    def run(self):
        self.tmp = tempfile.TemporaryDirectory(prefix='photo-web-')
        png_path = os.path.join(self.tmp.name, 'gradient.png')
        with open(png_path, 'wb') as f:
            f.write(png(400, 300, seed=self.tag))
        self.step('the stack answers at ' + BASE, lambda: wait_for_server())

        def start_browser():
            self.b = Browser()
        self.step('headless Chromium starts', start_browser)
        b = self.b

        def signin_page():
            b.load()
            b.wait(lambda: b.route() == '/signin', 15, 'the sign-in page at /')
            b.one(T('signin-form'))
            css = b.js("return getComputedStyle(document.documentElement).getPropertyValue('--app-css').trim()")
            if not css:
                raise Failure('web/css/app.css is not applied')
            b.shot('signin')
        self.step('/ shows the sign-in page', signin_page)

        def sign_up_a():
            self.ids['a'] = self.sign_up(self.user_a)
            self.check_no_token_stored()
        self.step(f'A ({self.user_a}) signs up and is signed in; no token in web storage', sign_up_a)

        def upload():
            b.click(T('nav-upload'))
            b.one(T('dropzone'))
            b.one(T('file-input'), visible=False).send_keys(png_path)
            b.wait(lambda: b.attr(T('upload-progress'), 'data-state') in ('done', 'error'),
                   20, 'the upload to finish')
            if b.attr(T('upload-progress'), 'data-state') != 'done':
                raise Failure('the upload failed: ' + b.one(T('upload-error')).text)
            value = b.js(f"return document.querySelector('{T('upload-progress')}').value")
            if value != 100:
                raise Failure(f'the progress bar stopped at {value}')
            if b.one(T('upload-percent')).text != '100%':
                raise Failure('the progress does not say 100%')
            status = b.one(T('upload-status')).text
            if 'Uploaded' not in status or '400×300' not in status:
                raise Failure(f'the upload status says {status!r}')
            self.caption = f'Gradient {self.tag}, the first one'
            b.type(T('caption'), self.caption)
            b.type('#upload-lat', str(self.lat))
            b.type('#upload-lng', str(self.lng))
            b.shot('upload')
            b.click(T('post-submit'))
            b.wait(lambda: b.find(T('post-result')) and b.find(T('post-result'))[0].is_displayed(),
                   10, 'the post to be accepted')
            self.ids['photo'] = b.attr(T('post-result'), 'data-photo-id')
            if not (self.ids['photo'] or '').isdigit():
                raise Failure(f'no photo id after posting: {self.ids["photo"]!r}')
        self.step('A uploads a PNG with the file picker (progress to 100%) and shares it '
                  'with a caption and a typed place', upload)

        def own_page():
            b.click(T('see-posted'))
            sel = f'{T("user-photos")} [data-photo-id="{self.ids["photo"]}"]'
            b.wait(lambda: b.find(sel), ASYNC_DEADLINE, 'the new photo on A\'s page')
        self.step("A's page shows the new photo (once the workers stored it)", own_page)

        def wrong_password():
            self.sign_out()
            self.sign_in(self.user_a, PASSWORD + 'x')
            b.wait(lambda: b.find(T('form-error')) and b.find(T('form-error'))[0].is_displayed(),
                   10, 'an error for the wrong password')
            text = b.one(T('form-error')).text
            if 'wrong username or password' not in text.lower():
                raise Failure(f'the sign-in error says {text!r}')
            if b.route() != '/signin':
                raise Failure('a wrong password left the sign-in page')
            b.shot('signin-error')
        self.step('signing in with a wrong password says so in words', wrong_password)

        def sign_up_b():
            b.click(T('to-signup'))
            self.ids['b'] = self.sign_up(self.user_b)
        self.step(f'B ({self.user_b}) signs up', sign_up_b)

        def follow():
            b.go('/user/' + self.ids['a'])
            b.wait(lambda: b.attr(T('user-photos'), 'data-state') == 'done', 10, "A's photos")
            tile = f'{T("user-photos")} [data-photo-id="{self.ids["photo"]}"]'
            if not b.find(tile):
                raise Failure("A's page does not show A's photo to B")
            name = b.one(T('user-name')).text
            if name != self.user_a:
                raise Failure(f"A's page is titled {name!r}")
            if b.attr(T('follow-button'), 'data-following') != 'false':
                raise Failure('B seems to follow A already')
            b.click(T('follow-button'))
            b.wait(lambda: b.attr(T('follow-button'), 'data-following') == 'true', 10,
                   'the follow button to say Following')
            b.wait(lambda: 'follow' in b.one(T('flash-text')).text.lower(), 5, 'the follow to be confirmed')
            b.js('document.activeElement && document.activeElement.blur()')
            b.images_load(T('user-photos'))
            b.shot('user')
        self.step("B opens A's page, sees the photo, and follows A", follow)

        def feed_has_photo():
            b.go('/feed')
            sel = f'{T("feed-list")} [data-photo-id="{self.ids["photo"]}"]'
            end = time.time() + ASYNC_DEADLINE
            while not b.find(sel):
                if time.time() > end:
                    raise Failure(f"A's photo is not in B's feed after {ASYNC_DEADLINE} s")
                time.sleep(1.5)
                b.click(T('feed-refresh'))
                b.wait(lambda: b.attr(T('feed-list'), 'data-state') in ('done', 'idle', 'error'),
                       10, 'the feed to load')
            card = b.find(sel)[0]
            if self.caption not in card.text:
                raise Failure('the card lacks the caption: ' + card.text)
        self.step("A's photo shows in B's feed", feed_has_photo)

        def profile_says_following():
            # the page loaded again: nothing of what it did before is in
            # memory (a new hash alone would not reload it)
            b.go('/user/' + self.ids['a'])
            b.js('window.photoTestBefore = 1; location.reload()')
            b.wait(lambda: b.js('return !window.photoTestBefore')
                   and b.find(T('follow-button')), 10, "A's page again")
            b.wait(lambda: b.attr(T('follow-button'), 'data-following') == 'true', 10,
                   'the follow button to say Following, from the profile')
            b.wait(lambda: '1 follower' in b.one(T('user-counts')).text, 10,
                   "A's profile to count B as a follower")
            b.go('/feed')
            b.wait(lambda: b.find(T('feed-refresh')), 10, 'the feed again')
        self.step("A's page, opened afresh, says B follows A (GET /v1/users/{id})",
                  profile_says_following)

        def seed():
            api = Api()
            r = api.sign_in(self.user_a, PASSWORD)
            if r.get('user_id') != self.ids['a']:
                raise Failure(f'sign-in through the API gave user {r.get("user_id")}')
            self.seeded = []
            for i in range(SEEDED):
                self.seeded.append(api.post_png(png(96, 72, seed=f'{self.tag}-{i}'),
                                                f'seeded {i + 1} of {SEEDED} ({self.tag})'))
            self.api_a = api
        self.step(f'A posts {SEEDED} more photos through the API', seed)

        def paging():
            want = set(self.seeded) | {self.ids['photo']}
            end = time.time() + ASYNC_DEADLINE + 10
            passes = 0
            while True:
                passes += 1
                b.js('window.scrollTo(0, 0); performance.clearResourceTimings()')
                b.click(T('feed-refresh'))
                self.scroll_feed_to_end(25)
                got = self.feed_ids()
                ids = [i for i, _ in got]
                if want <= set(ids) or time.time() > end:
                    break
                time.sleep(1)
            missing = want - set(ids)
            if missing:
                raise Failure(f'{len(missing)} of A\'s {len(want)} photos are not in B\'s feed '
                              f'after {passes} passes: {sorted(missing)[:5]}…')
            if len(ids) != len(set(ids)):
                raise Failure('the feed shows a photo twice')
            if len(ids) != len(want):
                raise Failure(f'the feed shows {len(ids)} photos; B follows only A, who has {len(want)}')
            if any(u != self.ids['a'] for _, u in got):
                raise Failure('the feed shows photos of somebody B does not follow')
            nums = [int(i) for i in ids]
            if nums != sorted(nums, reverse=True):
                raise Failure('the feed is not newest first')
            if ids[0] != self.seeded[-1] or ids[-1] != self.ids['photo']:
                raise Failure('the newest / oldest photos are not at the ends')
            pages = int(b.attr(T('feed-list'), 'data-pages'))
            requests = b.js("return performance.getEntriesByType('resource')"
                            ".filter(e => e.name.includes('/v1/feed')).map(e => e.name)")
            paged = [r for r in requests if 'max_id=' in r]
            if pages < 2 or len(requests) < 2 or not paged:
                raise Failure(f'the feed was not paged: {pages} pages, requests {requests}')
            self.feed_pages = pages
            self.feed_requests = len(requests)
            self.passes = passes
            b.js('window.scrollTo(0, 0)')
            b.images_load(T('feed-list'))
            b.shot('feed')
            b.d.set_window_size(390, 844)          # a phone
            time.sleep(0.3)
            b.shot('feed-narrow')
            b.d.set_window_size(1280, 900)
        self.step(f"B scrolls the feed through all {SEEDED + 1} of A's photos, newest first, "
                  'page by page', paging)

        def photo_page():
            b.go('/photo/' + self.ids['photo'])
            b.one(T('photo-page'))
            if self.caption not in b.one(T('photo-caption')).text:
                raise Failure('the photo page lacks the caption')
            place = b.one(T('photo-place')).text
            if f'{abs(self.lat):.4f}' not in place:
                raise Failure(f'the photo page shows the place as {place!r}')
            b.wait(lambda: b.attr(T('comments'), 'data-state') == 'done', 10, 'the comments')
            btn = b.one(f'{T("photo-page")} {T("like-button")}')
            if btn.get_attribute('aria-pressed') != 'false':
                raise Failure('B likes the photo already')
            before = int(b.one(f'{T("photo-page")} {T("like-count")}').text)
            # like, unlike, like: the button toggles, the count follows
            for pressed, count in (('true', before + 1), ('false', before), ('true', before + 1)):
                btn.click()
                b.wait(lambda: btn.get_attribute('aria-pressed') == pressed
                       and not btn.get_attribute('data-pending'), 10, f'aria-pressed={pressed}')
                shown = int(b.one(f'{T("photo-page")} {T("like-count")}').text)
                if shown != count:
                    raise Failure(f'the like count shows {shown}, not {count}')
            flash = b.find(T('flash'))[0]
            if flash.is_displayed() and flash.get_attribute('data-kind') == 'error':
                raise Failure('liking showed an error: ' + flash.text)
            self.comment = f'Lovely colours! ({self.tag})'
            self.doomed = f'A typo, to be deleted ({self.tag})'
            for text in (self.comment, self.doomed):
                b.type(T('comment-text'), text)
                b.click(T('comment-submit'))
                b.wait(lambda: any(text in c.text for c in b.find(T('comment'))), 10,
                       'the comment in the list')
            # read back from the server: liked, and the comment stored
            end = time.time() + ASYNC_DEADLINE
            while True:
                b.d.refresh()
                b.one(T('photo-page'))
                b.wait(lambda: b.attr(T('comments'), 'data-state') == 'done', 10, 'the comments')
                liked = b.attr(f'{T("photo-page")} {T("like-button")}', 'aria-pressed') == 'true'
                texts = [c.text for c in b.find(T('comment'))]
                stored = sum(1 for t in texts for want in (self.comment, self.doomed) if want in t)
                if liked and stored == 2:
                    break
                if time.time() > end:
                    raise Failure(f'after a reload: liked {liked}, {stored} of 2 comments stored')
                time.sleep(1)
            # B deletes their second comment
            doomed = [c for c in b.find(T('comment')) if self.doomed in c.text][0]
            shown = int(b.one(T('comment-count')).text)
            b.find(T('comment-delete'), doomed)[0].click()
            b.wait(lambda: not any(self.doomed in c.text for c in b.find(T('comment'))), 10,
                   'the deleted comment to go')
            if int(b.one(T('comment-count')).text) != shown - 1:
                raise Failure('the comment count did not go down')
            end = time.time() + ASYNC_DEADLINE
            while True:
                b.d.refresh()
                b.wait(lambda: b.attr(T('comments'), 'data-state') == 'done', 10, 'the comments')
                texts = [c.text for c in b.find(T('comment'))]
                if not any(self.doomed in t for t in texts):
                    break
                if time.time() > end:
                    raise Failure('the deleted comment is back after a reload')
                time.sleep(1)
            if not any(self.comment in t for t in texts):
                raise Failure('the kept comment is gone')
            b.images_load(T('photo-page'))
            b.shot('photo')
        self.step('B opens the photo, likes it (like, unlike, like) and comments on it (read back), '
                  'and deletes a comment of theirs', photo_page)

        def nearby():
            b.go('/nearby')
            b.one(T('nearby-form'))
            b.type('#nearby-lat', str(self.lat))
            b.type('#nearby-lng', str(self.lng))
            b.type(T('radius'), '2')
            sel = f'{T("nearby-results")} [data-photo-id="{self.ids["photo"]}"]'
            end = time.time() + ASYNC_DEADLINE
            while True:
                b.click(T('nearby-submit'))
                b.wait(lambda: b.attr(T('nearby-results'), 'data-state') in ('done', 'error'), 10,
                       'the nearby search')
                if b.find(sel):
                    break
                if time.time() > end:
                    raise Failure('the photo is not found near its place: ' +
                                  b.one(T('nearby-summary')).text)
                time.sleep(1.5)
            if len(b.find(f'{T("nearby-results")} {T("photo-tile")}')) != 1:
                raise Failure('nearby shows photos from elsewhere')
            q = urllib.parse.parse_qs(b.route().split('?', 1)[1])
            if q.get('lat') != [str(self.lat)]:
                raise Failure(f'the search is not kept in the address: {b.route()}')
            # the browser's own position, a little way off the place
            b.d.execute_cdp_cmd('Browser.grantPermissions',
                                {'origin': ORIGIN, 'permissions': ['geolocation']})
            b.d.execute_cdp_cmd('Emulation.setGeolocationOverride',
                                {'latitude': self.lat + 0.003, 'longitude': self.lng, 'accuracy': 20})
            b.go('/nearby')
            b.one(T('nearby-form'))
            b.wait(lambda: b.attr(T('nearby-results'), 'data-state') == 'idle', 5, 'an empty search')
            b.click(T('geolocate'))
            b.wait(lambda: b.attr(T('nearby-results'), 'data-state') in ('done', 'error'), 10,
                   'the search from the browser\'s position')
            if not b.find(sel):
                raise Failure('"Use my location" does not find the photo: ' +
                              b.one(T('nearby-summary')).text)
            b.images_load(T('nearby-results'))
            b.shot('nearby')
        self.step("B finds the photo nearby A's typed place, and with \"Use my location\"", nearby)

        def errors_in_words():
            b.go('/feed')
            b.wait(lambda: b.attr(T('feed-list'), 'data-state') in ('done', 'idle'), 10, 'the feed')
            b.js("window.__fetch = window.fetch;"
                 "window.fetch = () => Promise.reject(new TypeError('Failed to fetch'));")
            b.click(T('feed-refresh'))
            b.wait(lambda: b.attr(T('feed-list'), 'data-state') == 'error', 10, 'the feed to fail')
            text = b.one(f'{T("pager-status")} {T("error")}').text
            if "can't reach the server" not in text.lower():
                raise Failure(f'a network failure shows {text!r}')
            b.js("window.fetch = () => Promise.resolve(new Response("
                 "'{\"error\":{\"code\":\"unavailable\",\"message\":\"redis unavailable\"}}',"
                 "{status: 503, headers: {'Content-Type': 'application/json'}}));")
            b.click(T('pager-retry'))
            b.wait(lambda: b.find(f'{T("pager-status")} {T("error")}') and
                   'trouble' in b.one(f'{T("pager-status")} {T("error")}').text, 10, 'the 503 in words')
            b.js('window.fetch = window.__fetch')
            b.click(T('pager-retry'))
            b.wait(lambda: b.attr(T('feed-list'), 'data-state') in ('done', 'idle'), 10, 'the feed back')
            b.go('/photo/1')
            b.wait(lambda: b.find(T('error')), 10, 'the missing photo\'s error')
            text = b.one(T('error')).text
            if 'no photo 1' not in text.lower():
                raise Failure(f'a missing photo shows {text!r}')
        self.step('network failures, 5xx and 404s are shown in words', errors_in_words)

        def activity():
            self.sign_out()
            self.sign_in(self.user_a, PASSWORD)
            b.wait(lambda: b.route() == '/feed', 10, 'A signed in again')
            b.click(T('nav-activity'))
            like = f'{T("activity-item")}[data-type="like"][data-actor-id="{self.ids["b"]}"]'
            comment = f'{T("activity-item")}[data-type="comment"][data-actor-id="{self.ids["b"]}"]'
            follow = f'{T("activity-item")}[data-type="follow"][data-actor-id="{self.ids["b"]}"]'
            end = time.time() + ASYNC_DEADLINE
            while True:
                b.wait(lambda: b.attr(T('activity-list'), 'data-state') in ('done', 'idle', 'error'),
                       10, 'the activity list')
                texts = [e.text for e in b.find(comment)]
                if b.find(like) and any(self.comment in t for t in texts) \
                        and not any(self.doomed in t for t in texts):
                    break
                if time.time() > end:
                    raise Failure(f'A\'s activity: B\'s like {bool(b.find(like))}, comment '
                                  f'{any(self.comment in t for t in texts)}, deleted comment '
                                  f'{any(self.doomed in t for t in texts)}')
                time.sleep(1.5)
                b.click(T('activity-refresh'))
            item = [e for e in b.find(comment) if self.comment in e.text][0]
            if self.comment not in item.text or self.user_b not in item.text:
                raise Failure('the comment entry says ' + item.text)
            if self.user_b not in b.find(like)[0].text or 'liked' not in b.find(like)[0].text:
                raise Failure('the like entry says ' + b.find(like)[0].text)
            link = b.find(f'{like} {T("activity-photo")}')
            if not link or not link[0].get_attribute('href').endswith('/photo/' + self.ids['photo']):
                raise Failure('the like entry does not link to the photo')
            self.follow_seen = bool(b.find(follow))
            b.images_load(T('activity-list'))
            b.shot('activity')
        self.step("A's activity shows B's like and comment (not the deleted one)", activity)

        def drag_and_drop():
            b.go('/upload')
            b.one(T('dropzone'))
            b.js('''
                const c = document.createElement('canvas');
                c.width = 320; c.height = 240;
                const g = c.getContext('2d');
                const grad = g.createLinearGradient(0, 0, 320, 240);
                grad.addColorStop(0, '#f58529'); grad.addColorStop(1, '#8134af');
                g.fillStyle = grad; g.fillRect(0, 0, 320, 240);
                c.toBlob((blob) => {
                  const dt = new DataTransfer();
                  dt.items.add(new File([blob], 'dropped.png', {type: 'image/png'}));
                  const zone = document.querySelector('[data-test="dropzone"]');
                  for (const type of ['dragenter', 'dragover', 'drop']) {
                    zone.dispatchEvent(new DragEvent(type, {dataTransfer: dt, bubbles: true, cancelable: true}));
                  }
                }, 'image/png');''')
            b.wait(lambda: b.attr(T('upload-progress'), 'data-state') in ('done', 'error'), 15,
                   'the dropped file to upload')
            status = b.one(T('upload-status')).text
            if b.attr(T('upload-progress'), 'data-state') != 'done' or '320×240' not in status:
                raise Failure('the dropped file did not upload: ' + status)
        self.step('a photo dropped on the upload page uploads too', drag_and_drop)

        def console():
            errors = [e for e in b.console_errors()
                      if 'Failed to load resource' not in e]         # the 4xx/5xx the test asked for
            if errors:
                raise Failure('errors in the browser console: ' + '; '.join(errors[:3]))
        self.step('no script errors in the browser console', console)


def main():
    started = time.time()
    run = Run()
    print(f'# web client at {BASE}; screenshots to {os.path.abspath(SHOTS)}', flush=True)
    try:
        run.run()
    except Failure as e:
        print(f'\nFAIL: {e}', file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        if run.b:
            run.b.quit()
        if run.tmp:
            run.tmp.cleanup()
    print(f'\nPASS: {run.steps} checks in {time.time() - started:.0f} s')
    print(f'  users: A {run.user_a} (id {run.ids["a"]}), B {run.user_b} (id {run.ids["b"]})')
    print(f'  photo {run.ids["photo"]} at {run.lat}, {run.lng}; {SEEDED} more seeded')
    print(f'  feed: {SEEDED + 1} photos in {run.feed_pages} pages ({run.feed_requests} '
          f'/v1/feed requests, {run.passes} pass{"es" if run.passes > 1 else ""})')
    print(f'  activity: like and comment seen; follow entry {"seen" if run.follow_seen else "not seen"}')
    print(f'  screenshots in {os.path.abspath(SHOTS)}: ' +
          ', '.join(os.path.basename(p) for p in run.b.shots))
    return 0


if __name__ == '__main__':
    sys.exit(main())
