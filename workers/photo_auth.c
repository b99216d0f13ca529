/*
 * photo_signup, photo_signin: accounts and sessions (foreground jobs: nginx
 * waits for the answer; the password hash is slow on purpose, so it runs
 * here and never in nginx).
 *
 * Passwords are hashed with Argon2id (libargon2, RFC 9106) at OWASP's
 * minimum, m = 19 MiB, t = 2, p = 1, about 0.1 s here, into the encoded
 * form "$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>" that names its own
 * parameters, so they can be raised later without touching stored hashes.
 * The salt is 16 random bytes; argon2id_verify compares in constant time.
 *
 *   signup  {"username","password"} -> {"id","username"}
 *           or {"error":"taken"} (case-insensitively) or {"error":"invalid"}
 *   signin  {"username","password"} -> {"token","user_id"}, the token a
 *           new session:<token> in Redis for PHOTO_SESSION_TTL,
 *           or {"error":"invalid"}: the same answer, after the same work,
 *           for an unknown user, an account without a usable hash and a
 *           wrong password,
 *           or {"error":"too_many_attempts","retry_after":"<seconds>"}
 *           while the account waits (the backoff of photo_contract.h:
 *           guesses at one account, from any number of addresses, which
 *           nginx's limit per address cannot see).
 */

#include "photo_worker.h"
#include "photo_base64url.h"
#include "photo_id.h"
#include "photo_keys.h"
#include "photo_log.h"

#include <argon2.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>


#define PHOTO_AUTH_T_COST       2
#define PHOTO_AUTH_M_COST       19456       /* KiB */
#define PHOTO_AUTH_PARALLELISM  1
#define PHOTO_AUTH_SALT_LEN     16
#define PHOTO_AUTH_HASH_LEN     32
#define PHOTO_AUTH_ENCODED      128

#define PHOTO_AUTH_USERNAME_MAX 30          /* sql/001_users.sql */
#define PHOTO_AUTH_PASSWORD_MIN 8
#define PHOTO_AUTH_PASSWORD_MAX 1024

#define PHOTO_AUTH_TOKEN_BYTES  32          /* 43 characters of base64url */
#define PHOTO_AUTH_TOKEN_LEN    (PHOTO_ID_MAX_DIGITS + 1                     \
                                 + PHOTO_BASE64URL_LEN(PHOTO_AUTH_TOKEN_BYTES))

#define PHOTO_AUTH_KEY_LEN      (sizeof(PHOTO_REDIS_SIGNIN_FAILS) + 2        \
                                 + PHOTO_AUTH_USERNAME_MAX)


/* an account's backoff keys: signin_fails:{<name>}, signin_wait:{<name>} */
typedef struct {
    char  fails[PHOTO_AUTH_KEY_LEN];
    char  wait[PHOTO_AUTH_KEY_LEN];
} photo_auth_backoff_t;


static photo_job_rc_t photo_signup(photo_ctx_t *ctx, photo_job_t *job);
static photo_job_rc_t photo_signin(photo_ctx_t *ctx, photo_job_t *job);
static int photo_auth_decode(photo_job_t *job, const char **username,
    const char **password, size_t *password_len);
static int photo_auth_username_ok(const char *s);
static int photo_auth_hash(const char *password, size_t len,
    char encoded[PHOTO_AUTH_ENCODED]);
static int photo_auth_verify(const char *encoded, const char *password,
    size_t len);
static void photo_auth_backoff_keys(photo_auth_backoff_t *b,
    const char *username);
static photo_job_rc_t photo_auth_admit(photo_ctx_t *ctx, photo_job_t *job,
    const photo_auth_backoff_t *b, long long *wait_ms);
static int photo_auth_token(char token[PHOTO_AUTH_TOKEN_LEN + 1],
    const char *user_id);
static photo_job_rc_t photo_auth_session(photo_ctx_t *ctx, photo_job_t *job,
    const char *token, const char *user_id, const photo_auth_backoff_t *b);
static photo_job_rc_t photo_auth_reply(photo_ctx_t *ctx, photo_job_t *job,
    redisContext *c, redisReply *r, int type, const char *what);
