/* validate.c - an independent implementation of the control plane's serde
 * request types (RegisterRequest, HeartbeatRequest and their parts).
 *
 * The types are written down as tables (struct schema) and checked by one
 * walker, so a field's rule lives in one place. json-c parses; this file
 * only adds what json-c cannot tell us: integers beyond 2^64-1 (json-c
 * clamps them silently), NaN/Infinity (json-c accepts them) and full UTF-8
 * validation. */
#include "validate.h"

#include "txt.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

enum ftype { F_STRING, F_U32, F_U64, F_BOOL, F_STRINGS, F_OBJECT, F_OBJECTS, F_TIMESTAMP };

struct schema;
struct field {
    const char *name;
    enum ftype type;
    int required;
    const struct schema *sub; /* for F_OBJECT / F_OBJECTS */
};
struct schema {
    const struct field *fields;
    size_t n;
};

#define SCHEMA(f)                                                                                  \
    {                                                                                              \
        f, sizeof f / sizeof f[0]                                                                  \
    }

static const struct field GPU_FIELDS[] = {
    {"device_id", F_U32, 1, NULL},
    {"name", F_STRING, 1, NULL},
    {"vram_total_bytes", F_U64, 1, NULL},
    {"compute_capability", F_STRING, 1, NULL},
};
static const struct schema GPU = SCHEMA(GPU_FIELDS);

static const struct field CAPS_FIELDS[] = {
    {"gpus", F_OBJECTS, 1, &GPU},
    {"cpu_cores", F_U32, 0, NULL},
    {"ram_total_bytes", F_U64, 0, NULL},
};
static const struct schema CAPS = SCHEMA(CAPS_FIELDS);

static const struct field REGISTER_FIELDS[] = {
    {"node_id", F_STRING, 1, NULL},       {"machine_id", F_STRING, 1, NULL},
    {"address", F_STRING, 1, NULL},       {"pools", F_STRINGS, 1, NULL},
    {"capabilities", F_OBJECT, 1, &CAPS}, {"version", F_STRING, 0, NULL},
};
static const struct schema REGISTER = SCHEMA(REGISTER_FIELDS);

static const struct field POOL_FIELDS[] = {
    {"pool_id", F_STRING, 1, NULL},  {"ready", F_BOOL, 1, NULL},
    {"draining", F_BOOL, 1, NULL},   {"slots_free", F_U32, 1, NULL},
    {"slots_total", F_U32, 1, NULL}, {"vram_free_bytes", F_U64, 1, NULL},
    {"engine", F_STRING, 0, NULL},
};
static const struct schema POOL = SCHEMA(POOL_FIELDS);

static const struct field HEARTBEAT_FIELDS[] = {
    {"timestamp", F_TIMESTAMP, 1, NULL},
    {"pools", F_OBJECTS, 1, &POOL},
};
static const struct schema HEARTBEAT = SCHEMA(HEARTBEAT_FIELDS);

struct walk {
    int strict_unknown;
    int oversized; /* the body holds an integer literal > 2^64-1 somewhere */
    od_verdict_t *v;
};

static void fail(od_verdict_t *v, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    v->status = status;
    vsnprintf(v->message, sizeof v->message, fmt, ap);
    va_end(ap);
}

int od_validate_content_type(const char *ct)
{
    size_t n;
    const char *semi, *slash;
    if (!ct)
        return 0;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    semi = strchr(ct, ';');
    n = semi ? (size_t)(semi - ct) : strlen(ct);
    while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    if (n == 16 && strncasecmp(ct, "application/json", 16) == 0)
        return 1;
    slash = memchr(ct, '/', n);
    return slash && slash - ct == 11 && strncasecmp(ct, "application", 11) == 0 && n >= 17 &&
           strncasecmp(ct + n - 5, "+json", 5) == 0;
}

/* Scan for an integer literal (outside strings) above 2^64-1. json-c would
 * clamp it to 2^64-1; serde reads it as a float, which no integer field
 * accepts. Lexing only: digits runs that are not part of a fraction or an
 * exponent. */
static int has_oversized_integer(const char *s, size_t len)
{
    static const char MAX[] = "18446744073709551615";
    int in_str = 0;
    for (size_t i = 0; i < len; i++) {
        size_t j = i;
        if (in_str) {
            if (s[i] == '\\')
                i++;
            else if (s[i] == '"')
                in_str = 0;
            continue;
        }
        if (s[i] == '"') {
            in_str = 1;
            continue;
        }
        if (!isdigit((unsigned char)s[i]))
            continue;
        while (j < len && isdigit((unsigned char)s[j]))
            j++;
        if ((i == 0 || !strchr(".eE+", s[i - 1])) && (j == len || !strchr(".eE", s[j])) &&
            (j - i > 20 || (j - i == 20 && memcmp(s + i, MAX, 20) > 0)))
            return 1;
        i = j - 1;
    }
    return 0;
}

