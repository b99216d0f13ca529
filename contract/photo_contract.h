/*
 * The contract between the nginx module (read path, job submission) and the
 * workers (write path): backend key names and types, the cached photo
 * format, job names and payload fields.  Both sides include this header and
 * nothing else re-types these strings.  README.md, "The contract", says the
 * same in prose; change both together.
 *
 * Plain C, no nginx or libc types beyond <stdint.h>, so that the module, the
 * workers and their tests can all include it.
 */

#ifndef PHOTO_CONTRACT_H
#define PHOTO_CONTRACT_H

#include <stdint.h>


/*
 * Ids.  Users and photos have 64-bit ids (photos: Instagram-style, 41 bits
 * of milliseconds since PHOTO_ID_EPOCH_MS, 13 bits of shard, 10 bits of
 * sequence; the top time bit is the sign, so ids stay positive for 2^40 ms,
 * until 2060).  In JSON they are strings, since JavaScript numbers lose
 * them.
 */
#define PHOTO_ID_EPOCH_MS        1767225600000ULL  /* 2026-01-01T00:00:00Z */
#define PHOTO_ID_SHARD_BITS      13
#define PHOTO_ID_SEQ_BITS        10
#define PHOTO_ID_MAX_DIGITS      19                /* INT64_MAX in decimal */

/*
 * Id shards (the module only: ngx_photo_shard.c).  Each nginx worker
 * process leases a shard before it gives its first id: a Lua script INCRs
 * PHOTO_REDIS_ID_SHARD_NEXT and takes, from there on (mod 2^13), the first
 * shard whose PHOTO_REDIS_ID_SHARD key it can SET NX, with an expiry of
 * PHOTO_ID_LEASE_MS + PHOTO_ID_LEASE_SLACK_MS.  The worker gives ids in it
 * for at most PHOTO_ID_LEASE_MS, counted on its monotonic clock from before
 * it asked, then leases another when it next needs one.  The slack covers
 * the generator running up to 1 s ahead of the clock and the skew between
 * machines' clocks: a shard's next holder starts after the last millisecond
 * its previous holder may have used.  All in one hash slot ({id_shard}):
 * the script makes the lease keys it tries.
 */
#define PHOTO_REDIS_ID_SHARD_NEXT  "{id_shard}:next" /* STRING, a counter */
#define PHOTO_REDIS_ID_SHARD       "{id_shard}:"     /* + shard (decimal):
                                                        STRING, its holder
                                                        "<host>:<pid>", with
                                                        an expiry */
#define PHOTO_ID_LEASE_MS          (3600 * 1000)
#define PHOTO_ID_LEASE_SLACK_MS    (60 * 1000)


/*
 * Redis.
 *
 * Feeds and a user's own photos are sorted sets whose members are photo ids
 * written as PHOTO_ID_MAX_DIGITS zero-padded decimal digits, all with score
 * 0, so that lexical order is id order (= time order): scores are doubles
 * and would round 64-bit ids.  Adding an id twice is a no-op (idempotent
 * fan-out), concurrent inserts land in id order, and "max_id" paging is one
 * ZREVRANGEBYLEX.  Lists are trimmed to a cap by rank.
 *
 * Keys read or written together carry one hash tag ("{...}"), so that with
 * Redis Cluster they are in one slot (photo_route.h): a user's lists and
 * sessions the user's id, built by photo_keys.h; the others as noted.
 */
#define PHOTO_REDIS_FEED         "feed:"           /* + "{" user id "}": ZSET */
#define PHOTO_REDIS_USER_PHOTOS  "user_photos:"    /* + "{" user id "}": ZSET */
#define PHOTO_REDIS_SESSION      "session:"        /* + the token, its user id
                                                      in braces: "session:
                                                      {4}-<43 characters>";
                                                      STRING user id, with an
                                                      expiry */
#define PHOTO_REDIS_MEDIA        "media:"          /* + media id: STRING, the
                                                      upload not yet posted:
                                                      {"user_id","media_path",
                                                      "image_url","width",
                                                      "height"}, with expiry */
#define PHOTO_MEDIA_TTL          (24 * 3600)       /* seconds */
#define PHOTO_REDIS_DEAD_LETTER  "dead_letter:"    /* + job name: LIST of
                                                      {"reason","payload"} */

