/*
 * nr_config.c - JSON config text + the environment -> one validated
 * nr_config_t. Pure apart from reading the files the config names (token, CA,
 * client certificate) and asking for the host name.
 *
 * Where a value comes from, highest first:
 *   1. config_json (init()'s text),
 *   2. defaults_json (the deployment's baked-in defaults),
 *   3. pool-managerd's environment variables (protocol.md's names),
 *   4. the documented defaults.
 * Two groups of keys are merged as a group, since mixing layers inside them
 * makes no sense: {heartbeat_interval_ms, heartbeat_interval_secs} and
 * {api_token, api_token_file}. The first layer that gives any key of a group
 * gives the whole group (config {"api_token":...} replaces a default
 * api_token_file instead of clashing with it).
 *
 * Environment variables set to "" count as unset, like a missing key. No
 * proxy variable (http_proxy, HTTPS_PROXY, ALL_PROXY, NO_PROXY) is ever
 * read: only the "proxy" key selects a proxy.
 *
 * Both documents are refused when an object in them repeats a key (json-c
 * would keep the last one without a word).
 *
 * Every error is one line starting "config: " and naming the field (and the
 * layer when it is not config_json). Values are never echoed: they may hold a
 * secret (the token, credentials in a URL) or break the line. File paths are
 * echoed, with control characters dropped.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "nr_config.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nr_records.h"
#include "txt.h"

#define NR_TOKEN_MAX 4096
#define NR_TOKEN_FILE_MAX ((size_t)64 * 1024)
#define NR_DEFAULT_INTERVAL_MS 10000u
#define NR_INTERVAL_MAX_SECS (NR_INTERVAL_MAX_MS / 1000u)
#define NR_REQUEST_TIMEOUT_DEFAULT_MS 5000u
#define NR_CONNECT_TIMEOUT_DEFAULT_MS 2000u
#define NR_DEREGISTER_TIMEOUT_DEFAULT_MS 2000u
#define NR_RETRY_BASE_DEFAULT_MS 250u
#define NR_RETRY_MAX_DEFAULT_MS 10000u
#define NR_KEY_FILE_MAX ((size_t)1024 * 1024)

/* Derived defaults stay above the floors: request = min(interval, 5000),
 * connect = min(request, 2000). */
_Static_assert(NR_REQUEST_TIMEOUT_MIN_MS <= NR_HEARTBEAT_INTERVAL_MIN_MS &&
                   NR_REQUEST_TIMEOUT_MIN_MS <= NR_REQUEST_TIMEOUT_DEFAULT_MS,
               "the derived request timeout never falls below its floor");
_Static_assert(NR_CONNECT_TIMEOUT_MIN_MS <= NR_REQUEST_TIMEOUT_MIN_MS &&
                   NR_CONNECT_TIMEOUT_MIN_MS <= NR_CONNECT_TIMEOUT_DEFAULT_MS,
               "the derived connect timeout never falls below its floor");
_Static_assert(NR_DEREGISTER_TIMEOUT_MIN_MS <= NR_DEREGISTER_TIMEOUT_DEFAULT_MS &&
                   NR_RETRY_BASE_MIN_MS <= NR_RETRY_BASE_DEFAULT_MS,
               "defaults respect the floors");

#define NR_FROM_DEFAULTS " (in the built-in defaults)"
#define NR_TOKEN_RULE "must be 1 to 4096 visible ASCII characters (0x21..0x7e)"

static const char *const known_keys[] = {"node_id",
                                         "machine_id",
                                         "address",
                                         "orchestratord_url",
                                         "pools",
                                         "capabilities",
                                         "heartbeat_interval_secs",
                                         "heartbeat_interval_ms",
                                         "api_token",
                                         "api_token_file",
                                         "request_timeout_ms",
                                         "connect_timeout_ms",
                                         "deregister_timeout_ms",
                                         "retry_base_ms",
                                         "retry_max_ms",
                                         "ca_file",
                                         "client_cert",
                                         "client_key",
                                         "client_key_password_file",
                                         "tls_insecure",
                                         "proxy",
                                         NULL};

static const char *const capability_keys[] = {"gpus", "cpu_cores", "ram_total_bytes", NULL};
static const char *const gpu_keys[] = {"device_id", "name", "vram_total_bytes",
                                       "compute_capability", NULL};

typedef struct parse_ctx {
    json_object *cfg; /* config_json's object */
    json_object *def; /* defaults_json's object, or NULL */
    nr_env_lookup_fn env;
    void *env_ctx;
    char *err;
    size_t err_size;
} parse_ctx_t;