/* NaN and Infinity are not JSON; json-c accepts them even in strict mode. */
static int has_non_finite(json_object *o)
{
    switch (json_object_get_type(o)) {
    case json_type_double: return !isfinite(json_object_get_double(o));
    case json_type_array:
        for (size_t i = 0; i < json_object_array_length(o); i++)
            if (has_non_finite(json_object_array_get_idx(o, i)))
                return 1;
        return 0;
    case json_type_object: {
        json_object_object_foreach(o, k, val)
        {
            (void)k;
            if (has_non_finite(val))
                return 1;
        }
        return 0;
    }
    default: return 0;
    }
}

static int only_whitespace(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!strchr(" \t\r\n", s[i]))
            return 0;
    return 1;
}

json_object *od_validate_parse(const char *body, size_t len, od_verdict_t *v)
{
    json_tokener *tok;
    json_object *obj;
    enum json_tokener_error err;
    memset(v, 0, sizeof *v);
    if (!txt_utf8_valid(body, len)) {
        fail(v, 400, "body is not valid UTF-8");
        return NULL;
    }
    tok = json_tokener_new_ex(128); /* serde_json's recursion limit */
    if (!tok) {
        fail(v, 400, "out of memory");
        return NULL;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    obj = json_tokener_parse_ex(tok, body, (int)len);
    err = json_tokener_get_error(tok);
    if (!obj && err == json_tokener_success)
        fail(v, 400, "body is JSON null, expected an object");
    else if (!obj)
        fail(v, 400, "JSON syntax error: %s",
             err == json_tokener_continue ? "unexpected end of input"
                                          : json_tokener_error_desc(err));
    else if (!only_whitespace(body + json_tokener_get_parse_end(tok),
                              len - json_tokener_get_parse_end(tok)))
        fail(v, 400, "JSON syntax error: trailing characters after the object");
    else if (has_non_finite(obj))
        fail(v, 400, "JSON syntax error: NaN/Infinity are not JSON numbers");
    else if (!json_object_is_type(obj, json_type_object))
        fail(v, 400, "body is a JSON %s, expected an object",
             json_type_to_name(json_object_get_type(obj)));
    json_tokener_free(tok);
    if (v->status) {
        json_object_put(obj);
        return NULL;
    }
    return obj;
}

/* Words for what was found instead of the expected type. */
static const char *describe(json_object *o)
{
    switch (json_object_get_type(o)) {
    case json_type_null: return "null";
    case json_type_boolean: return "a boolean";
    case json_type_double: return "a number with a fraction or exponent";
    case json_type_int: return json_object_get_int64(o) < 0 ? "a negative integer" : "an integer";
    case json_type_string: return "a string";
    case json_type_array: return "an array";
    default: return "an object";
    }
}

/* A JSON integer in [0, max], or -1. */
static int get_uint(json_object *o, uint64_t max, int oversized, uint64_t *out)
{
    int64_t i;
    uint64_t u;
    if (!json_object_is_type(o, json_type_int))
        return -1;
    i = json_object_get_int64(o);
    if (i < 0)
        return -1;
    /* json-c stores 2^63..2^64-1 as uint64; get_int64 saturates there. */
    u = i == INT64_MAX ? json_object_get_uint64(o) : (uint64_t)i;
    if ((u == UINT64_MAX && oversized) || u > max)
        return -1;
    *out = u;
    return 0;
}

static json_object *check_object(json_object *in, const struct schema *s, const char *path,
                                 struct walk *w);

static json_object *check_uint(json_object *in, uint64_t max, const char *tname, const char *path,
                               struct walk *w)
{
    uint64_t u;
    if (get_uint(in, max, w->oversized, &u) == 0)
        return max == UINT32_MAX ? json_object_new_int64((int64_t)u) : json_object_new_uint64(u);
    if (json_object_is_type(in, json_type_int) && json_object_get_int64(in) >= 0)
        fail(w->v, 422, "%s: integer out of range for %s", path, tname);
    else
        fail(w->v, 422, "%s: expected %s (a non-negative JSON integer), got %s", path, tname,
             describe(in));
    return NULL;
}

static json_object *check_array(json_object *in, const struct field *f, const char *path,
                                struct walk *w)
{
    json_object *out = json_object_new_array();
    char sub[512];
    for (size_t i = 0; out && i < json_object_array_length(in); i++) {
        json_object *e = json_object_array_get_idx(in, i), *ne = NULL;
        snprintf(sub, sizeof sub, "%.480s[%zu]", path, i);
        if (f->type == F_OBJECTS)
            ne = check_object(e, f->sub, sub, w);
        else if (json_object_is_type(e, json_type_string))
            ne = json_object_new_string_len(json_object_get_string(e),
                                            json_object_get_string_len(e));
        else
            fail(w->v, 422, "%s: expected a string, got %s", sub, describe(e));
        if (!ne) {
            json_object_put(out);
            return NULL;
        }
        json_object_array_add(out, ne);
    }
    return out;
}

/* One present, non-null value against its field rule. */
static json_object *check_value(json_object *in, const struct field *f, const char *path,
                                struct walk *w)
{
    switch (f->type) {
    case F_U32: return check_uint(in, UINT32_MAX, "u32", path, w);
    case F_U64: return check_uint(in, UINT64_MAX, "u64", path, w);
    case F_BOOL:
        if (json_object_is_type(in, json_type_boolean))
            return json_object_new_boolean(json_object_get_boolean(in));
        fail(w->v, 422, "%s: expected a boolean, got %s", path, describe(in));
        return NULL;
    case F_OBJECT: return check_object(in, f->sub, path, w);
    case F_STRINGS:
    case F_OBJECTS:
        if (json_object_is_type(in, json_type_array))
            return check_array(in, f, path, w);
        fail(w->v, 422, "%s: expected an array, got %s", path, describe(in));
        return NULL;
    case F_STRING:
    case F_TIMESTAMP: break;
    }
    if (!json_object_is_type(in, json_type_string)) {
        fail(w->v, 422, "%s: expected a string, got %s", path, describe(in));
        return NULL;
    }
    if (f->type == F_TIMESTAMP && !od_validate_rfc3339(json_object_get_string(in))) {
        fail(w->v, 422, "%s: not an RFC 3339 date-time", path);
        return NULL;
    }
    return json_object_new_string_len(json_object_get_string(in), json_object_get_string_len(in));
}

static const struct field *find_field(const struct schema *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->fields[i].name, name) == 0)
            return &s->fields[i];
    return NULL;
}

