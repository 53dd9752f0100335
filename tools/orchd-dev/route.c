/* route.c - map a raw request path onto one of the four node-API endpoints.
 *
 * Pure string work so it can be tested without a server. Static segments win
 * over the {node_id} parameter (as in the real server's router), so
 * "DELETE /v2/nodes/register" is 405, not a deregistration of "register". */
#include "route.h"

#include "txt.h"

#include <stdlib.h>
#include <string.h>

static const char PREFIX[] = "/v2/nodes";

const char *od_kind_name(enum od_kind kind)
{
    static const char *const names[] = {"register", "heartbeat", "deregister", "list", "other"};
    return kind < OD_KIND_COUNT ? names[kind] : "other";
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *od_percent_decode(const char *in, size_t len)
{
    char *out = malloc(len + 1);
    size_t o = 0;
    if (!out)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c == '%') {
            if (len - i < 3 || hexval(in[i + 1]) < 0 || hexval(in[i + 2]) < 0)
                goto bad;
            c = (char)(hexval(in[i + 1]) * 16 + hexval(in[i + 2]));
            if (c == '\0')
                goto bad; /* cannot live in a C string; the real id never has one */
            i += 2;
        }
        out[o++] = c;
    }
    out[o] = '\0';
    if (!txt_utf8_valid(out, o))
        goto bad;
    return out;
bad:
    free(out);
    return NULL;
}

/* Is the path (without query) exactly "/v2/nodes" + SUFFIX? */
static int path_is(const char *path, size_t len, const char *suffix)
{
    size_t pl = sizeof PREFIX - 1, sl = strlen(suffix);
    return len == pl + sl && memcmp(path, PREFIX, pl) == 0 && memcmp(path + pl, suffix, sl) == 0;
}

/* Route "/v2/nodes/{seg}" and "/v2/nodes/{seg}/heartbeat". */
static int route_param(const char *method, const char *path, size_t len, od_route_t *out)
{
    size_t pl = sizeof PREFIX - 1;
    static const char HB[] = "/heartbeat";
    const char *seg = path + pl + 1;
    size_t seglen;
    const char *slash;
    int heartbeat;
    if (len <= pl + 1 || memcmp(path, PREFIX, pl) != 0 || path[pl] != '/')
        return 404;
    slash = memchr(seg, '/', len - pl - 1);
    seglen = slash ? (size_t)(slash - seg) : len - pl - 1;
    heartbeat = slash && (size_t)(path + len - slash) == sizeof HB - 1 &&
                memcmp(slash, HB, sizeof HB - 1) == 0;
    if (seglen == 0 || (slash && !heartbeat))
        return 404; /* empty id, or an extra un-encoded '/' */
    if (strcmp(method, heartbeat ? "POST" : "DELETE") != 0)
        return 405;
    out->node_id = od_percent_decode(seg, seglen);
    if (!out->node_id)
        return 400;
    out->kind = heartbeat ? OD_KIND_HEARTBEAT : OD_KIND_DEREGISTER;
    return 0;
}

/* A static path: the endpoint if the method fits, else 405. */
static int fixed(const char *method, const char *want, enum od_kind kind, od_route_t *out)
{
    if (strcmp(method, want) != 0)
        return 405;
    out->kind = kind;
    return 0;
}

int od_route_parse(const char *method, const char *raw_path, od_route_t *out)
{
    size_t len = strcspn(raw_path, "?#");
    out->kind = OD_KIND_OTHER;
    out->node_id = NULL;
    if (path_is(raw_path, len, ""))
        return fixed(method, "GET", OD_KIND_LIST, out);
    if (path_is(raw_path, len, "/register"))
        return fixed(method, "POST", OD_KIND_REGISTER, out);
    return route_param(method, raw_path, len, out);
}