/*
 * Idempotency-Key records (the module only: ngx_photo_idempotency.c), one
 * HASH per key, scoped by who asks (the signed-in user's id, or "-" for
 * sign-up and sign-in), the method and the path:
 *   idempotency:<scope>:<METHOD> <path>:<key>
 * Its fields: the request's fingerprint (SHA-1, in hex, of method, path and
 * body); while a request holds it, that attempt's random owner and until
 * (Redis's clock, in ms, when the hold lapses); a background write's job
 * (function, id, payload), kept before it is submitted; once final, the
 * answer (status, body, Set-Cookie lines); gone: the owner of an attempt
 * whose begin went unanswered and that gave up (its begin, if Redis runs it
 * later, holds nothing).  It expires PHOTO_IDEMPOTENCY_TTL after its last
 * change.
 */
#define PHOTO_REDIS_IDEMPOTENCY  "idempotency:"
#define PHOTO_IDEMPOTENCY_ANON   "-"               /* the scope of sign-up
                                                      and sign-in */
#define PHOTO_IDEMPOTENCY_TTL    (24 * 3600)       /* seconds */
#define PHOTO_IDEMPOTENCY_KEY_MAX  255             /* printable ASCII */
#define PHOTO_IDEM_F_FP          "fp"
#define PHOTO_IDEM_F_OWNER       "owner"
#define PHOTO_IDEM_F_UNTIL       "until"
#define PHOTO_IDEM_F_FUNCTION    "fn"
#define PHOTO_IDEM_F_ID          "id"
#define PHOTO_IDEM_F_PAYLOAD     "payload"
#define PHOTO_IDEM_F_STATUS      "status"
#define PHOTO_IDEM_F_BODY        "body"
#define PHOTO_IDEM_F_COOKIE      "cookie"
#define PHOTO_IDEM_F_GONE        "gone"
#define PHOTO_FEED_CAP_DEFAULT   800

/*
 * Likes and the activity feed (workers/photo_social.c writes them, the
 * module reads them).
 *
 * likes:{uid} is the photo ids a user likes now, written as feeds are
 * (PHOTO_ID_MAX_DIGITS padded digits, score 0, lexical = id order), with
 * the completeness marker PHOTO_LIST_COMPLETE; not capped.  A feed read
 * asks for it in the same round trip as the page (it shares the reader's
 * hash tag): the newest liked ids up to the page's max_id, half as many
 * as the page has photos and at most 16, down to the marker (one command: a likes list
 * is only ever written with its marker); they answer "liked" for every
 * photo of the page when the marker came or the oldest is older than the
 * page's oldest,
 * else the page's ids are asked for one by one (ZMSCORE) after.  Without
 * its marker (evicted, never built) the module reads the user's liked ids
 * from Postgres, answers from them, and stores them back with the marker
 * unless the list has its marker by then (a script: the worker, which
 * rebuilds the list the same way when it changes one without a marker,
 * may have made it complete meanwhile, from a later commit).
 *
 * activity:{uid} is what happened to a user's photos and account, newest
 * first: members are the entry's id (PHOTO_ID_MAX_DIGITS padded digits),
 * PHOTO_ACTIVITY_SEP and the entry's JSON exactly as the API returns it
 * (made by the worker, copied by the module), score 0; with the marker;
 * trimmed to PHOTO_ACTIVITY_CAP entries by rank.  Without its marker the
 * module reads the page from Postgres (activities.entry) and the worker
 * rebuilds the list the next time it changes it.  An entry:
 *   {"id":"<activity id>","type":"like"|"comment"|"follow",
 *    "actor":{"id":"<user id>","username":"…"},
 *    ["photo":{"id":"<photo id>","image_url":"…"},]
 *    ["comment":{"id":"<comment id>","text":"…"},]
 *    "created_at":"YYYY-MM-DDTHH:MM:SSZ"}
 * The activity id of a like or a follow is its request id, of a comment
 * the comment's id; its created_at the request id's time (its top bits),
 * the comment's created_at.  The entry of a like is that of the like that
 * made the photo liked (liking it again keeps it); an unlike takes it
 * out; a follow is told once per follower (a follow after an unfollow
 * adds no second entry).
 *
 * The social and follow workers change one of these lists and the rows
 * it is made of in one transaction, holding the list's lock
 * (pg_advisory_xact_lock(hashtextextended('<key>', 0))) until the COMMIT,
 * and write Redis before the COMMIT: a list rebuilt from Postgres under
 * the lock holds what the rows hold.
 *
 * like_notified:{owner}:<photo id>:<actor> is there for
 * PHOTO_LIKE_NOTIFY_TTL after a like was pushed to the photo's owner, and
 * holds that like's request id (its replay finds its own): a like, unlike
 * and like again sends one push.
 */
