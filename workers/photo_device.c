/*
 * photo_device: a push token for a user's device (background job, from
 * nginx).  A token names one app install: when another user signs in on
 * that device, the token moves to them (upsert on platform + token).
 */

#include "photo_worker.h"
#include "photo_id.h"
#include "photo_log.h"

#include <inttypes.h>


#define PHOTO_DEVICE_TOKEN_MAX  4096    /* the table's check */


static const char  *photo_device_platforms[] = { "ios", "android", NULL };


static photo_job_rc_t photo_device(photo_ctx_t *ctx, photo_job_t *job);


static const photo_worker_function_t  photo_device_functions[] = {
    { .name = PHOTO_JOB_DEVICE, .handler = photo_device,
      .kind = PHOTO_JOB_BACKGROUND },
    { .name = NULL }
};


int
main(int argc, char **argv)
{
    return photo_worker_main(argc, argv, "photo_device",
                             "Records push tokens: (platform, token) belongs "
                             "to the user who signed in last.",
                             photo_device_functions);
}


static photo_job_rc_t
photo_device(photo_ctx_t *ctx, photo_job_t *job)
{
    int              platform;
    char             user[PHOTO_ID_BUF];
    int64_t          user_id;
    PGresult        *res;
    const char      *unique, *token, *params[3];
    photo_job_rc_t   rc;

    /* an unknown user is a foreign key violation: a dead letter */
    static const char  *upsert =
        "insert into device_tokens (user_id, platform, token)"
        " values ($1, $2, $3)"
        " on conflict (platform, token) do update"
        " set user_id = excluded.user_id, updated_at = now()";

    if (photo_job_string(job, PHOTO_JOB_F_UNIQUE, 1, 2048, &unique, NULL)
        || photo_job_id(job, PHOTO_JOB_F_USER_ID, &user_id)
        || photo_job_oneof(job, PHOTO_JOB_F_PLATFORM, photo_device_platforms,
                           &platform)
        || photo_job_string(job, PHOTO_JOB_F_TOKEN, 1,
                            PHOTO_DEVICE_TOKEN_MAX, &token, NULL))
    {
        return PHOTO_JOB_DEAD;
    }

    photo_id_format(user, user_id);
    params[0] = user;
    params[1] = photo_device_platforms[platform];
    params[2] = token;

    res = photo_ctx_pg(ctx, job, upsert, 3, params, &rc);
    if (res == NULL) {
        return rc;
    }

    PQclear(res);

    photo_log_info("user %s: %s device token recorded", user,
                   params[1]);

    return PHOTO_JOB_DONE;
}