static int fail(parse_ctx_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Writes "config: <message>" into the caller's buffer; returns -1. */
static int fail(parse_ctx_t *p, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (p->err == NULL || p->err_size == 0)
        return -1;
    n = snprintf(p->err, p->err_size, "config: ");
    if (n < 0 || (size_t)n >= p->err_size)
        return -1;
    va_start(ap, fmt);
    vsnprintf(p->err + n, p->err_size - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

/* A copy of s fit to quote in an error line: at most 200 bytes of valid
 * UTF-8, each C0 control or DEL shown as '?' (so a stray newline in a path
 * stays visible without breaking the line). */
static const char *shown(const char *s, char *buf, size_t size)
{
    char tmp[256];
    size_t n = s != NULL ? strnlen(s, sizeof(tmp) - 1) : 0;

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        tmp[i] = (c < 0x20 || c == 0x7F) ? '?' : (char)c;
    }
    txt_utf8_sanitize(tmp, n, buf, size < 200 ? size : 200);
    return buf;
}

static void copy_error(char *dst, size_t dst_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void copy_error(char *dst, size_t dst_size, const char *fmt, ...)
{
    va_list ap;

    if (dst == NULL || dst_size == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(dst, dst_size, fmt, ap);
    va_end(ap);
}

/* An environment variable; "" and a missing lookup count as unset. */
static const char *env_get(parse_ctx_t *p, const char *name)
{
    const char *v = p->env != NULL ? p->env(name, p->env_ctx) : NULL;
    return v != NULL && v[0] != '\0' ? v : NULL;
}

/* Finds key in config, then defaults. Returns 1 when present (*v may be NULL
 * for a JSON null) and sets *where to "" or NR_FROM_DEFAULTS. */
static int pick(parse_ctx_t *p, const char *key, json_object **v, const char **where)
{
    *where = "";
    if (json_object_object_get_ex(p->cfg, key, v))
        return 1;
    *where = NR_FROM_DEFAULTS;
    if (p->def != NULL && json_object_object_get_ex(p->def, key, v))
        return 1;
    *v = NULL;
    return 0;
}

/* The document (config or defaults) that gives any key of a group, or NULL. */
static json_object *pick_layer(parse_ctx_t *p, const char *k1, const char *k2, const char **where)
{
    *where = "";
    if (json_object_object_get_ex(p->cfg, k1, NULL) || json_object_object_get_ex(p->cfg, k2, NULL))
        return p->cfg;
    *where = NR_FROM_DEFAULTS;
    if (p->def != NULL && (json_object_object_get_ex(p->def, k1, NULL) ||
                           json_object_object_get_ex(p->def, k2, NULL)))
        return p->def;
    return NULL;
}

/* ---------------------------------------------------------------------- */
/* Documents                                                              */
/* ---------------------------------------------------------------------- */

/* Decodes one quoted key with json-c and adds it to set. Returns 1 when set
 * already holds it (copied into dup), 0 when added, -1 out of memory. Keys
 * compare as json-c's object keys do: as C strings once decoded. */
static int add_key(struct json_tokener *tok, json_object *set, const char *quoted, size_t n,
                   char *dup, size_t dup_size)
{
    json_object *k;
    const char *key;
    int r = 0;

    json_tokener_reset(tok);
    k = json_tokener_parse_ex(tok, quoted, (int)n);
    if (k == NULL || !json_object_is_type(k, json_type_string)) {
        json_object_put(k);
        return 0; /* not reached: json-c accepted this text */
    }
    key = json_object_get_string(k);
    if (json_object_object_get_ex(set, key, NULL)) {
        shown(key, dup, dup_size);
        r = 1;
    } else if (json_object_object_add(set, key, NULL) != 0) {
        r = -1;
    }
    json_object_put(k);
    return r;
}

#define NR_SCAN_DEPTH 64 /* json-c itself refuses nesting deeper than 32 */

/*
 * A duplicate check, not a parser: json-c parses. Run only on text json-c
 * accepted (strict), it follows just enough of the syntax to find object
 * keys: inside or outside a string (with escapes), the stack of open
 * objects and arrays, and whether the next string of an object is a key
 * (after '{' or ','). Each object's keys go into a json-c object used as a
 * set. Returns 1 with the key in dup, 0 when no key repeats, -1 no memory.
 */
static int find_duplicate_key(const char *text, size_t len, char *dup, size_t dup_size)
{
    json_object *keys[NR_SCAN_DEPTH]; /* an open object's keys; NULL for an array */
    int want_key[NR_SCAN_DEPTH];
    struct json_tokener *tok = json_tokener_new();
    size_t depth = 0;
    int r = 0;

    if (tok == NULL)
        return -1;
    for (size_t i = 0; i < len && r == 0; i++) {
        char c = text[i];
        if (c == '"') {
            size_t start = i;
            for (i++; i < len && text[i] != '"'; i++)
                i += text[i] == '\\'; /* skip the escaped character */
            if (i >= len)
                break;
            if (depth > 0 && keys[depth - 1] != NULL && want_key[depth - 1]) {
                want_key[depth - 1] = 0;
                r = add_key(tok, keys[depth - 1], text + start, i + 1 - start, dup, dup_size);
            }
        } else if (c == '{' || c == '[') {
            if (depth == NR_SCAN_DEPTH)
                break;
            keys[depth] = c == '{' ? json_object_new_object() : NULL;
            want_key[depth] = c == '{';
            if (c == '{' && keys[depth] == NULL)
                r = -1;
            else
                depth++;
        } else if ((c == '}' || c == ']') && depth > 0) {
            json_object_put(keys[--depth]);
        } else if (c == ',' && depth > 0) {
            want_key[depth - 1] = 1; /* read only in an object */
        }
    }
    while (depth > 0)
        json_object_put(keys[--depth]);
    json_tokener_free(tok);
    return r;
}

/* Parses text as one JSON object (strict, UTF-8 checked, nothing after it,
 * no key repeated in any object). where: "" or NR_FROM_DEFAULTS. */
static int parse_document(parse_ctx_t *p, const char *text, const char *what, const char *where,
                          json_object **out)
{
    char dup[256];
    int r;

    struct json_tokener *tok;
    json_object *obj;
    enum json_tokener_error e;
    size_t len = text != NULL ? strlen(text) : 0;

    *out = NULL;
    if (len == 0)
        return fail(p, "%s is empty", what);
    if (len > INT32_MAX)
        return fail(p, "%s is too long", what);
    tok = json_tokener_new();
    if (tok == NULL)
        return fail(p, "out of memory");
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    obj = json_tokener_parse_ex(tok, text, (int)len);
    e = json_tokener_get_error(tok);
    if (obj == NULL || e != json_tokener_success) {
        size_t at = json_tokener_get_parse_end(tok);
        json_tokener_free(tok);
        json_object_put(obj);
        if (e == json_tokener_continue || e == json_tokener_success)
            return fail(p, "%s is not a complete JSON object", what);
        return fail(p, "%s is not valid JSON (%s at byte %zu)", what, json_tokener_error_desc(e),
                    at);
    }
    json_tokener_free(tok);
    if (!json_object_is_type(obj, json_type_object)) {
        json_object_put(obj);
        return fail(p, "%s must be a JSON object", what);
    }
    r = find_duplicate_key(text, len, dup, sizeof(dup));
    if (r != 0) {
        json_object_put(obj);
        return r < 0 ? fail(p, "out of memory") : fail(p, "duplicate key \"%s\"%s", dup, where);
    }
    *out = obj;
    return 0;
}

static int key_known(const char *const *keys, const char *key)
{
    for (size_t i = 0; keys[i] != NULL; i++) {
        if (strcmp(keys[i], key) == 0)
            return 1;
    }
    return 0;
}

#define SUGGEST_MAX_LEN 64 /* longer keys get no did-you-mean */

/* Edit distance between a and b (insert, delete, substitute, swap two
 * neighbours: optimal string alignment), both at most SUGGEST_MAX_LEN. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t rows[3][SUGGEST_MAX_LEN + 1]; /* rows i-2, i-1 and i, rotating */

    for (size_t j = 0; j <= lb; j++)
        rows[0][j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t *cur = rows[i % 3], *prev = rows[(i - 1) % 3], *prev2 = rows[(i + 1) % 3];
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            size_t best = sub < del ? sub : del;
            best = best < ins ? best : ins;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                prev2[j - 2] + 1 < best)
                best = prev2[j - 2] + 1;
            cur[j] = best;
        }
    }
    return rows[la % 3][lb];
}

/* The known key closest to key, when it is close enough to be a typo
 * (at most a third of key's length in edits, at least 1, at most 3);
 * NULL otherwise. */
static const char *closest_key(const char *const *keys, const char *key)
{
    size_t len = strlen(key), limit = len / 3, best = SIZE_MAX;
    const char *found = NULL;

    limit = limit < 1 ? 1 : limit > 3 ? 3 : limit;
    if (len > SUGGEST_MAX_LEN)
        return NULL;
    for (size_t i = 0; keys[i] != NULL; i++) {
        size_t d = strlen(keys[i]) <= SUGGEST_MAX_LEN ? edit_distance(key, keys[i]) : SIZE_MAX;
        if (d <= limit && d < best) {
            best = d;
            found = keys[i];
        }
    }
    return found;
}

/* Refuses the first key of obj not in keys, suggesting a close known key;
 * prefix names the parent. */
static int check_keys(parse_ctx_t *p, json_object *obj, const char *const *keys, const char *prefix,
                      const char *where)
{
    char buf[128];

    json_object_object_foreach(obj, key, val)
    {
        (void)val;
        if (!key_known(keys, key)) {
            const char *near = closest_key(keys, key);
            if (near == NULL)
                return fail(p, "unknown key \"%s%s\"%s", prefix, shown(key, buf, sizeof(buf)),
                            where);
            return fail(p, "unknown key \"%s%s\"%s (did you mean \"%s%s\"?)", prefix,
                        shown(key, buf, sizeof(buf)), where, prefix, near);
        }
    }
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Values                                                                 */
/* ---------------------------------------------------------------------- */

/* The string in v, with its length; refuses other types and embedded NULs. */
static int json_string(parse_ctx_t *p, json_object *v, const char *field, const char *where,
                       const char **s, size_t *len)
{
    *s = "";
    *len = 0;
    if (v == NULL || !json_object_is_type(v, json_type_string))
        return fail(p, "%s%s must be a string", field, where);
    *s = json_object_get_string(v);
    *len = (size_t)json_object_get_string_len(v);
    if (strlen(*s) != *len)
        return fail(p, "%s%s must not contain a NUL character", field, where);
    return 0;
}

/* A non-negative JSON integer in [min, max]. */
static int json_uint(parse_ctx_t *p, json_object *v, const char *field, const char *where,
                     uint64_t min, uint64_t max, uint64_t *out)
{
    uint64_t u;

    if (v == NULL || !json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0)
        goto bad;
    u = json_object_get_uint64(v);
    if (u < min || u > max)
        goto bad;
    *out = u;
    return 0;
bad:
    return fail(p, "%s%s must be an integer from %llu to %llu", field, where,
                (unsigned long long)min, (unsigned long long)max);
}

/* An environment value as strict decimal: digits only, in [min, max]. */
static int env_uint(parse_ctx_t *p, const char *name, const char *s, uint64_t min, uint64_t max,
                    uint64_t *out)
{
    uint64_t v = 0;
    size_t i;

    for (i = 0; s[i] >= '0' && s[i] <= '9'; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            goto bad;
        v = v * 10 + d;
    }
    if (i == 0 || s[i] != '\0' || v < min || v > max)
        goto bad;
    *out = v;
    return 0;
bad:
    return fail(p, "%s must be a decimal integer from %llu to %llu", name, (unsigned long long)min,
                (unsigned long long)max);
}

/* An optional integer key with a default. */
static int opt_uint(parse_ctx_t *p, const char *key, uint64_t min, uint64_t max, uint64_t dflt,
                    uint32_t *out)
{
    json_object *v;
    const char *where;
    uint64_t u = dflt;

    if (pick(p, key, &v, &where) && json_uint(p, v, key, where, min, max, &u) != 0)
        return -1;
    *out = (uint32_t)u;
    return 0;
}

/* Refuses a string for problem (from txt_identity_problem / txt_text_problem). */
static int string_ok(parse_ctx_t *p, const char *label, const char *problem, size_t len, size_t max)
{
    if (problem == NULL)
        return 0;
    if (len > max)
        return fail(p, "%s is too long (at most %zu bytes)", label, max);
    return fail(p, "%s %s", label, problem);
}

/* Identities (node, machine and pool ids) also refuse C1 controls and U+FFFD. */
static int identity_ok(parse_ctx_t *p, const char *label, const char *s, size_t len, size_t max)
{
    return string_ok(p, label, txt_identity_problem(s, len, max), len, max);
}

/* A string setting from config, defaults or the environment. Returns 1 and
 * sets *s / *len / label (naming the field and its layer), 0 when nobody
 * gives it, -1 on a type error. */
static int resolve_string(parse_ctx_t *p, const char *key, const char *env_name, const char **s,
                          size_t *len, char *label, size_t label_size)
{
    json_object *v;
    const char *where;

    *s = NULL;
    *len = 0;
    if (pick(p, key, &v, &where)) {
        snprintf(label, label_size, "%s%s", key, where);
        return json_string(p, v, key, where, s, len) == 0 ? 1 : -1;
    }
    *s = env_name != NULL ? env_get(p, env_name) : NULL;
    if (*s == NULL)
        return 0;
    *len = strlen(*s);
    snprintf(label, label_size, "%s (from %s)", key, env_name);
    return 1;
}

static int dup_into(parse_ctx_t *p, const char *s, size_t len, char **out)
{
    *out = strndup(s, len);
    return *out == NULL ? fail(p, "out of memory") : 0;
}

/* ---------------------------------------------------------------------- */
/* Settings                                                               */
/* ---------------------------------------------------------------------- */

static int parse_identity(parse_ctx_t *p, nr_config_t *c)
{
    char label[96], host[256];
    const char *s;
    size_t len;
    int r = resolve_string(p, "node_id", "POOL_MANAGERD_NODE_ID", &s, &len, label, sizeof(label));

    if (r < 0)
        return -1;
    if (r == 0) {
        memset(host, 0, sizeof(host));
        if (gethostname(host, sizeof(host) - 1) != 0)
            return fail(p, "node_id is not set and the host name is unavailable (%s)",
                        strerror(errno));
        s = host;
        len = strlen(host);
        snprintf(label, sizeof(label), "node_id (from the host name)");
    }
    if (identity_ok(p, label, s, len, NR_NODE_ID_MAX) != 0 || dup_into(p, s, len, &c->node_id) != 0)
        return -1;

    r = resolve_string(p, "machine_id", "POOL_MANAGERD_MACHINE_ID", &s, &len, label, sizeof(label));
    if (r < 0)
        return -1;
    if (r == 0) {
        s = c->node_id;
        len = strlen(s);
    } else if (identity_ok(p, label, s, len, NR_NODE_ID_MAX) != 0) {
        return -1;
    }
    return dup_into(p, s, len, &c->machine_id);
}

/* The message for a URL libcurl's parser refused (buf is the scratch). */
static const char *curl_url_problem(CURLUcode rc, char *buf, size_t size)
{
    switch (rc) {
    case CURLUE_NO_HOST: return "has no host";
    case CURLUE_BAD_PORT_NUMBER: return "has an invalid port";
    case CURLUE_BAD_IPV6: return "has an invalid IPv6 host";
    case CURLUE_BAD_LOGIN:
    case CURLUE_BAD_USER:
    case CURLUE_BAD_PASSWORD: return "must not contain credentials (user:pass@)";
    default: snprintf(buf, size, "is not a valid URL (%s)", curl_url_strerror(rc)); return buf;
    }
}

/* Why the parsed URL u is not an acceptable base URL, or NULL. */
static const char *curl_url_parts_problem(CURLU *u)
{
    static const CURLUPart secret[] = {CURLUPART_USER, CURLUPART_PASSWORD, CURLUPART_OPTIONS};
    char *part = NULL;
    const char *problem = NULL;

    for (size_t i = 0; i < sizeof(secret) / sizeof(secret[0]) && problem == NULL; i++) {
        if (curl_url_get(u, secret[i], &part, 0) == CURLUE_OK)
            problem = "must not contain credentials (user:pass@)";
        curl_free(part);
        part = NULL;
    }
    if (problem == NULL && curl_url_get(u, CURLUPART_QUERY, &part, 0) == CURLUE_OK)
        problem = "must not contain a query or a fragment";
    curl_free(part);
    part = NULL;
    if (problem == NULL &&
        (curl_url_get(u, CURLUPART_HOST, &part, 0) != CURLUE_OK || part[0] == '\0'))
        problem = "has no host";
    curl_free(part);
    part = NULL;
    if (problem == NULL && curl_url_get(u, CURLUPART_PORT, &part, 0) == CURLUE_OK &&
        strcmp(part, "0") == 0)
        problem = "has an invalid port";
    curl_free(part);
    return problem;
}

/*
 * Why s is not an acceptable http(s) base URL, or NULL. libcurl's URL parser
 * decides (the transport's own, so both read host, port, IPv6 zone id and
 * percent-encoding alike); the few lexical checks before it only refuse what
 * libcurl would quietly repair: a missing "//" or host ("https:///v2" is host
 * "v2" to libcurl), an empty port, a "#" it drops. Never quotes s: userinfo
 * is refused because a password in the URL would reach log lines.
 */
static const char *url_problem(const char *s, size_t len, char *buf, size_t size)
{
    size_t off, auth_len;
    const char *problem;
    CURLUcode rc;
    CURLU *u;

    if (len >= 7 && strncasecmp(s, "http://", 7) == 0)
        off = 7;
    else if (len >= 8 && strncasecmp(s, "https://", 8) == 0)
        off = 8;
    else
        return "must start with http:// or https://";
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7F)
            return "must be visible ASCII without whitespace";
    }
    if (memchr(s, '?', len) != NULL || memchr(s, '#', len) != NULL)
        return "must not contain a query or a fragment";
    auth_len = strcspn(s + off, "/");
    if (memchr(s + off, '@', auth_len) != NULL)
        return "must not contain credentials (user:pass@)";
    if (auth_len == 0)
        return "has no host";
    if (s[off + auth_len - 1] == ':')
        return "has an invalid port";
    if ((u = curl_url()) == NULL)
        return "could not be parsed (out of memory)";
    rc = curl_url_set(u, CURLUPART_URL, s, 0);
    problem = rc != CURLUE_OK ? curl_url_problem(rc, buf, size) : curl_url_parts_problem(u);
    curl_url_cleanup(u);
    return problem;
}