#define PHOTO_REDIS_LIKES        "likes:"          /* + "{" user id "}": ZSET */
#define PHOTO_REDIS_ACTIVITY     "activity:"       /* + "{" user id "}": ZSET */
#define PHOTO_ACTIVITY_SEP       ':'
#define PHOTO_ACTIVITY_CAP       200
#define PHOTO_REDIS_LIKE_NOTIFIED  "like_notified:" /* + "{" owner "}:" photo
                                                      id ":" actor: STRING,
                                                      with an expiry */
#define PHOTO_LIKE_NOTIFY_TTL    3600              /* seconds */
#define PHOTO_COMMENT_MAX_CHARS  2200              /* as a caption */

/*
 * The index worker's batch (workers/photo_index.c): photo_index payloads
 * taken from gearmand and not yet in Solr, oldest first, and the flush
 * lock (the worker sending them, with an expiry), so that one worker at a
 * time sends and trims the list.  Both are per Solr core: what waits for
 * one core is never sent to another.
 */
#define PHOTO_REDIS_INDEX_PENDING  "index:pending:"   /* + "{" core URL "}":
                                                         LIST of payloads */
#define PHOTO_REDIS_INDEX_FLUSH    "index:flush:"     /* + "{" core URL "}":
                                                         STRING, the
                                                         worker's id */

/*
 * Sign-in backoff per account (workers/photo_auth.c), keyed by the
 * username in lowercase, whether or not it exists (a refusal only known
 * names got would tell which exist).  Each sign-in let through to the
 * password check counts; the one that brings the count to
 * PHOTO_SIGNIN_FREE makes the account wait PHOTO_SIGNIN_WAIT_MIN seconds,
 * each later one twice as long as the one before, up to
 * PHOTO_SIGNIN_WAIT_MAX.  A sign-in while the account waits is refused with
 * the time left, without the password hash.  A success forgets both keys;
 * so does PHOTO_SIGNIN_FAILS_TTL without a counted sign-in.
 */
#define PHOTO_REDIS_SIGNIN_FAILS  "signin_fails:"    /* + "{" lowercase
                                                        username "}":
                                                        STRING, the sign-ins
                                                        counted since the
                                                        last success */
#define PHOTO_REDIS_SIGNIN_WAIT   "signin_wait:"     /* + "{" lowercase
                                                        username "}":
                                                        STRING, there while
                                                        the account waits,
                                                        expiring when it
                                                        may try again */
#define PHOTO_SIGNIN_FREE         5
#define PHOTO_SIGNIN_WAIT_MIN     1                  /* seconds */
#define PHOTO_SIGNIN_WAIT_MAX     (15 * 60)          /* seconds */
#define PHOTO_SIGNIN_FAILS_TTL    3600               /* seconds */

/*
 * A list is complete (built from Postgres, then kept by the workers) while
 * it holds this member, the lowest of all: a reader that finds no marker
 * rebuilds the list from Postgres instead of trusting a partial one.
 * Trimming keeps it (ZREMRANGEBYRANK key 1 -(cap+1)).  It is never a photo.
 */
#define PHOTO_LIST_COMPLETE      "0000000000000000000"

