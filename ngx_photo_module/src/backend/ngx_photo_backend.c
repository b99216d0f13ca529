
/*
 * Backend servers as the directives give them (see ngx_photo_backend.h).
 */

#include "ngx_photo_backend.h"


char *
ngx_photo_backend_servers(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_photo_backend_conf_t *bcf = conf;

    ngx_str_t   *value;
    ngx_uint_t   i;

    if (bcf->servers != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        if (ngx_photo_backend_add_server(cf, bcf, &value[i],
                                         (in_port_t) (uintptr_t) cmd->post)
            == NULL)
        {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


ngx_photo_server_t *
ngx_photo_backend_add_server(ngx_conf_t *cf, ngx_photo_backend_conf_t *bcf,
    ngx_str_t *value, in_port_t default_port)
{
    ngx_str_t           *name;
    ngx_url_t            u;
    ngx_photo_server_t  *server;

    name = cf->args->elts;

    ngx_memzero(&u, sizeof(ngx_url_t));

    u.url = *value;
    u.default_port = default_port;

    if (ngx_parse_url(cf->pool, &u) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "%s in \"%V\" of the \"%V\" directive",
                           u.err ? u.err : "invalid address", &u.url,
                           &name[0]);
        return NULL;
    }

    if (u.naddrs == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "no address for \"%V\" of the \"%V\" directive",
                           &u.url, &name[0]);
        return NULL;
    }

    if (bcf->servers == NULL) {
        bcf->servers = ngx_array_create(cf->pool, cf->args->nelts - 1,
                                        sizeof(ngx_photo_server_t));
        if (bcf->servers == NULL) {
            return NULL;
        }
    }

    server = ngx_array_push(bcf->servers);
    if (server == NULL) {
        return NULL;
    }

    server->name = *value;
    server->host = u.host;
    server->port = u.port;
    server->addr = &u.addrs[0];

    return server;
}


void *
ngx_photo_backend_used(ngx_cycle_t *cycle, ngx_module_t *module)
{
    ngx_photo_backend_conf_t  *bcf;

    /* no http block: no conf */
    bcf = ngx_http_cycle_get_module_main_conf(cycle, (*module));

    return (bcf && bcf->used) ? bcf : NULL;
}