static int parse_url(parse_ctx_t *p, const char *key, const char *env_name, char **out)
{
    char label[96], buf[160];
    const char *s, *problem;
    size_t len;
    int r = resolve_string(p, key, env_name, &s, &len, label, sizeof(label));

    if (r < 0)
        return -1;
    if (r == 0)
        return fail(p, "%s is required (set \"%s\" or %s)", key, key, env_name);
    problem = url_problem(s, len, buf, sizeof(buf));
    if (problem != NULL)
        return fail(p, "%s %s", label, problem);
    return dup_into(p, s, len, out);
}

static int parse_urls(parse_ctx_t *p, nr_config_t *c)
{
    size_t n;

    if (parse_url(p, "address", "POOL_MANAGERD_ADDRESS", &c->address) != 0 ||
        parse_url(p, "orchestratord_url", "ORCHESTRATORD_URL", &c->base_url) != 0)
        return -1;
    /* Keep a path prefix, drop trailing slashes: base_url + "/v2/..." is right.
     * The host is non-empty, so this never reaches the scheme's "//". */
    n = c->base_url != NULL ? strlen(c->base_url) : 0;
    while (n > 0 && c->base_url[n - 1] == '/')
        c->base_url[--n] = '\0';
    return 0;
}

/* The schemes a proxy may have: socks5h, not socks5, so that names are
 * resolved by the proxy, as with the http ones. */