/*
 * Feeds and users' own lists (PHOTO_REDIS_FEED, PHOTO_REDIS_USER_PHOTOS)
 * are given ids only while they hold their marker (workers/lib/core/
 * photo_list.h: looked at first, then the add script for a list without
 * it), so a read needs no command for the marker: its page, read down to
 * "-", ends with the marker when it reaches the list's end, and a page and
 * one more without it are of a complete list (ngx_photo_feed.c).  A short
 * page without it is of a list to rebuild: never built, or made again
 * with a lone id by an add that came just after the list was evicted.  An
 * id for a list without its marker goes to the list's pending set,
 * "<list key>" PHOTO_LIST_PENDING (the same hash tag), kept
 * PHOTO_LIST_PENDING_TTL seconds after its last id (a deleted photo's id
 * is taken out of it as out of the list).  A rebuild whose
 * Postgres read came before the id's row committed, and whose store comes
 * after the worker looked, takes the pending ids in with it: nothing
 * falls between the two.
 *
 * Both scripts: KEYS[1] the list, KEYS[2] its pending set; ARGV[1] the cap
 * (0: none), then the ids (PHOTO_ID_MAX_DIGITS padded digits).
 * PHOTO_LIST_ADD_SCRIPT (the workers) adds them to the list when it has
 * its marker and trims it (1), else to the pending set (0).
 * PHOTO_LIST_STORE_SCRIPT (a rebuild, the module) stores them with the
 * marker and the pending ids, trims, and drops the pending set.
 */
#define PHOTO_LIST_PENDING       ":pending"
#define PHOTO_LIST_PENDING_TTL   60

#define PHOTO_LIST_ZADD_ARGV(key, from)                                       \
    "for i = " from ", #ARGV, 500 do local a = {} "                           \
    "for k = i, math.min(i + 499, #ARGV) do "                                 \
    "a[#a + 1] = 0 a[#a + 1] = ARGV[k] end "                                  \
    "redis.call('ZADD', " key ", unpack(a)) end "

#define PHOTO_LIST_TRIM                                                       \
    "local cap = tonumber(ARGV[1]) "                                          \
    "if cap > 0 then "                                                        \
    "redis.call('ZREMRANGEBYRANK', KEYS[1], 1, -(cap + 1)) end "

#define PHOTO_LIST_ADD_SCRIPT                                                 \
    "local key = KEYS[1] "                                                    \
    "if not redis.call('ZSCORE', key, '" PHOTO_LIST_COMPLETE "') then "       \
    "key = KEYS[2] end "                                                      \
    "if #ARGV == 2 then redis.call('ZADD', key, 0, ARGV[2]) else "            \
    PHOTO_LIST_ZADD_ARGV("key", "2") "end "                                   \
    "if key == KEYS[2] then "                                                 \
    "redis.call('EXPIRE', key, "                                              \
    PHOTO_LIST_STR(PHOTO_LIST_PENDING_TTL) ") return 0 end "                  \
    PHOTO_LIST_TRIM "return 1"

#define PHOTO_LIST_STORE_SCRIPT                                               \
    "redis.call('ZADD', KEYS[1], 0, '" PHOTO_LIST_COMPLETE "') "              \
    PHOTO_LIST_ZADD_ARGV("KEYS[1]", "2")                                      \
    "local p = redis.call('ZRANGE', KEYS[2], 0, -1) "                         \
    "for i = 1, #p, 500 do local a = {} "                                     \
    "for k = i, math.min(i + 499, #p) do a[#a + 1] = 0 a[#a + 1] = p[k] end " \
    "redis.call('ZADD', KEYS[1], unpack(a)) end "                             \
    "redis.call('DEL', KEYS[2]) "                                             \
    PHOTO_LIST_TRIM "return 1"

#define PHOTO_LIST_STR(n)        PHOTO_LIST_STR_(n)
#define PHOTO_LIST_STR_(n)       #n

#define PHOTO_SESSION_COOKIE     "photo_session"
/*
 * A session token begins with its user's id and PHOTO_SESSION_TOKEN_SEP
 * ("4-" then 43 random characters of base64url): a feed read knows whose
 * list to read before Redis says whose session it is, so the session, the
 * list's completeness and the page are one round trip of native commands
 * (a Lua script costs Redis several times more).  The id is only a hint:
 * the page is used only when the session names that user.
 */
#define PHOTO_SESSION_TOKEN_SEP  '-'
#define PHOTO_SESSION_TOKEN_MIN  16                /* characters of base64url
                                                      (photo_base64url.h) */