static photo_job_rc_t photo_auth_answer(photo_job_t *job, ...)
    __attribute__((sentinel));


/*
 * Verified when there is no real hash to verify: made at start with the
 * same parameters, from a password nobody knows, so that every refusal
 * costs the same KDF.
 */
static char  photo_auth_dummy[PHOTO_AUTH_ENCODED];


static const photo_worker_function_t  photo_auth_functions[] = {
    { .name = PHOTO_JOB_SIGNUP, .handler = photo_signup,
      .kind = PHOTO_JOB_FOREGROUND },
    { .name = PHOTO_JOB_SIGNIN, .handler = photo_signin,
      .kind = PHOTO_JOB_FOREGROUND },
    { .name = NULL }
};


int
main(int argc, char **argv)
{
    int             rc;
    unsigned char   secret[PHOTO_AUTH_SALT_LEN];
    photo_worker_t  w;

    if (photo_worker_init(&w, argc, argv, "photo_auth",
                          "Signs users up (Argon2id password hashes) and in "
                          "(sessions in Redis), with a backoff per\naccount; "
                          "nginx waits for the answer.",
                          photo_auth_functions)
        != 0)
    {
        return w.exit_code;
    }

    if (getrandom(secret, sizeof(secret), 0) != (ssize_t) sizeof(secret)
        || photo_auth_hash((const char *) secret, sizeof(secret),
                           photo_auth_dummy)
           != 0)
    {
        photo_log_error("cannot make the dummy hash");
        photo_worker_done(&w);
        return 1;
    }

    rc = photo_worker_run(&w);

    photo_worker_done(&w);

    return rc;
}


static photo_job_rc_t
photo_signup(photo_ctx_t *ctx, photo_job_t *job)
{
    char             encoded[PHOTO_AUTH_ENCODED];
    size_t           password_len;
    PGresult        *res;
    const char      *username, *password, *params[2];
    photo_job_rc_t   rc;

    /* the other username, spelled differently, is a conflict: no row */
    static const char  *insert =
        "insert into users (username, password_hash) values ($1, $2)"
        " on conflict do nothing returning id";

    if (photo_auth_decode(job, &username, &password, &password_len) != 0
        || !photo_auth_username_ok(username)
        || password_len < PHOTO_AUTH_PASSWORD_MIN)
    {
        photo_log_info("%s: refused: %s", job->name,
                       job->reason[0] ? job->reason
                                      : "username or password not allowed");
        return photo_auth_answer(job, PHOTO_JOB_F_ERROR, PHOTO_AUTH_E_INVALID,
                                 NULL);
    }

    if (photo_auth_hash(password, password_len, encoded) != 0) {
        return photo_job_retry(job, "argon2: cannot hash");
    }

    params[0] = username;
    params[1] = encoded;

    res = photo_ctx_pg(ctx, job, insert, 2, params, &rc);
    if (res == NULL) {
        return rc;
    }

    if (PQntuples(res) == 0) {
        PQclear(res);
        photo_log_info("signup: username \"%s\" is taken", username);
        return photo_auth_answer(job, PHOTO_JOB_F_ERROR, PHOTO_AUTH_E_TAKEN,
                                 NULL);
    }

    photo_log_info("signup: user %s is \"%s\"", PQgetvalue(res, 0, 0),
                   username);

    rc = photo_auth_answer(job, PHOTO_JOB_F_ID, PQgetvalue(res, 0, 0),
                           PHOTO_JOB_F_USERNAME, username, NULL);

    PQclear(res);

    return rc;
}


