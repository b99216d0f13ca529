/* The activity feed (see photo_activity.h). */

#include "photo_activity.h"
#include "photo_contract.h"
#include "photo_id.h"
#include "photo_keys.h"
#include "photo_marked.h"
#include "photo_object.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#define photo_activity_lit(g, s)                                             \
    yajl_gen_string(g, (const unsigned char *) s, sizeof(s) - 1)

#define photo_activity_try(expr)                                             \
    do {                                                                     \
        yajl_gen_status  s_ = (expr);                                        \
        if (s_ != yajl_gen_status_ok) {                                      \
            return s_;                                                       \
        }                                                                    \
    } while (0)


/* the row, or the entry its id has already; $9: once per actor and type */
static const char  photo_activity_insert[] =
    "with ins as (insert into activities (id, owner_id, actor_id, kind,"
    " photo_id, comment_id, entry, created_at)"
    " select $1::bigint, $2::bigint, $3::bigint, $4::text, $5::bigint,"
    " $6::bigint, $7::text, to_timestamp($8::bigint)"
    " where not $9::boolean or not exists (select 1 from activities"
    " where actor_id = $3::bigint and kind = $4::text"
    " and owner_id = $2::bigint)"
    " on conflict (id) do nothing returning entry)"
    " select entry from ins"
    " union all select entry from activities where id = $1::bigint";

/* the list's members as photo_id_pad() and PHOTO_ACTIVITY_SEP make them */
static const char  photo_activity_rebuild[] =
    "select lpad(id::text, 19, '0') || ':' || entry from activities"
    " where owner_id = $1 order by id desc limit $2";


static yajl_gen_status photo_activity_id(yajl_gen g, int64_t id);
static void photo_activity_list(photo_marked_t *list, char *key,
    const char **params, char *owner_s, char *cap, int64_t owner);


static yajl_gen_status
photo_activity_id(yajl_gen g, int64_t id)
{
    char    buf[PHOTO_ID_BUF];
    size_t  n;

    n = photo_id_format(buf, id);

    return yajl_gen_string(g, (const unsigned char *) buf, n);
}


yajl_gen_status
photo_activity_gen(yajl_gen g, const photo_activity_t *a)
{
    char    stamp[PHOTO_OBJECT_TIME_LEN + 1];
    size_t  n;

    n = photo_object_time(stamp, a->created_at);
    if (n == 0) {
        return yajl_gen_invalid_number;
    }

    /* copied into responses as it is: valid UTF-8 by construction */
    if (!yajl_gen_config(g, yajl_gen_validate_utf8, 1)) {
        return yajl_gen_invalid_string;
    }

    photo_activity_try(yajl_gen_map_open(g));

    photo_activity_try(photo_activity_lit(g, "id"));
    photo_activity_try(photo_activity_id(g, a->id));
    photo_activity_try(photo_activity_lit(g, "type"));
    photo_activity_try(yajl_gen_string(g, (const unsigned char *) a->type,
                                       strlen(a->type)));

    photo_activity_try(photo_activity_lit(g, "actor"));
    photo_activity_try(yajl_gen_map_open(g));
    photo_activity_try(photo_activity_lit(g, "id"));
    photo_activity_try(photo_activity_id(g, a->actor_id));
    photo_activity_try(photo_activity_lit(g, "username"));
    photo_activity_try(yajl_gen_string(g,
                                       (const unsigned char *) a->actor_name,
                                       a->actor_name_len));
    photo_activity_try(yajl_gen_map_close(g));

    if (a->photo_id) {
        photo_activity_try(photo_activity_lit(g, "photo"));
        photo_activity_try(yajl_gen_map_open(g));
        photo_activity_try(photo_activity_lit(g, "id"));
        photo_activity_try(photo_activity_id(g, a->photo_id));
        photo_activity_try(photo_activity_lit(g, "image_url"));
        photo_activity_try(yajl_gen_string(g,
                                        (const unsigned char *) a->image_url,
                                        a->image_url_len));
        photo_activity_try(yajl_gen_map_close(g));
    }

    if (a->comment_id) {
        photo_activity_try(photo_activity_lit(g, "comment"));
        photo_activity_try(yajl_gen_map_open(g));
        photo_activity_try(photo_activity_lit(g, "id"));
        photo_activity_try(photo_activity_id(g, a->comment_id));
        photo_activity_try(photo_activity_lit(g, "text"));
        photo_activity_try(yajl_gen_string(g,
                                           (const unsigned char *) a->text,
                                           a->text_len));
        photo_activity_try(yajl_gen_map_close(g));
    }

    photo_activity_try(photo_activity_lit(g, "created_at"));
    photo_activity_try(yajl_gen_string(g, (const unsigned char *) stamp, n));

    return yajl_gen_map_close(g);
}


int64_t
photo_activity_time(int64_t id)
{
    int64_t  ms;

    ms = (int64_t) ((uint64_t) id >> (PHOTO_ID_SHARD_BITS + PHOTO_ID_SEQ_BITS))
         + (int64_t) PHOTO_ID_EPOCH_MS;

    return ms / 1000;
}