#define PHOTO_SESSION_TOKEN_MAX  128


/*
 * memcached.  One ketama pool (libmemcached's consistent hashing, default
 * hash) over the same server list, in the same order, on both sides.
 * The value of "photo:<id>" is the photo's JSON object exactly as the API
 * returns it, written by yajl (so it is valid, escaped UTF-8 JSON), and is
 * copied into responses as it is.
 */
#define PHOTO_MC_PHOTO           "photo:"          /* + photo id */
#define PHOTO_MC_FLAGS           3                 /* format version, in the
                                                      flags' low byte: other
                                                      kinds are a miss (1:
                                                      before the counts), but:
                                                      */
#define PHOTO_MC_KIND_MASK       0xff
/*
 * Above the kind, an object's flags carry the top 24 bits of its bytes'
 * CRC-32 (photo_object_flags(), contract/photo_object.h): a reader whose
 * value matches them serves it without parsing it.  A value whose flags
 * are PHOTO_MC_FLAGS alone is checked by a JSON parse instead (as before
 * the checksum: such values age out of the cache in a day).
 */
/*
 * A deleted photo's key holds a tombstone for a while: the value
 * PHOTO_MC_TOMBSTONE with these flags (libmemcached reads an empty value
 * as none).  Readers leave the photo out without asking Postgres, and a
 * reader that read the photo from Postgres just before it was deleted
 * cannot put it back: write-backs are "add", which a tombstone refuses.
 */
#define PHOTO_MC_DELETED         2                 /* the whole flags */
#define PHOTO_MC_TOMBSTONE       "deleted"
#define PHOTO_MC_TOMBSTONE_TTL   3600              /* seconds */
#define PHOTO_MC_MAX_VALUE       16384