static photo_job_rc_t
photo_signin(photo_ctx_t *ctx, photo_job_t *job)
{
    int                    ok;
    char                   token[PHOTO_AUTH_TOKEN_LEN + 1], seconds[24];
    size_t                 password_len;
    PGresult              *res;
    long long              wait_ms;
    const char            *username, *password, *user_id;
    photo_job_rc_t         rc;
    photo_auth_backoff_t   b;

    static const char  *lookup =
        "select id, password_hash from users where lower(username) = lower($1)";

    if (photo_auth_decode(job, &username, &password, &password_len) != 0) {
        photo_log_info("%s: refused: %s", job->name, job->reason);
        return photo_auth_answer(job, PHOTO_JOB_F_ERROR, PHOTO_AUTH_E_INVALID,
                                 NULL);
    }

    photo_auth_backoff_keys(&b, username);

    /* counted once, though the job may be retried (job->progress) */
    if (job->progress == 0) {
        rc = photo_auth_admit(ctx, job, &b, &wait_ms);
        if (rc != PHOTO_JOB_DONE) {
            return rc;
        }

        if (wait_ms > 0) {
            photo_log_info("signin: \"%s\" waits %lld ms", username,
                           wait_ms);

            /* whole seconds, rounded up, as Retry-After will say */
            snprintf(seconds, sizeof(seconds), "%lld",
                     (wait_ms + 999) / 1000);

            return photo_auth_answer(job, PHOTO_JOB_F_ERROR,
                                     PHOTO_AUTH_E_WAIT,
                                     PHOTO_JOB_F_RETRY_AFTER, seconds, NULL);
        }

        job->progress = 1;
    }

    res = photo_ctx_pg(ctx, job, lookup, 1, &username, &rc);
    if (res == NULL) {
        return rc;
    }

    /* no such user: NULL, which costs the same hash as a wrong password */
    ok = photo_auth_verify(PQntuples(res) == 1 ? PQgetvalue(res, 0, 1) : NULL,
                           password, password_len);

    if (ok < 0) {
        PQclear(res);
        return photo_job_retry(job, "argon2: cannot verify");
    }

    if (!ok) {
        PQclear(res);
        photo_log_info("signin: refused for \"%s\"", username);
        return photo_auth_answer(job, PHOTO_JOB_F_ERROR, PHOTO_AUTH_E_INVALID,
                                 NULL);
    }

    user_id = PQgetvalue(res, 0, 0);

    if (photo_auth_token(token, user_id) != 0) {
        rc = photo_job_retry(job, "getrandom: %s", strerror(errno));

    } else {
        rc = photo_auth_session(ctx, job, token, user_id, &b);
    }

    if (rc == PHOTO_JOB_DONE) {
        photo_log_info("signin: user %s has a new session", user_id);
        rc = photo_auth_answer(job, PHOTO_JOB_F_TOKEN, token,
                               PHOTO_JOB_F_USER_ID, user_id, NULL);
    }

    PQclear(res);

    return rc;
}


static int
photo_auth_decode(photo_job_t *job, const char **username,
    const char **password, size_t *password_len)
{
    return photo_job_string(job, PHOTO_JOB_F_USERNAME, 1,
                            PHOTO_AUTH_USERNAME_MAX, username, NULL)
           || photo_job_string(job, PHOTO_JOB_F_PASSWORD, 1,
                               PHOTO_AUTH_PASSWORD_MAX, password,
                               password_len);
}


/* ^[A-Za-z0-9_.]{1,30}$, the check constraint of users.username */
static int
photo_auth_username_ok(const char *s)
{
    size_t  n;

    for (n = 0; s[n]; n++) {
        if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z')
              || (s[n] >= '0' && s[n] <= '9') || s[n] == '_' || s[n] == '.'))
        {
            return 0;
        }
    }

    return n >= 1 && n <= PHOTO_AUTH_USERNAME_MAX;
}


static int
photo_auth_hash(const char *password, size_t len,
    char encoded[PHOTO_AUTH_ENCODED])
{
    int            rc;
    unsigned char  salt[PHOTO_AUTH_SALT_LEN];

    if (getrandom(salt, sizeof(salt), 0) != (ssize_t) sizeof(salt)) {
        return -1;
    }

    rc = argon2id_hash_encoded(PHOTO_AUTH_T_COST, PHOTO_AUTH_M_COST,
                               PHOTO_AUTH_PARALLELISM, password, len,
                               salt, sizeof(salt), PHOTO_AUTH_HASH_LEN,
                               encoded, PHOTO_AUTH_ENCODED);
    if (rc != ARGON2_OK) {
        photo_log_error("argon2: %s", argon2_error_message(rc));
        return -1;
    }

    return 0;
}