static int proxy_scheme_ok(const char *s)
{
    return strncasecmp(s, "http://", 7) == 0 || strncasecmp(s, "https://", 8) == 0 ||
           strncasecmp(s, "socks5h://", 10) == 0;
}

/* proxy parsed by libcurl's URL parser (the one that will use it); NULL when
 * it is not a URL. Credentials are allowed; the scheme is checked apart. */
static CURLU *proxy_url(const char *proxy, CURLUcode *rc)
{
    CURLU *u = curl_url();

    *rc = u == NULL ? CURLUE_OUT_OF_MEMORY : CURLUE_OK;
    if (u != NULL && (*rc = curl_url_set(u, CURLUPART_URL, proxy, CURLU_NON_SUPPORT_SCHEME)) != 0) {
        curl_url_cleanup(u);
        u = NULL;
    }
    return u;
}

/* Why s is not an acceptable proxy URL, or NULL. Never quotes s: it may
 * carry a password. */
static const char *proxy_problem(const char *s, size_t len, char *buf, size_t size)
{
    char *host = NULL, *port = NULL, *path = NULL, *query = NULL, *fragment = NULL;
    const char *problem = NULL;
    CURLUcode rc;
    CURLU *u;

    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7F)
            return "must be visible ASCII without whitespace";
    }
    if (!proxy_scheme_ok(s))
        return "must start with http://, https:// or socks5h://";
    if ((u = proxy_url(s, &rc)) == NULL) {
        snprintf(buf, size, "is not a valid URL (%s)", curl_url_strerror(rc));
        return buf;
    }
    if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || host[0] == '\0')
        problem = "has no host";
    else if (curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK && strcmp(port, "0") == 0)
        problem = "has an invalid port";
    else if (curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK ||
             curl_url_get(u, CURLUPART_FRAGMENT, &fragment, 0) == CURLUE_OK ||
             (curl_url_get(u, CURLUPART_PATH, &path, 0) == CURLUE_OK && strcmp(path, "/") != 0))
        problem = "must not have a path, a query or a fragment";
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_free(query);
    curl_free(fragment);
    curl_url_cleanup(u);
    return problem;
}

/* "proxy": optional; "" (or absent) = none. Never from the environment. */
static int parse_proxy(parse_ctx_t *p, nr_config_t *c)
{
    json_object *v;
    const char *where, *s, *problem;
    char buf[160];
    size_t len;

    if (!pick(p, "proxy", &v, &where))
        return 0;
    if (json_string(p, v, "proxy", where, &s, &len) != 0)
        return -1;
    if (len == 0)
        return 0;
    problem = proxy_problem(s, len, buf, sizeof(buf));
    if (problem != NULL)
        return fail(p, "proxy%s %s", where, problem);
    return dup_into(p, s, len, &c->proxy);
}