photo_job_rc_t
photo_activity_lock(photo_ctx_t *ctx, photo_job_t *job, int64_t owner)
{
    char  key[PHOTO_KEY_MAX];

    (void) photo_key_list(key, sizeof(key), PHOTO_REDIS_ACTIVITY, owner);

    return photo_ctx_pg_lock(ctx, job, key);
}


/* activity:{owner} as photo_marked_change() takes it */
static void
photo_activity_list(photo_marked_t *list, char *key, const char **params,
    char *owner_s, char *cap, int64_t owner)
{
    (void) photo_key_list(key, PHOTO_KEY_MAX, PHOTO_REDIS_ACTIVITY, owner);
    photo_id_format(owner_s, owner);
    snprintf(cap, 16, "%d", PHOTO_ACTIVITY_CAP);

    params[0] = owner_s;
    params[1] = cap;

    list->key = key;
    list->cap = PHOTO_ACTIVITY_CAP;
    list->sql = photo_activity_rebuild;
    list->nparams = 2;
    list->params = params;
}


photo_job_rc_t
photo_activity_add(photo_ctx_t *ctx, photo_job_t *job, int64_t owner,
    const photo_activity_t *a, int once)
{
    char                 *member;
    char                  key[PHOTO_KEY_MAX], cap[16], created[24],
                          ids[5][PHOTO_ID_BUF];
    size_t                len, elen;
    yajl_gen              g;
    PGresult             *res;
    const char           *params[9], *lparams[2];
    photo_job_rc_t        rc;
    photo_marked_t        list;
    const unsigned char  *entry;

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        return photo_job_retry(job, "out of memory");
    }

    if (photo_activity_gen(g, a) != yajl_gen_status_ok
        || yajl_gen_get_buf(g, &entry, &len) != yajl_gen_status_ok)
    {
        yajl_gen_free(g);
        return photo_job_dead(job, "the %s entry %" PRId64 " cannot be "
                              "written (not UTF-8?)", a->type, a->id);
    }

    photo_id_format(ids[0], a->id);
    photo_id_format(ids[1], owner);
    photo_id_format(ids[2], a->actor_id);
    snprintf(created, sizeof(created), "%" PRId64, a->created_at);

    params[0] = ids[0];
    params[1] = ids[1];
    params[2] = ids[2];
    params[3] = a->type;
    params[4] = NULL;
    params[5] = NULL;
    params[6] = (const char *) entry;
    params[7] = created;
    params[8] = once ? "t" : "f";

    if (a->photo_id) {
        photo_id_format(ids[3], a->photo_id);
        params[4] = ids[3];
    }

    if (a->comment_id) {
        photo_id_format(ids[4], a->comment_id);
        params[5] = ids[4];
    }

    /* entry is NUL-terminated for libpq: yajl's buffer may not be */
    member = malloc(PHOTO_ID_MAX_DIGITS + 1 + len + 1);
    if (member == NULL) {
        yajl_gen_free(g);
        return photo_job_retry(job, "out of memory");
    }

    memcpy(member + PHOTO_ID_MAX_DIGITS + 1, entry, len);
    member[PHOTO_ID_MAX_DIGITS + 1 + len] = '\0';
    params[6] = member + PHOTO_ID_MAX_DIGITS + 1;
    yajl_gen_free(g);

    res = photo_ctx_pg(ctx, job, photo_activity_insert, 9, params, &rc);
    if (res == NULL) {
        free(member);
        return rc;
    }

    if (PQntuples(res) == 0) {
        /* told once already */
        PQclear(res);
        free(member);
        return PHOTO_JOB_DONE;
    }

    /* the entry as stored: a replay's own JSON may differ (a new name) */
    elen = (size_t) PQgetlength(res, 0, 0);

    if (elen != len) {
        free(member);
        member = malloc(PHOTO_ID_MAX_DIGITS + 1 + elen + 1);
        if (member == NULL) {
            PQclear(res);
            return photo_job_retry(job, "out of memory");
        }
    }

    memcpy(member + PHOTO_ID_MAX_DIGITS + 1, PQgetvalue(res, 0, 0), elen);
    PQclear(res);

    photo_id_pad(member, a->id);
    member[PHOTO_ID_MAX_DIGITS] = PHOTO_ACTIVITY_SEP;

    photo_activity_list(&list, key, lparams, ids[1], cap, owner);

    rc = photo_marked_change(ctx, job, &list, PHOTO_MARKED_ADD, member,
                             PHOTO_ID_MAX_DIGITS + 1 + elen);

    free(member);

    return rc;
}


photo_job_rc_t
photo_activity_pull(photo_ctx_t *ctx, photo_job_t *job, int64_t owner,
    int64_t id)
{
    char            key[PHOTO_KEY_MAX], cap[16], owner_s[PHOTO_ID_BUF],
                    pad[PHOTO_ID_BUF];
    const char     *params[2];
    photo_marked_t  list;

    photo_activity_list(&list, key, params, owner_s, cap, owner);
    photo_id_pad(pad, id);

    return photo_marked_change(ctx, job, &list, PHOTO_MARKED_REM_ID, pad,
                               PHOTO_ID_MAX_DIGITS);
}