/*
 * 1 the password matches, 0 it does not, -1 argon2 failed (memory).
 * Without a real hash to verify (encoded NULL: no such user; or a value
 * argon2 cannot read: the seeded accounts' "!"), the dummy hash is verified
 * instead, so that a refusal takes the same time whoever is asked for.
 */
static int
photo_auth_verify(const char *encoded, const char *password, size_t len)
{
    int  rc;

    rc = encoded ? argon2id_verify(encoded, password, len)
                 : ARGON2_DECODING_FAIL;

    if (rc != ARGON2_OK && rc != ARGON2_VERIFY_MISMATCH
        && rc != ARGON2_MEMORY_ALLOCATION_ERROR && rc != ARGON2_THREAD_FAIL)
    {
        rc = argon2id_verify(photo_auth_dummy, password, len);
        rc = (rc == ARGON2_OK) ? ARGON2_VERIFY_MISMATCH : rc;
    }

    switch (rc) {
    case ARGON2_OK:
        return 1;
    case ARGON2_MEMORY_ALLOCATION_ERROR:
    case ARGON2_THREAD_FAIL:
        photo_log_error("argon2: %s", argon2_error_message(rc));
        return -1;
    default:
        return 0;
    }
}


/*
 * signin_fails:{<name>} and signin_wait:{<name>}, the name in lowercase:
 * one hash tag, as the backoff script takes both
 */
static void
photo_auth_backoff_keys(photo_auth_backoff_t *b, const char *username)
{
    size_t  i, f, w;

    f = sizeof(PHOTO_REDIS_SIGNIN_FAILS) - 1;
    w = sizeof(PHOTO_REDIS_SIGNIN_WAIT) - 1;

    memcpy(b->fails, PHOTO_REDIS_SIGNIN_FAILS "{", ++f);
    memcpy(b->wait, PHOTO_REDIS_SIGNIN_WAIT "{", ++w);

    for (i = 0; username[i] && i < PHOTO_AUTH_USERNAME_MAX; i++) {
        b->fails[f + i] = (char) tolower((unsigned char) username[i]);
        b->wait[w + i] = b->fails[f + i];
    }

    b->fails[f + i] = '}';
    b->wait[w + i] = '}';
    b->fails[f + i + 1] = '\0';
    b->wait[w + i + 1] = '\0';
}


/*
 * The account's backoff, before the password is looked at: *wait_ms > 0,
 * the account waits that long yet; else this sign-in is counted and goes
 * on.  One script, with Redis's clock: attempts that come to several
 * workers at once are counted one after the other, and the one that
 * brings the count to PHOTO_SIGNIN_FREE (or past it) sets the wait before
 * the next is let through.
 */
static photo_job_rc_t
photo_auth_admit(photo_ctx_t *ctx, photo_job_t *job,
    const photo_auth_backoff_t *b, long long *wait_ms)
{
    redisReply      *r;
    redisContext    *c;
    photo_job_rc_t   rc;

    static const char  *script =
        "local left = redis.call('PTTL', KEYS[2]) "
        "if left > 0 then return left end "
        "local n = redis.call('INCR', KEYS[1]) "
        "redis.call('EXPIRE', KEYS[1], ARGV[1]) "
        "local free = tonumber(ARGV[2]) "
        "if n >= free then "
        "  local ms = math.min(tonumber(ARGV[3]) * 2 ^ (n - free), "
        "                      tonumber(ARGV[4])) "
        "  redis.call('SET', KEYS[2], n, 'PX', ms) "
        "end "
        "return 0";

    *wait_ms = 0;

    /* both keys are tagged with the name: one node */
    c = photo_ctx_redis_key(ctx, job, b->fails, strlen(b->fails));
    if (c == NULL) {
        return PHOTO_JOB_RETRY;
    }

    r = redisCommand(c, "EVAL %s 2 %s %s %d %d %d %d", script, b->fails,
                     b->wait, PHOTO_SIGNIN_FAILS_TTL, PHOTO_SIGNIN_FREE,
                     PHOTO_SIGNIN_WAIT_MIN * 1000,
                     PHOTO_SIGNIN_WAIT_MAX * 1000);

    rc = photo_auth_reply(ctx, job, c, r, REDIS_REPLY_INTEGER,
                          "EVAL backoff");

    if (rc == PHOTO_JOB_DONE) {
        *wait_ms = r->integer;
    }

    freeReplyObject(r);

    return rc;
}