/* Appends one validated, unique pool id to c->pools (capacity preallocated). */
static int add_pool(parse_ctx_t *p, nr_config_t *c, const char *label, const char *s, size_t len)
{
    if (identity_ok(p, label, s, len, NR_MAX_STRING) != 0)
        return -1;
    for (size_t i = 0; i < c->pool_count; i++) {
        if (strlen(c->pools[i]) == len && memcmp(c->pools[i], s, len) == 0)
            return fail(p, "%s repeats an earlier pool id", label);
    }
    if (dup_into(p, s, len, &c->pools[c->pool_count]) != 0)
        return -1;
    c->pool_count++;
    return 0;
}

static int pools_from_json(parse_ctx_t *p, nr_config_t *c, json_object *v, const char *where)
{
    size_t n;
    char label[96];

    if (v == NULL || !json_object_is_type(v, json_type_array))
        return fail(p, "pools%s must be an array of strings", where);
    n = json_object_array_length(v);
    if (n > NR_MAX_CONFIG_POOLS)
        return fail(p, "pools%s has more than %d entries", where, NR_MAX_CONFIG_POOLS);
    if (n > 0 && (c->pools = calloc(n, sizeof(char *))) == NULL)
        return fail(p, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const char *s;
        size_t len;
        snprintf(label, sizeof(label), "pools[%zu]%s", i, where);
        if (json_string(p, json_object_array_get_idx(v, i), label, "", &s, &len) != 0 ||
            add_pool(p, c, label, s, len) != 0)
            return -1;
    }
    c->has_pools = 1;
    return 0;
}

/* POOL_MANAGERD_POOLS: comma-separated; items trimmed, empty items skipped.
 * No item at all (",, ,") means not configured, like an unset variable. */
static int pools_from_env(parse_ctx_t *p, nr_config_t *c, const char *env)
{
    static const char space[] = " \t\r\n\v\f";
    size_t items = 1, item = 0;
    char label[96];

    for (const char *q = env; *q != '\0'; q++)
        items += *q == ',';
    if (items > NR_MAX_CONFIG_POOLS)
        items = NR_MAX_CONFIG_POOLS; /* the count is checked before each add */
    if ((c->pools = calloc(items, sizeof(char *))) == NULL)
        return fail(p, "out of memory");
    for (const char *q = env;; q++) {
        size_t len = strcspn(q, ","), lead = strspn(q, space);
        const char *s = q + (lead < len ? lead : len);
        size_t n = (size_t)(q + len - s);
        while (n > 0 && strchr(space, s[n - 1]) != NULL)
            n--;
        if (n > 0) {
            if (c->pool_count >= NR_MAX_CONFIG_POOLS)
                return fail(p, "POOL_MANAGERD_POOLS has more than %d items", NR_MAX_CONFIG_POOLS);
            snprintf(label, sizeof(label), "POOL_MANAGERD_POOLS item %zu", item);
            if (add_pool(p, c, label, s, n) != 0)
                return -1;
        }
        item++;
        q += len;
        if (*q == '\0')
            break;
    }
    c->has_pools = c->pool_count > 0;
    if (!c->has_pools) {
        free(c->pools);
        c->pools = NULL;
    }
    return 0;
}

static int parse_pools(parse_ctx_t *p, nr_config_t *c)
{
    json_object *v;
    const char *where, *env;

    if (pick(p, "pools", &v, &where))
        return pools_from_json(p, c, v, where);
    env = env_get(p, "POOL_MANAGERD_POOLS");
    return env != NULL ? pools_from_env(p, c, env) : 0;
}

/* One GpuInfo object: all four fields required. */
static int parse_gpu(parse_ctx_t *p, json_object *g, size_t i, const char *where,
                     nr_config_gpu_t *out)
{
    char f[96];
    json_object *v;
    const char *s;
    size_t len;
    uint64_t u = 0;

    snprintf(f, sizeof(f), "capabilities.gpus[%zu].", i);
    if (g == NULL || !json_object_is_type(g, json_type_object))
        return fail(p, "capabilities.gpus[%zu]%s must be an object", i, where);
    if (check_keys(p, g, gpu_keys, f, where) != 0)
        return -1;
    for (size_t k = 0; gpu_keys[k] != NULL; k++) {
        if (!json_object_object_get_ex(g, gpu_keys[k], NULL))
            return fail(p, "%s%s%s is required", f, gpu_keys[k], where);
    }
    snprintf(f, sizeof(f), "capabilities.gpus[%zu].device_id", i);
    json_object_object_get_ex(g, "device_id", &v);
    if (json_uint(p, v, f, where, 0, UINT32_MAX, &u) != 0)
        return -1;
    out->device_id = (uint32_t)u;
    snprintf(f, sizeof(f), "capabilities.gpus[%zu].vram_total_bytes", i);
    json_object_object_get_ex(g, "vram_total_bytes", &v);
    if (json_uint(p, v, f, where, 0, UINT64_MAX, &out->vram_total_bytes) != 0)
        return -1;
    snprintf(f, sizeof(f), "capabilities.gpus[%zu].name", i);
    json_object_object_get_ex(g, "name", &v);
    if (json_string(p, v, f, where, &s, &len) != 0 ||
        string_ok(p, f, txt_text_problem(s, len, NR_MAX_STRING), len, NR_MAX_STRING) != 0 ||
        dup_into(p, s, len, &out->name) != 0)
        return -1;
    snprintf(f, sizeof(f), "capabilities.gpus[%zu].compute_capability", i);
    json_object_object_get_ex(g, "compute_capability", &v);
    if (json_string(p, v, f, where, &s, &len) != 0)
        return -1;
    if (!nr_compute_capability_valid(s))
        return fail(p, "%s%s must be \"major.minor\" digits, e.g. \"8.6\"", f, where);
    return dup_into(p, s, len, &out->compute_capability);
}

static int parse_capabilities(parse_ctx_t *p, nr_config_t *c)
{
    json_object *caps, *gpus, *v;
    const char *where;
    uint64_t u = 0;
    size_t n;

    if (!pick(p, "capabilities", &caps, &where))
        return 0;
    if (caps == NULL || !json_object_is_type(caps, json_type_object))
        return fail(p, "capabilities%s must be an object", where);
    if (check_keys(p, caps, capability_keys, "capabilities.", where) != 0)
        return -1;
    if (!json_object_object_get_ex(caps, "gpus", &gpus))
        return fail(p, "capabilities.gpus%s is required", where);
    if (gpus == NULL || !json_object_is_type(gpus, json_type_array))
        return fail(p, "capabilities.gpus%s must be an array", where);
    n = json_object_array_length(gpus);
    if (n > NR_MAX_CONFIG_GPUS)
        return fail(p, "capabilities.gpus%s has more than %d entries", where, NR_MAX_CONFIG_GPUS);
    if (n > 0 && (c->gpus = calloc(n, sizeof(nr_config_gpu_t))) == NULL)
        return fail(p, "out of memory");
    for (size_t i = 0; i < n; i++) {
        c->gpu_count = i + 1; /* so nr_config_free frees a half-parsed one */
        if (parse_gpu(p, json_object_array_get_idx(gpus, i), i, where, &c->gpus[i]) != 0)
            return -1;
    }
    if (json_object_object_get_ex(caps, "cpu_cores", &v)) {
        if (json_uint(p, v, "capabilities.cpu_cores", where, 0, UINT32_MAX, &u) != 0)
            return -1;
        c->cpu_cores = (uint32_t)u;
    }
    if (json_object_object_get_ex(caps, "ram_total_bytes", &v) &&
        json_uint(p, v, "capabilities.ram_total_bytes", where, 0, UINT64_MAX,
                  &c->ram_total_bytes) != 0)
        return -1;
    c->has_capabilities = 1;
    return 0;
}