/* Under --strict-unknown, the first key the schema does not know. */
static const char *unknown_key(json_object *in, const struct schema *s)
{
    json_object_object_foreach(in, key, val)
    {
        (void)val;
        if (!find_field(s, key))
            return key;
    }
    return NULL;
}

static void join(char *out, size_t cap, const char *path, const char *name)
{
    snprintf(out, cap, "%s%s%s", path, *path ? "." : "", name);
}

static json_object *check_object(json_object *in, const struct schema *s, const char *path,
                                 struct walk *w)
{
    json_object *out;
    char sub[512];
    const char *unknown;
    if (!json_object_is_type(in, json_type_object)) {
        fail(w->v, 422, "%s: expected an object, got %s", *path ? path : "body", describe(in));
        return NULL;
    }
    if (w->strict_unknown && (unknown = unknown_key(in, s)) != NULL) {
        join(sub, sizeof sub, path, unknown);
        fail(w->v, 422, "%s: unknown field", sub);
        return NULL;
    }
    out = json_object_new_object();
    for (size_t i = 0; out && i < s->n; i++) {
        const struct field *f = &s->fields[i];
        json_object *val = NULL, *norm = NULL;
        int present = json_object_object_get_ex(in, f->name, &val);
        join(sub, sizeof sub, path, f->name);
        if (!present || val == NULL) {
            if (f->required) {
                fail(w->v, 422,
                     present ? "%s: expected a value, got null" : "%s: missing required field",
                     sub);
                json_object_put(out);
                return NULL;
            }
        } else if (!(norm = check_value(val, f, sub, w))) {
            json_object_put(out);
            return NULL;
        }
        json_object_object_add(out, f->name, norm);
    }
    return out;
}

static json_object *validate(const struct schema *s, const char *body, size_t len,
                             int strict_unknown, od_verdict_t *v)
{
    struct walk w = {strict_unknown, has_oversized_integer(body, len), v};
    json_object *in = od_validate_parse(body, len, v), *out;
    if (!in)
        return NULL;
    out = check_object(in, s, "", &w);
    json_object_put(in);
    return out;
}

json_object *od_validate_register(const char *body, size_t len, int strict_unknown, od_verdict_t *v)
{
    return validate(&REGISTER, body, len, strict_unknown, v);
}

json_object *od_validate_heartbeat(const char *body, size_t len, int strict_unknown,
                                   od_verdict_t *v)
{
    return validate(&HEARTBEAT, body, len, strict_unknown, v);
}

/* N decimal digits at s, in [lo, hi]; advances s. */
static int digits(const char **s, int n, int lo, int hi)
{
    int val = 0;
    for (int i = 0; i < n; i++, (*s)++) {
        if (!isdigit((unsigned char)**s))
            return 0;
        val = val * 10 + (**s - '0');
    }
    return val >= lo && val <= hi;
}

static int expect(const char **s, const char *set)
{
    if (**s == '\0' || !strchr(set, **s))
        return 0;
    (*s)++;
    return 1;
}

int od_validate_rfc3339(const char *s)
{
    if (!(digits(&s, 4, 0, 9999) && expect(&s, "-") && digits(&s, 2, 1, 12) && expect(&s, "-") &&
          digits(&s, 2, 1, 31) && expect(&s, "Tt") && digits(&s, 2, 0, 23) && expect(&s, ":") &&
          digits(&s, 2, 0, 59) && expect(&s, ":") && digits(&s, 2, 0, 60)))
        return 0;
    if (*s == '.') {
        s++;
        if (!isdigit((unsigned char)*s))
            return 0;
        while (isdigit((unsigned char)*s))
            s++;
    }
    if (expect(&s, "Zz"))
        return *s == '\0';
    return expect(&s, "+-") && digits(&s, 2, 0, 23) && expect(&s, ":") && digits(&s, 2, 0, 59) &&
           *s == '\0';
}