/*
 * Gearman jobs: name and JSON payload fields.  Ids are JSON strings.
 * Every background job carries PHOTO_JOB_F_UNIQUE, which is also its
 * gearman unique key, so a retried submission is one job and a replayed job
 * is applied once.
 *
 * photo_persist (background, from nginx): a new photo.
 *   {"unique":"<photo id>","id":"<photo id>","user_id":"…","caption":"…",
 *    "media_path":"…","image_url":"…","width":W,"height":H,
 *    ["lat":LAT,"lng":LNG,]"created_at":<Unix seconds>}
 *   -> row in photos (id is the key: a replay inserts nothing), object in
 *      memcached, id in user_photos:<user>, then a photo_fanout job.
 *
 * photo_delete (background, from nginx, once it saw the photo is the
 * user's own): a photo deleted by its poster.
 *   {"unique":"<photo id>","id":"<photo id>","user_id":"<poster>"}
 *   -> row out of photos, into photo_deletions (so that a replayed persist
 *      job never brings it back); photo:<id> out of memcached; the id out
 *      of user_photos:<user>; a photo_fanout job with "delete" (unique
 *      unfanout:<id>), a photo_social_purge job (unique unsocial:<id>)
 *      and, when PHOTO_SOLR_URL is set, a photo_index delete (unique
 *      unindex:<id>).  Handled by the persist worker.
 *
 * photo_fanout (background, from the persist worker):
 *   {"unique":"fanout:<photo id>","id":"<photo id>","user_id":"<poster>"
 *    [,"delete":true]}
 *   -> the id into feed:<follower> of every follower (ZADD: idempotent),
 *      or out of it (ZREM) for a deleted photo.
 *
 * photo_follow (background, from nginx):
 *   {"unique":"<request id>","follower":"…","followee":"…",
 *    "action":"follow"|"unfollow"}
 *   -> the follows row, the followee's recent photos into (or out of) the
 *      follower's feed; for a follow, the followee's "follow" activity
 *      entry (its id the request id: a unique that is not an id is a dead
 *      letter) and, when PHOTO_NOTIFY is on, a photo_notify "follow".
 *
 * photo_device (background, from nginx):
 *   {"unique":"<request id>","user_id":"…","platform":"ios"|"android",
 *    "token":"…"}
 *
 * photo_index (background, from the persist worker when the photo has a
 * location and PHOTO_SOLR_URL is set): the photo into Solr, or out of it.
 *   {"unique":"index:<photo id>","id":"<photo id>","user_id":"…",
 *    "caption":"…","lat":LAT,"lng":LNG,"created_at":<Unix seconds>}
 *   {"unique":"…","id":"<photo id>","delete":true}
 *   -> the Solr document {"id","user_id","caption","created_at" (a date),
 *      "location":"LAT,LNG"} added (replacing one with the same id: a replay
 *      is harmless) or deleted.
 *   {"unique":"index:pending"} (PHOTO_INDEX_KICK_UNIQUE, from the persist
 *   worker, which appends the payloads of the photos it stored together
 *   to PHOTO_REDIS_INDEX_PENDING itself): send what waits there now.  One
 *   such job while one waits, however many photos: gearmand's queue is
 *   the write path's bottleneck.
 *
 * photo_notify (background, from the follow and social workers and, when
 * PHOTO_NOTIFY_PHOTOS=1, the fan-out worker): a push to every device of
 * one user.
 *   {"unique":"notify:<event id>","user_id":"<recipient>",
 *    "event":"follow"|"photo"|"like"|"comment","actor":"<user id>"
 *    [,"photo_id":"<id>"][,"text":"<a comment's start>"]}
 *   The event id is <event>:<about>:<recipient>, about the actor (follow),
 *   the photo (photo), the like's request id (like: two likers of one
 *   photo are two events) or the comment's id (comment); photo_id is there
 *   for all but a follow, text (at most 100 bytes of the comment, cut
 *   between characters) for a comment.
 *   -> APNs / FCM per device token; notified:<unique>:<token> remembers
 *      each push that was taken, so a replay sends nothing twice; a token
 *      the service calls dead is deleted from device_tokens.
 *
 * photo_like (background, from nginx, once it saw the photo exists):
 *   {"unique":"<request id>","user_id":"<liker>","photo_id":"<id>",
 *    "action":"like"|"unlike"}
 *   -> the likes row set (its action_id the request id: a job older than
 *      the last one applied changes nothing) and photos.like_count with it,
 *      in one transaction; the photo out of likes:{liker} or into it; the
 *      photo object in memcached rewritten with its counts; for a like of
 *      another's photo an activity entry for the owner (out again on
 *      unlike) and, when PHOTO_NOTIFY is on and this like made that
 *      entry, a photo_notify "like" (once per like_notified: key).  A
 *      photo that is gone: nothing.
 *
 * photo_comment (background, from nginx):
 *   {"unique":"<comment id>","id":"<comment id>","user_id":"<author>",
 *    "photo_id":"<id>","text":"…","created_at":<Unix seconds>}
 *   -> the comment row (id is the key; a deleted id is never inserted
 *      again) and photos.comment_count, in one transaction; the photo
 *      object rewritten; for a comment on another's photo an activity
 *      entry for the owner and a photo_notify "comment".
 *   {"unique":"<request id>","id":"<comment id>","user_id":"<who>",
 *    "delete":true}  (nginx saw that who is its author or the photo's
 *    owner)
 *   -> the row out of comments, into comment_deletions (with its photo's
 *      id: a replay writes that photo's object again), the count down,
 *      the object rewritten, its activity entry out.  A comment not stored
 *      yet is kept out (its id into comment_deletions); one whose photo
 *      is gone is left to the purge; a "user_id" that is neither its
 *      author nor the photo's poster is a dead letter (a forged job).
 *
 * photo_social_purge (background, from the persist worker's photo_delete):
 *   {"unique":"unsocial:<photo id>","id":"<photo id>"}
 *   -> the photo out of every liker's likes:{uid}, its activity entries out
 *      of their lists, then its likes, comments and activities rows
 *      deleted (in batches, each list's change and its rows in one
 *      transaction).  A photo still in photos is a dead letter.
 *
 * Both photo_like and photo_comment keep the photo object's counts in
 * memcached by compare-and-swap: read it (gets), read the counts from
 * Postgres, write it back (cas) unless another writer did meanwhile, then
 * try again; the last write is made from counts read after every commit.
 * An absent object is added, a tombstone left alone.
 *
 * photo_link (background, from nginx's PUT / DELETE /v1/me/links/<service>):
 *   {"unique":"<request id>","user_id":"…","service":"twitter"|"facebook",
 *    "action":"link","secret":"<sealed>"}  or  {…,"action":"unlink"}
 *   -> the linked_accounts row set, or for an unlink its secret emptied
 *      (''), either only when the job's request id is newer than the row's
 *      link_id: an older job replayed late changes nothing.  The secret is
 *      sealed by nginx
 *      (photo_secret.h, associated data "<user id>:<service>"); its
 *      plaintext is the JSON the client sent: twitter {"token",
 *      "token_secret"} (the user's OAuth 1.0a access token), facebook
 *      {"page_id","access_token"}.  Handled by the share worker.
 *
 * photo_share (background, from nginx's POST /v1/photos/{id}/share, once it
 * saw the photo is the user's own):
 *   {"unique":"<request id>","user_id":"…","photo_id":"…",
 *    "to":["twitter","facebook"]}
 *   -> for each service the user linked, the photo's caption and URL posted
 *      to it: Twitter's v2 POST /2/tweets signed with OAuth 1.0a (liboauth,
 *      the app's consumer key and the user's token), Facebook's Graph API
 *      POST /{page_id}/photos (url, caption, the user's token).  A shares
 *      row per (share, service) done, so that a replay posts nothing twice;
 *      a rate limit (429) is retried after its Retry-After; an expired or
 *      revoked token leaves that service out, logged (the link is kept:
 *      the user links again).
 *
 * photo_media (background, from the persist worker, once a new photo is
 * stored; only when the workers have a bucket, PHOTO_S3_URL, and the
 * photo's upload has no sizes yet: a photo of an upload posted before
 * takes the sizes of the one that has them, photos.images, as it is
 * inserted):
 *   {"unique":"media:<photo id>","id":"<photo id>","user_id":"<poster>"}
 *   -> the photo's upload (photos.media_path, under PHOTO_MEDIA_ROOT) into
 *      the bucket as it is, and each size of photo_media_sizes made from it
 *      (photo_media.h: libvips, turned by its EXIF orientation, metadata
 *      left out), each a PUT signed with AWS Signature V4; then
 *      photos.images set and the photo object rewritten
 *      (photo_object_store()), now with "images".  A replay, or another
 *      photo of the same upload, finds the sizes made (a photo of that
 *      media_path with images) and only sets images.  A photo that is
 *      gone: nothing.  The bucket
 *      unreachable or answering 5xx: retried with backoff (the feed shows
 *      the upload meanwhile).  An upload libvips cannot decode (cut short
 *      inside): a dead letter with libvips's reason; the photo stays,
 *      shown with its upload.
 *   {"unique":"unmedia:<photo id>","id":"<photo id>","delete":true}  (from
 *   the persist worker's photo_delete)
 *   -> the upload's objects (photo_deletions.media_path) out of the
 *      bucket, unless another photo still uses the upload.
 *
 * photo_health (background, from nginx's GET /health): "{}", unique
 *   PHOTO_HEALTH_UNIQUE.  Shows that gearmand stores jobs in its
 *   persistent queue; the persist worker completes it and does nothing
 *   (while one waits, the next probe's submission is the same job).
 *
 * photo_signup, photo_signin (foreground: nginx waits for the result; the
 * KDF runs in the auth worker, never in nginx):
 *   {"username":"…","password":"…"}
 *   -> {"id":"…","username":"…"} / {"token":"…","user_id":"…"}
 *      or {"error":"taken"|"invalid"}
 *      or, for a sign-in while the account waits (signin_wait:),
 *      {"error":"too_many_attempts","retry_after":"<whole seconds left>"}
 */