/* heartbeat_interval_ms overrides heartbeat_interval_secs of the same layer. */
static int parse_interval(parse_ctx_t *p, uint32_t *out)
{
    const char *where, *env;
    json_object *layer = pick_layer(p, "heartbeat_interval_ms", "heartbeat_interval_secs", &where);
    json_object *v;
    uint64_t secs = 0, ms = 0;

    if (layer != NULL) {
        if (json_object_object_get_ex(layer, "heartbeat_interval_secs", &v) &&
            json_uint(p, v, "heartbeat_interval_secs", where, 1, NR_INTERVAL_MAX_SECS, &secs) != 0)
            return -1;
        if (json_object_object_get_ex(layer, "heartbeat_interval_ms", &v) &&
            json_uint(p, v, "heartbeat_interval_ms", where, NR_HEARTBEAT_INTERVAL_MIN_MS,
                      NR_INTERVAL_MAX_MS, &ms) != 0)
            return -1;
        *out = (uint32_t)(ms != 0 ? ms : secs * 1000u);
        return 0;
    }
    env = env_get(p, "POOL_MANAGERD_HEARTBEAT_INTERVAL_SECS");
    if (env != NULL) {
        if (env_uint(p, "POOL_MANAGERD_HEARTBEAT_INTERVAL_SECS", env, 1, NR_INTERVAL_MAX_SECS,
                     &secs) != 0)
            return -1;
        *out = (uint32_t)(secs * 1000u);
        return 0;
    }
    *out = NR_DEFAULT_INTERVAL_MS;
    return 0;
}

static uint32_t min_u32(uint32_t a, uint32_t b)
{
    return a < b ? a : b;
}

/* Each bound is a documented floor (nr_config.h); json_uint's error names the
 * key and the range, floor first. */
static int parse_timing(parse_ctx_t *p, nr_config_t *c)
{
    if (parse_interval(p, &c->heartbeat_interval_ms) != 0 ||
        opt_uint(p, "request_timeout_ms", NR_REQUEST_TIMEOUT_MIN_MS, NR_INTERVAL_MAX_MS,
                 min_u32(c->heartbeat_interval_ms, NR_REQUEST_TIMEOUT_DEFAULT_MS),
                 &c->request_timeout_ms) != 0 ||
        opt_uint(p, "connect_timeout_ms", NR_CONNECT_TIMEOUT_MIN_MS, NR_INTERVAL_MAX_MS,
                 min_u32(c->request_timeout_ms, NR_CONNECT_TIMEOUT_DEFAULT_MS),
                 &c->connect_timeout_ms) != 0 ||
        opt_uint(p, "deregister_timeout_ms", NR_DEREGISTER_TIMEOUT_MIN_MS,
                 NR_DEREGISTER_TIMEOUT_MAX_MS, NR_DEREGISTER_TIMEOUT_DEFAULT_MS,
                 &c->deregister_timeout_ms) != 0 ||
        opt_uint(p, "retry_base_ms", NR_RETRY_BASE_MIN_MS, NR_INTERVAL_MAX_MS,
                 NR_RETRY_BASE_DEFAULT_MS, &c->retry_base_ms) != 0 ||
        opt_uint(p, "retry_max_ms", NR_RETRY_BASE_MIN_MS, NR_INTERVAL_MAX_MS,
                 NR_RETRY_MAX_DEFAULT_MS, &c->retry_max_ms) != 0)
        return -1;
    if (c->retry_base_ms > c->retry_max_ms)
        return fail(p, "retry_base_ms (%u) must not exceed retry_max_ms (%u)", c->retry_base_ms,
                    c->retry_max_ms);
    return 0;
}

static int token_from_layer(parse_ctx_t *p, nr_config_t *c, json_object *layer, const char *where)
{
    json_object *tv, *fv;
    int has_token = json_object_object_get_ex(layer, "api_token", &tv);
    int has_file = json_object_object_get_ex(layer, "api_token_file", &fv);
    const char *s;
    size_t len;
    char msg[320];

    if (has_token && has_file)
        return fail(p, "api_token and api_token_file are both set%s; give one", where);
    if (has_file) {
        if (json_string(p, fv, "api_token_file", where, &s, &len) != 0)
            return -1;
        if (len == 0)
            return fail(p, "api_token_file%s is empty", where);
        c->api_token = nr_config_read_token_file(s, msg, sizeof(msg));
        if (c->api_token == NULL)
            return fail(p, "%s", msg);
        return dup_into(p, s, len, &c->api_token_file);
    }
    if (json_string(p, tv, "api_token", where, &s, &len) != 0)
        return -1;
    if (len > NR_TOKEN_MAX || !nr_config_token_is_valid(s))
        return fail(p, "api_token%s " NR_TOKEN_RULE, where);
    return dup_into(p, s, len, &c->api_token);
}

static int parse_token(parse_ctx_t *p, nr_config_t *c)
{
    const char *where, *env;
    json_object *layer = pick_layer(p, "api_token", "api_token_file", &where);

    if (layer != NULL)
        return token_from_layer(p, c, layer, where);
    env = env_get(p, "LLORCH_API_TOKEN");
    if (env == NULL)
        return 0;
    if (!nr_config_token_is_valid(env))
        return fail(p, "LLORCH_API_TOKEN " NR_TOKEN_RULE);
    return dup_into(p, env, strlen(env), &c->api_token);
}

static int readable_file(parse_ctx_t *p, const char *key, char **out)
{
    json_object *v;
    const char *where, *s;
    size_t len;
    struct stat st;
    char buf[256];

    if (!pick(p, key, &v, &where))
        return 0;
    if (json_string(p, v, key, where, &s, &len) != 0)
        return -1;
    if (len == 0)
        return fail(p, "%s%s is empty", key, where);
    if (access(s, R_OK) != 0 || stat(s, &st) != 0)
        return fail(p, "%s%s \"%s\" is not readable (%s)", key, where, shown(s, buf, sizeof(buf)),
                    strerror(errno));
    if (!S_ISREG(st.st_mode))
        return fail(p, "%s%s \"%s\" is not a regular file", key, where, shown(s, buf, sizeof(buf)));
    return dup_into(p, s, len, out);
}

static char *read_small_file(const char *path, size_t max, size_t *len, int *why);

