/* validate.h - request bodies -> normalized records, with the real server's
 * strict (serde) typing. Pure: no I/O, no clock, no globals.
 *
 * A "normalized record" is a new json-c object holding exactly the
 * documented fields (absent optional fields as null, integers as integers),
 * so the registry never sees anything the real server would have rejected. */
#ifndef OD_VALIDATE_H
#define OD_VALIDATE_H

#include <json-c/json.h>
#include <stddef.h>

typedef struct od_verdict {
    int status;        /* 0 = valid; else 400 / 415 / 422 */
    char message[256]; /* which field is wrong and why; "" when valid */
} od_verdict_t;

/* 1 when a Content-Type header value names JSON: "application/json" with
 * any parameters (charset=...), or an "application/...+json" subtype, case
 * insensitively (the real server's rule). NULL -> 0. */
int od_validate_content_type(const char *content_type);

/* Parse BODY[0..len) as one JSON object: invalid UTF-8, syntax errors,
 * trailing garbage, NaN/Infinity and non-objects give NULL with status 400.
 * Returns a new reference. */
json_object *od_validate_parse(const char *body, size_t len, od_verdict_t *v);

/* RegisterRequest / HeartbeatRequest. NULL with v->status 400 or 422 on
 * error; else a new normalized object. STRICT_UNKNOWN makes unknown fields
 * (at any depth) a 422. */
json_object *od_validate_register(const char *body, size_t len, int strict_unknown,
                                  od_verdict_t *v);
json_object *od_validate_heartbeat(const char *body, size_t len, int strict_unknown,
                                   od_verdict_t *v);

/* 1 when S is an RFC 3339 date-time (YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM)). */
int od_validate_rfc3339(const char *s);

#endif