#define PHOTO_JOB_PERSIST        "photo_persist"
#define PHOTO_JOB_FANOUT         "photo_fanout"
#define PHOTO_JOB_FOLLOW         "photo_follow"
#define PHOTO_JOB_DEVICE         "photo_device"
#define PHOTO_JOB_SIGNUP         "photo_signup"
#define PHOTO_JOB_SIGNIN         "photo_signin"
#define PHOTO_JOB_NOTIFY         "photo_notify"
#define PHOTO_JOB_INDEX          "photo_index"
#define PHOTO_JOB_DELETE         "photo_delete"
#define PHOTO_JOB_HEALTH         "photo_health"
#define PHOTO_JOB_LIKE           "photo_like"
#define PHOTO_JOB_COMMENT        "photo_comment"
#define PHOTO_JOB_SOCIAL_PURGE   "photo_social_purge"
#define PHOTO_JOB_LINK           "photo_link"
#define PHOTO_JOB_SHARE          "photo_share"
#define PHOTO_JOB_MEDIA          "photo_media"
#define PHOTO_HEALTH_UNIQUE      "health"

#define PHOTO_JOB_F_UNIQUE       "unique"
#define PHOTO_JOB_F_ID           "id"
#define PHOTO_JOB_F_USER_ID      "user_id"
#define PHOTO_JOB_F_CAPTION      "caption"
#define PHOTO_JOB_F_MEDIA_PATH   "media_path"
#define PHOTO_JOB_F_IMAGE_URL    "image_url"
#define PHOTO_JOB_F_WIDTH        "width"
#define PHOTO_JOB_F_HEIGHT       "height"
#define PHOTO_JOB_F_LAT          "lat"
#define PHOTO_JOB_F_LNG          "lng"
#define PHOTO_JOB_F_CREATED_AT   "created_at"
#define PHOTO_JOB_F_FOLLOWER     "follower"
#define PHOTO_JOB_F_FOLLOWEE     "followee"
#define PHOTO_JOB_F_ACTION       "action"
#define PHOTO_JOB_F_PLATFORM     "platform"
#define PHOTO_JOB_F_TOKEN        "token"
#define PHOTO_JOB_F_USERNAME     "username"
#define PHOTO_JOB_F_PASSWORD     "password"
#define PHOTO_JOB_F_ERROR        "error"
#define PHOTO_JOB_F_EVENT        "event"           /* photo_notify */
#define PHOTO_JOB_F_ACTOR        "actor"
#define PHOTO_JOB_F_PHOTO_ID     "photo_id"
#define PHOTO_JOB_F_DELETE       "delete"
#define PHOTO_JOB_F_RETRY_AFTER  "retry_after"     /* photo_signin */
#define PHOTO_JOB_F_TEXT         "text"            /* photo_comment */
#define PHOTO_JOB_F_SERVICE      "service"         /* photo_link */
#define PHOTO_JOB_F_SECRET       "secret"
#define PHOTO_JOB_F_TO           "to"              /* photo_share */