/* The passphrase in client_key_password_file: the whole file but one
 * trailing newline ("\n", "\r\n" or "\r"). Errors name the file, never
 * the content. */
static int read_key_password(parse_ctx_t *p, const char *path, const char *where, char **out)
{
    char buf[256];
    size_t len = 0, read_len;
    int why, r = -1;
    /* Room for the longest passphrase, "\r\n", and one byte to see more. */
    char *text = read_small_file(path, NR_KEY_PASSWORD_MAX + 2, &len, &why);

    shown(path, buf, sizeof(buf));
    if (text == NULL)
        return fail(p, "client_key_password_file%s \"%s\" cannot be read (%s)", where, buf,
                    why == EINVAL ? "not a regular file" : strerror(why));
    read_len = len;
    if (len > 0 && text[len - 1] == '\n')
        len--;
    if (len > 0 && text[len - 1] == '\r')
        len--;
    if (read_len > NR_KEY_PASSWORD_MAX + 2 || len > NR_KEY_PASSWORD_MAX)
        fail(p, "client_key_password_file%s \"%s\" is larger than %d bytes", where, buf,
             NR_KEY_PASSWORD_MAX);
    else if (len == 0)
        fail(p, "client_key_password_file%s \"%s\" is empty", where, buf);
    else if (memchr(text, '\0', len) != NULL)
        fail(p, "client_key_password_file%s \"%s\" contains a NUL byte", where, buf);
    else if ((*out = strndup(text, len)) == NULL)
        fail(p, "out of memory");
    else
        r = 0;
    explicit_bzero(text, read_len);
    free(text);
    return r;
}

int nr_config_pem_is_encrypted(const char *text, size_t len)
{
    static const char pkcs8[] = "-----BEGIN ENCRYPTED PRIVATE KEY-----";
    static const char traditional[] = "Proc-Type: 4,ENCRYPTED";

    return text != NULL && (memmem(text, len, pkcs8, sizeof(pkcs8) - 1) != NULL ||
                            memmem(text, len, traditional, sizeof(traditional) - 1) != NULL);
}

/* Whether the client_key file is encrypted: 1, 0, or -1 (refused, err set). */
static int client_key_encrypted(parse_ctx_t *p, const char *path, const char *where)
{
    char buf[256];
    size_t len = 0;
    int why, encrypted;
    char *text = read_small_file(path, NR_KEY_FILE_MAX, &len, &why);

    shown(path, buf, sizeof(buf));
    if (text == NULL)
        return fail(p, "client_key%s \"%s\" cannot be read (%s)", where, buf,
                    why == EINVAL ? "not a regular file" : strerror(why));
    encrypted = nr_config_pem_is_encrypted(text, len);
    explicit_bzero(text, len);
    free(text);
    if (len > NR_KEY_FILE_MAX)
        return fail(p, "client_key%s \"%s\" is larger than %zu bytes", where, buf, NR_KEY_FILE_MAX);
    return encrypted;
}

/* An encrypted client_key needs client_key_password_file: the plugin never
 * prompts (OpenSSL's prompt would block the network thread on /dev/tty). */
static int parse_key_password(parse_ctx_t *p, nr_config_t *c)
{
    json_object *v;
    const char *where, *key_where, *s;
    char buf[256];
    size_t len;
    int has_file = pick(p, "client_key_password_file", &v, &where), encrypted;

    if (has_file) {
        if (json_string(p, v, "client_key_password_file", where, &s, &len) != 0)
            return -1;
        if (len == 0)
            return fail(p, "client_key_password_file%s is empty", where);
        if (c->client_key == NULL)
            return fail(p, "client_key_password_file%s is set without client_key", where);
        if (read_key_password(p, s, where, &c->client_key_password) != 0)
            return -1;
    }
    if (c->client_key == NULL)
        return 0;
    pick(p, "client_key", &v, &key_where);
    encrypted = client_key_encrypted(p, c->client_key, key_where);
    if (encrypted < 0)
        return -1;
    if (encrypted && !has_file)
        return fail(p,
                    "client_key%s \"%s\" is encrypted (passphrase-protected); set "
                    "client_key_password_file or use an unencrypted key",
                    key_where, shown(c->client_key, buf, sizeof(buf)));
    return 0;
}

static int parse_tls(parse_ctx_t *p, nr_config_t *c)
{
    json_object *v;
    const char *where;

    if (readable_file(p, "ca_file", &c->ca_file) != 0 ||
        readable_file(p, "client_cert", &c->client_cert) != 0 ||
        readable_file(p, "client_key", &c->client_key) != 0)
        return -1;
    if ((c->client_cert == NULL) != (c->client_key == NULL))
        return fail(p, "%s is set without %s; mTLS needs both",
                    c->client_cert != NULL ? "client_cert" : "client_key",
                    c->client_cert != NULL ? "client_key" : "client_cert");
    if (parse_key_password(p, c) != 0)
        return -1;
    if (pick(p, "tls_insecure", &v, &where)) {
        if (v == NULL || !json_object_is_type(v, json_type_boolean))
            return fail(p, "tls_insecure%s must be true or false", where);
        c->tls_insecure = json_object_get_boolean(v) ? 1 : 0;
    }
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Public                                                                 */
/* ---------------------------------------------------------------------- */

static int parse_all(parse_ctx_t *p, const char *defaults_json, const char *config_json,
                     nr_config_t *c)
{
    int has_defaults =
        defaults_json != NULL && defaults_json[strspn(defaults_json, " \t\r\n")] != '\0';

    if (has_defaults && parse_document(p, defaults_json, "the built-in defaults text",
                                       NR_FROM_DEFAULTS, &p->def) != 0)
        return -1;
    if (parse_document(p, config_json, "the config text", "", &p->cfg) != 0 ||
        check_keys(p, p->cfg, known_keys, "", "") != 0 ||
        (p->def != NULL && check_keys(p, p->def, known_keys, "", NR_FROM_DEFAULTS) != 0))
        return -1;
    if (parse_identity(p, c) != 0 || parse_urls(p, c) != 0 || parse_pools(p, c) != 0 ||
        parse_capabilities(p, c) != 0 || parse_timing(p, c) != 0 || parse_token(p, c) != 0 ||
        parse_tls(p, c) != 0 || parse_proxy(p, c) != 0)
        return -1;
    return 0;
}

int nr_config_parse(const char *defaults_json, const char *config_json, nr_env_lookup_fn env,
                    void *env_ctx, nr_config_t *out, char *err, size_t err_size)
{
    parse_ctx_t p;
    nr_config_t c;
    int r;

    if (err != NULL && err_size > 0)
        err[0] = '\0';
    memset(&p, 0, sizeof(p));
    p.env = env;
    p.env_ctx = env_ctx;
    p.err = err;
    p.err_size = err_size;
    if (out == NULL)
        return fail(&p, "no output struct given");
    memset(out, 0, sizeof(*out));
    memset(&c, 0, sizeof(c));

    r = parse_all(&p, defaults_json, config_json, &c);
    json_object_put(p.cfg);
    json_object_put(p.def);
    if (r != 0) {
        nr_config_free(&c);
        return -1;
    }
    *out = c;
    return 0;
}

int nr_config_token_is_valid(const char *token)
{
    size_t len;

    if (token == NULL)
        return 0;
    len = strnlen(token, NR_TOKEN_MAX + 1);
    if (len == 0 || len > NR_TOKEN_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)token[i];
        if (ch < 0x21 || ch > 0x7E)
            return 0;
    }
    return 1;
}

