/* What the push clients share (see photo_push.h). */

#include "photo_push.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>


size_t
photo_push_buf_write(char *ptr, size_t size, size_t nmemb, void *data)
{
    char              *p;
    size_t             n;
    photo_push_buf_t  *b;

    b = data;
    n = size * nmemb;

    /* a larger answer is not one we need to read: keep its head */
    if (b->len + n > PHOTO_PUSH_BUF_MAX) {
        return n;
    }

    p = realloc(b->data, b->len + n + 1);
    if (p == NULL) {
        return 0;                       /* curl fails the transfer */
    }

    memcpy(p + b->len, ptr, n);
    b->data = p;
    b->len += n;
    b->data[b->len] = '\0';

    return n;
}


void
photo_push_json_string(const photo_push_buf_t *b, const char **path,
    char *out, size_t size)
{
    yajl_val  root, v;

    out[0] = '\0';

    if (b->data == NULL) {
        return;
    }

    root = yajl_tree_parse(b->data, NULL, 0);
    v = root ? yajl_tree_get(root, path, yajl_t_string) : NULL;

    if (v != NULL) {
        snprintf(out, size, "%s", YAJL_GET_STRING(v));
    }

    yajl_tree_free(root);
}


void
photo_push_gen_alert(yajl_gen g, const photo_push_msg_t *msg)
{
    yajl_gen_string(g, (const unsigned char *) "title", 5);
    yajl_gen_string(g, (const unsigned char *) msg->title,
                    strlen(msg->title));
    yajl_gen_string(g, (const unsigned char *) "body", 4);
    yajl_gen_string(g, (const unsigned char *) msg->body, strlen(msg->body));
}


unsigned char *
photo_push_gen_take(yajl_gen g, size_t *len)
{
    unsigned char        *out;
    const unsigned char  *buf;

    out = NULL;

    if (yajl_gen_get_buf(g, &buf, len) == yajl_gen_status_ok) {
        out = malloc(*len);
        if (out) {
            memcpy(out, buf, *len);
        }
    }

    yajl_gen_free(g);

    return out;
}