/* "<user id>-" and 32 random bytes as base64url without padding: 43 of
   [A-Za-z0-9_-] (photo_contract.h, PHOTO_SESSION_TOKEN_SEP) */
static int
photo_auth_token(char token[PHOTO_AUTH_TOKEN_LEN + 1], const char *user_id)
{
    char           text[PHOTO_BASE64URL_BUF(PHOTO_AUTH_TOKEN_BYTES)];
    unsigned char  raw[PHOTO_AUTH_TOKEN_BYTES];

    if (getrandom(raw, sizeof(raw), 0) != (ssize_t) sizeof(raw)) {
        return -1;
    }

    photo_base64url_encode(text, raw, sizeof(raw));

    snprintf(token, PHOTO_AUTH_TOKEN_LEN + 1, "%s%c%s", user_id,
             PHOTO_SESSION_TOKEN_SEP, text);

    return 0;
}


/*
 * A new session (photo_key_session), and the account's backoff forgotten:
 * two commands, the name's keys and the user's being two slots (with a
 * Redis Cluster, maybe two nodes).
 */
static photo_job_rc_t
photo_auth_session(photo_ctx_t *ctx, photo_job_t *job, const char *token,
    const char *user_id, const photo_auth_backoff_t *b)
{
    int              len;
    char             key[PHOTO_KEY_MAX];
    redisReply      *r;
    redisContext    *c;
    photo_job_rc_t   rc;

    c = photo_ctx_redis_key(ctx, job, b->fails, strlen(b->fails));
    if (c == NULL) {
        return PHOTO_JOB_RETRY;
    }

    /* the count first: were it left after the session, a retry would
       store a second session */
    r = redisCommand(c, "DEL %s %s", b->fails, b->wait);
    rc = photo_auth_reply(ctx, job, c, r, REDIS_REPLY_INTEGER,
                          "DEL backoff");
    freeReplyObject(r);

    if (rc != PHOTO_JOB_DONE) {
        return rc;
    }

    len = photo_key_session(key, sizeof(key), token, strlen(token));
    if (len < 0) {
        return photo_job_retry(job, "the session key does not fit");
    }

    c = photo_ctx_redis_key(ctx, job, key, (size_t) len);
    if (c == NULL) {
        return PHOTO_JOB_RETRY;
    }

    r = redisCommand(c, "SET %s %s EX %d", key, user_id, PHOTO_SESSION_TTL);
    rc = photo_auth_reply(ctx, job, c, r, REDIS_REPLY_STATUS, "SET session");
    freeReplyObject(r);

    return rc;
}


/* a reply of the type expected: done; else the job is to be retried */
static photo_job_rc_t
photo_auth_reply(photo_ctx_t *ctx, photo_job_t *job, redisContext *c,
    redisReply *r, int type, const char *what)
{
    if (r == NULL || r->type != type) {
        (void) photo_redis_failed(&ctx->redis, r);
    }

    if (r == NULL) {
        return photo_ctx_failed(job, PHOTO_BACKEND_REDIS,
                                "%s", c->errstr);
    }

    if (r->type != type) {
        return photo_ctx_failed(job, PHOTO_BACKEND_REDIS,
                                "%s: %s", what,
                                r->type == REDIS_REPLY_ERROR ? r->str : "?");
    }

    return PHOTO_JOB_DONE;
}


/* the answer: {"key":"value",...}, pairs of strings ending with NULL */
static photo_job_rc_t
photo_auth_answer(photo_job_t *job, ...)
{
    int              ok;
    va_list          args;
    yajl_gen         g;

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        return photo_job_retry(job, "out of memory");
    }

    va_start(args, job);
    ok = photo_job_gen_vpairs(g, args) == yajl_gen_status_ok
         && photo_job_answer(job, g) == 0;
    va_end(args);

    yajl_gen_free(g);

    return ok ? PHOTO_JOB_DONE : photo_job_retry(job, "out of memory");
}