/* Reads at most max + 1 bytes of a regular file into a malloc'd buffer. */
static char *read_small_file(const char *path, size_t max, size_t *len, int *why)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    struct stat st;
    char *buf;
    size_t n = 0;

    *why = 0;
    if (fd < 0) {
        *why = errno;
        return NULL;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        *why = EINVAL; /* a FIFO or device could block or never end */
        close(fd);
        return NULL;
    }
    buf = malloc(max + 2);
    if (buf == NULL) {
        *why = ENOMEM;
        close(fd);
        return NULL;
    }
    while (n <= max) {
        ssize_t r = read(fd, buf + n, max + 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            *why = errno;
            explicit_bzero(buf, n);
            free(buf);
            close(fd);
            return NULL;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    *len = n;
    return buf;
}

char *nr_config_read_token_file(const char *path, char *err, size_t err_size)
{
    char shown_path[256];
    char *buf, *token = NULL;
    size_t len = 0, read_len;
    int why;

    if (path == NULL || path[0] == '\0') {
        copy_error(err, err_size, "api_token_file: no path given");
        return NULL;
    }
    shown(path, shown_path, sizeof(shown_path));
    buf = read_small_file(path, NR_TOKEN_FILE_MAX, &len, &why);
    if (buf == NULL) {
        copy_error(err, err_size, "api_token_file \"%s\": cannot read (%s)", shown_path,
                   why == EINVAL ? "not a regular file" : strerror(why));
        return NULL;
    }
    read_len = len;
    if (len > NR_TOKEN_FILE_MAX) {
        copy_error(err, err_size, "api_token_file \"%s\": larger than %zu bytes", shown_path,
                   NR_TOKEN_FILE_MAX);
    } else {
        while (len > 0 && strchr(" \t\r\n\v\f", buf[len - 1]) != NULL)
            buf[--len] = '\0';
        if (memchr(buf, '\0', len) != NULL || len > NR_TOKEN_MAX || !nr_config_token_is_valid(buf))
            copy_error(err, err_size,
                       "api_token_file \"%s\": the token " NR_TOKEN_RULE
                       " after trailing whitespace is trimmed",
                       shown_path);
        else if ((token = strndup(buf, len)) == NULL)
            copy_error(err, err_size, "api_token_file \"%s\": out of memory", shown_path);
    }
    explicit_bzero(buf, read_len);
    free(buf);
    return token;
}

/* The host of url as libcurl reads it (IPv6 in brackets, without a zone
 * id; IPv4 in dotted quads), malloc'd by libcurl (curl_free), or NULL. */
static char *url_host(const char *url)
{
    CURLUcode rc;
    CURLU *u = url != NULL ? proxy_url(url, &rc) : NULL;
    char *host = NULL;

    if (u != NULL && curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
        host = NULL;
    curl_url_cleanup(u);
    if (host != NULL && host[0] == '\0') {
        curl_free(host);
        host = NULL;
    }
    return host;
}

int nr_config_proxy_display(const char *proxy, char *out, size_t size)
{
    char *scheme = NULL, *host = NULL, *port = NULL;
    CURLUcode rc;
    CURLU *u;
    int n = -1;

    if (out == NULL || size == 0)
        return -1;
    out[0] = '\0';
    if (proxy == NULL || (u = proxy_url(proxy, &rc)) == NULL)
        return -1;
    /* Built from the parts that are not secret, so user, password, login
     * options, path and query never reach the line. */
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && host[0] != '\0') {
        if (curl_url_get(u, CURLUPART_PORT, &port, 0) != CURLUE_OK)
            port = NULL; /* none given: the scheme's default */
        n = snprintf(out, size, "%s://%s%s%s", scheme, host, port != NULL ? ":" : "",
                     port != NULL ? port : "");
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    if (n < 0 || (size_t)n >= size) {
        out[0] = '\0';
        return -1;
    }
    return 0;
}

/* 1 for 127.0.0.0/8 in network byte order. */
static int ipv4_is_loopback(const void *addr)
{
    const unsigned char *b = addr;
    return b[0] == 127;
}

int nr_config_url_is_loopback(const char *url)
{
    char *host = url_host(url);
    struct in6_addr a6;
    struct in_addr a4;
    size_t n;
    int loopback = 0;

    if (host == NULL)
        return 0;
    n = strlen(host);
    if (strcasecmp(host, "localhost") == 0 || strcasecmp(host, "localhost.") == 0) {
        loopback = 1;
    } else if (inet_pton(AF_INET, host, &a4) == 1) {
        loopback = ipv4_is_loopback(&a4.s_addr);
    } else if (n > 2 && host[0] == '[' && host[n - 1] == ']') {
        host[n - 1] = '\0';
        if (inet_pton(AF_INET6, host + 1, &a6) == 1)
            loopback = IN6_IS_ADDR_LOOPBACK(&a6) ||
                       (IN6_IS_ADDR_V4MAPPED(&a6) && ipv4_is_loopback(&a6.s6_addr[12]));
    }
    curl_free(host);
    return loopback;
}

const char *nr_config_getenv(const char *name, void *ctx)
{
    (void)ctx;
    return name != NULL ? getenv(name) : NULL;
}

void nr_config_free(nr_config_t *cfg)
{
    if (cfg == NULL)
        return;
    if (cfg->api_token != NULL)
        explicit_bzero(cfg->api_token, strlen(cfg->api_token));
    free(cfg->api_token);
    free(cfg->api_token_file);
    free(cfg->node_id);
    free(cfg->machine_id);
    free(cfg->address);
    free(cfg->base_url);
    for (size_t i = 0; i < cfg->pool_count; i++)
        free(cfg->pools[i]);
    free(cfg->pools);
    for (size_t i = 0; i < cfg->gpu_count; i++) {
        free(cfg->gpus[i].name);
        free(cfg->gpus[i].compute_capability);
    }
    free(cfg->gpus);
    free(cfg->ca_file);
    free(cfg->client_cert);
    free(cfg->client_key);
    if (cfg->client_key_password != NULL)
        explicit_bzero(cfg->client_key_password, strlen(cfg->client_key_password));
    free(cfg->client_key_password);
    if (cfg->proxy != NULL) /* may hold a proxy password */
        explicit_bzero(cfg->proxy, strlen(cfg->proxy));
    free(cfg->proxy);
    memset(cfg, 0, sizeof(*cfg));
}
