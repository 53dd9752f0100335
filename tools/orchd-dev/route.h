/* route.h - which node-API endpoint a request is for (pure, no MHD).
 *
 * The router works on the raw, still percent-encoded path so that a node id
 * containing "%2F" stays one segment, and decodes that one segment itself. */
#ifndef OD_ROUTE_H
#define OD_ROUTE_H

#include <stddef.h>

enum od_kind {
    OD_KIND_REGISTER,
    OD_KIND_HEARTBEAT,
    OD_KIND_DEREGISTER,
    OD_KIND_LIST,
    OD_KIND_OTHER, /* no route, or the wrong method */
    OD_KIND_COUNT
};

typedef struct od_route {
    enum od_kind kind;
    char *node_id; /* decoded {node_id}, malloc'd (caller frees); NULL if none */
} od_route_t;

/* Match METHOD + RAW_PATH (query string allowed, ignored).
 * Returns 0 when an endpoint matched, else the HTTP status to answer:
 * 404 (no such path), 405 (path known, method not), 400 (the node id
 * segment is not valid percent-encoded UTF-8). out->node_id is NULL unless
 * 0 is returned for heartbeat/deregister. */
int od_route_parse(const char *method, const char *raw_path, od_route_t *out);

/* "register", "heartbeat", "deregister", "list", "other". */
const char *od_kind_name(enum od_kind kind);

/* Decode %HH escapes of IN[0..len) into a new NUL-terminated string.
 * '+' is not a space in a path. Returns NULL on a malformed escape, an
 * encoded NUL, or a result that is not valid UTF-8. */
char *od_percent_decode(const char *in, size_t len);

#endif