/* the services a user links and shares to (photo_link, photo_share) */
#define PHOTO_SERVICE_TWITTER    "twitter"
#define PHOTO_SERVICE_FACEBOOK   "facebook"

/* the "error" of photo_signup and photo_signin */
#define PHOTO_AUTH_E_TAKEN       "taken"
#define PHOTO_AUTH_E_INVALID     "invalid"
#define PHOTO_AUTH_E_WAIT        "too_many_attempts"

#define PHOTO_FANOUT_UNIQUE      "fanout:"         /* + photo id */
#define PHOTO_INDEX_UNIQUE       "index:"          /* + photo id */
#define PHOTO_UNFANOUT_UNIQUE    "unfanout:"       /* + photo id */
#define PHOTO_UNINDEX_UNIQUE     "unindex:"        /* + photo id */
#define PHOTO_UNSOCIAL_UNIQUE    "unsocial:"       /* + photo id */
#define PHOTO_MEDIA_UNIQUE       "media:"          /* + photo id */
#define PHOTO_UNMEDIA_UNIQUE     "unmedia:"        /* + photo id */
#define PHOTO_INDEX_KICK_UNIQUE  "index:pending"
#define PHOTO_SESSION_TTL        (30 * 24 * 3600)  /* seconds */

#define PHOTO_NOTIFY_UNIQUE      "notify:"         /* + event id */
#define PHOTO_REDIS_NOTIFIED     "notified:"       /* + unique ":" token:
                                                      STRING "1", a push
                                                      taken by APNs / FCM */
#define PHOTO_NOTIFIED_TTL       (7 * 24 * 3600)   /* seconds */


#endif /* PHOTO_CONTRACT_H */
