/*
 * nr_payload.c - request bodies and response facts, typed exactly as
 * protocol.md (the server's strict serde types) says.
 *
 * Bodies are built as json-c trees and serialized plainly, so strings are
 * escaped by json-c and integers stay integers over their full range (u64
 * fields through json_object_new_uint64, u32 fields through new_int64).
 * Exactly the documented fields are sent: optional ones are omitted when
 * unknown, never sent as null or 0.
 *
 * Response bodies are untrusted: parsed with a bounded, strict tokener, and
 * anything unexpected reads as "no information".
 */
#include "nr_payload.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "txt.h"

#define NR_SERIALIZE_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/* ---------------------------------------------------------------------- */
/* Building                                                               */
/* ---------------------------------------------------------------------- */

/* Adds val under key; on failure (or val NULL: no memory) frees val and
 * returns -1. json-c does not take ownership when the add fails. */
static int put(json_object *obj, const char *key, json_object *val)
{
    if (val == NULL)
        return -1;
    if (json_object_object_add(obj, key, val) != 0) {
        json_object_put(val);
        return -1;
    }
    return 0;
}

static int append(json_object *arr, json_object *val)
{
    if (val == NULL)
        return -1;
    if (json_object_array_add(arr, val) != 0) {
        json_object_put(val);
        return -1;
    }
    return 0;
}

static int put_string(json_object *obj, const char *key, const char *s)
{
    return put(obj, key, json_object_new_string(s != NULL ? s : ""));
}

static int put_u32(json_object *obj, const char *key, uint32_t v)
{
    return put(obj, key, json_object_new_int64((int64_t)v));
}

static int put_u64(json_object *obj, const char *key, uint64_t v)
{
    return put(obj, key, json_object_new_uint64(v));
}

/* Serializes root into a malloc'd string and drops root. */
static char *finish(json_object *root)
{
    const char *text;
    char *out = NULL;

    if (root == NULL)
        return NULL;
    text = json_object_to_json_string_ext(root, NR_SERIALIZE_FLAGS);
    if (text != NULL)
        out = strdup(text);
    json_object_put(root);
    return out;
}

static json_object *gpu_object(uint32_t device_id, const char *name, uint64_t vram,
                               const char *compute_capability)
{
    json_object *g = json_object_new_object();

    if (g == NULL)
        return NULL;
    if (put_u32(g, "device_id", device_id) != 0 || put_string(g, "name", name) != 0 ||
        put_u64(g, "vram_total_bytes", vram) != 0 ||
        put_string(g, "compute_capability", compute_capability) != 0) {
        json_object_put(g);
        return NULL;
    }
    return g;
}

/* NodeCapabilities from the config when it has them, else from the host. */
static json_object *capabilities_object(const nr_config_t *cfg, const nr_capabilities_t *host)
{
    json_object *caps = json_object_new_object();
    json_object *gpus;
    uint32_t cpu_cores = 0;
    uint64_t ram = 0;
    int bad;

    if (caps == NULL)
        return NULL;
    gpus = json_object_new_array();
    if (put(caps, "gpus", gpus) != 0) {
        json_object_put(caps);
        return NULL;
    }
    bad = 0;
    if (cfg->has_capabilities) {
        for (size_t i = 0; i < cfg->gpu_count && !bad; i++) {
            const nr_config_gpu_t *g = &cfg->gpus[i];
            bad = append(gpus, gpu_object(g->device_id, g->name, g->vram_total_bytes,
                                          g->compute_capability)) != 0;
        }
        cpu_cores = cfg->cpu_cores;
        ram = cfg->ram_total_bytes;
    } else if (host != NULL) {
        for (size_t i = 0; i < host->gpu_count && !bad; i++) {
            const nr_gpu_t *g = &host->gpus[i];
            bad = append(gpus, gpu_object(g->device_id, g->name, g->vram_total_bytes,
                                          g->compute_capability)) != 0;
        }
        cpu_cores = host->cpu_cores;
        ram = host->ram_total_bytes;
    }
    if (!bad && cpu_cores != 0)
        bad = put_u32(caps, "cpu_cores", cpu_cores) != 0;
    if (!bad && ram != 0)
        bad = put_u64(caps, "ram_total_bytes", ram) != 0;
    if (bad) {
        json_object_put(caps);
        return NULL;
    }
    return caps;
}

static json_object *pool_ids_array(const nr_config_t *cfg, const nr_pool_list_t *host)
{
    json_object *arr = json_object_new_array();
    int bad = arr == NULL;

    if (cfg->has_pools) {
        for (size_t i = 0; i < cfg->pool_count && !bad; i++)
            bad = append(arr, json_object_new_string(cfg->pools[i])) != 0;
    } else if (host != NULL) {
        for (size_t i = 0; i < host->count && !bad; i++)
            bad = append(arr, json_object_new_string(host->items[i].pool_id)) != 0;
    }
    if (bad) {
        json_object_put(arr);
        return NULL;
    }
    return arr;
}

char *nr_payload_register(const nr_config_t *cfg, const nr_pool_list_t *host_pools,
                          const nr_capabilities_t *host_caps, const char *version)
{
    json_object *root;

    if (cfg == NULL || cfg->node_id == NULL || cfg->machine_id == NULL || cfg->address == NULL)
        return NULL;
    root = json_object_new_object();
    if (root == NULL)
        return NULL;
    if (put_string(root, "node_id", cfg->node_id) != 0 ||
        put_string(root, "machine_id", cfg->machine_id) != 0 ||
        put_string(root, "address", cfg->address) != 0 ||
        put(root, "pools", pool_ids_array(cfg, host_pools)) != 0 ||
        put(root, "capabilities", capabilities_object(cfg, host_caps)) != 0 ||
        (version != NULL && put_string(root, "version", version) != 0)) {
        json_object_put(root);
        return NULL;
    }
    return finish(root);
}

static json_object *pool_status_object(const nr_pool_t *p)
{
    json_object *o = json_object_new_object();

    if (o == NULL)
        return NULL;
    if (put_string(o, "pool_id", p->pool_id) != 0 ||
        put(o, "ready", json_object_new_boolean(p->ready != 0)) != 0 ||
        put(o, "draining", json_object_new_boolean(p->draining != 0)) != 0 ||
        put_u32(o, "slots_free", p->slots_free) != 0 ||
        put_u32(o, "slots_total", p->slots_total) != 0 ||
        put_u64(o, "vram_free_bytes", p->vram_free_bytes) != 0 ||
        (p->engine != NULL && put_string(o, "engine", p->engine) != 0)) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

char *nr_payload_pools_json(const nr_pool_list_t *pools)
{
    json_object *arr = json_object_new_array();
    int bad = arr == NULL;
    for (size_t i = 0; pools != NULL && i < pools->count && !bad; i++)
        bad = append(arr, pool_status_object(&pools->items[i])) != 0;
    if (bad) {
        json_object_put(arr);
        return NULL;
    }
    return finish(arr);
}

char *nr_payload_heartbeat_with(const char *pools_json, struct timespec now)
{
    char stamp[32]; /* always 24 characters: the year is clamped to 1970..9999 */
    char *body = NULL;
    nr_payload_timestamp(now, stamp, sizeof(stamp));
    /* The timestamp is fixed-format ASCII (digits, '-', ':', '.', 'T', 'Z'):
     * nothing in it needs escaping, and pools_json is json-c's own output. */
    if (pools_json == NULL ||
        asprintf(&body, "{\"timestamp\":\"%s\",\"pools\":%s}", stamp, pools_json) < 0)
        return NULL;
    return body;
}

char *nr_payload_heartbeat(const nr_pool_list_t *pools, struct timespec now)
{
    char *pools_json = nr_payload_pools_json(pools);
    char *body = nr_payload_heartbeat_with(pools_json, now);
    free(pools_json);
    return body;
}

/* 9999-12-31T23:59:59Z: RFC 3339 has four-digit years, so nothing later
 * can be written; a clock that far ahead (or before 1970) is wrong anyway,
 * and the control plane only needs a valid timestamp. */
#define NR_TIMESTAMP_MAX_SECS 253402300799LL

void nr_payload_timestamp(struct timespec t, char *buf, size_t size)
{
    struct tm tm;
    long ms = (t.tv_nsec >= 0 && t.tv_nsec < 1000000000L) ? t.tv_nsec / 1000000L : 0;

    if (buf == NULL || size == 0)
        return;
    if ((long long)t.tv_sec > NR_TIMESTAMP_MAX_SECS) {
        snprintf(buf, size, "9999-12-31T23:59:59.999Z");
        return;
    }
    if (t.tv_sec < 0 || gmtime_r(&t.tv_sec, &tm) == NULL) {
        snprintf(buf, size, "1970-01-01T00:00:00.000Z");
        return;
    }
    snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

/* ---------------------------------------------------------------------- */
/* Reading                                                                */
/* ---------------------------------------------------------------------- */

/* body[0..len) as one JSON object, or NULL. strict: no trailing bytes. */
static json_object *parse_object(const char *body, size_t len, int flags)
{
    struct json_tokener *tok;
    json_object *obj;

    if (body == NULL || len == 0 || len > INT32_MAX)
        return NULL;
    tok = json_tokener_new();
    if (tok == NULL)
        return NULL;
    json_tokener_set_flags(tok, flags);
    obj = json_tokener_parse_ex(tok, body, (int)len);
    if (obj != NULL && (json_tokener_get_error(tok) != json_tokener_success ||
                        !json_object_is_type(obj, json_type_object))) {
        json_object_put(obj);
        obj = NULL;
    }
    json_tokener_free(tok);
    return obj;
}

nr_heartbeat_reply_t nr_payload_parse_heartbeat_reply(const char *body, size_t len)
{
    nr_heartbeat_reply_t reply = {0, 0};
    json_object *root = parse_object(body, len, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *v;

    if (root == NULL)
        return reply;
    /* A u64: a JSON integer, not negative. get_int64 saturates at INT64_MAX
     * for larger ones, which get_uint64 then reads exactly. */
    if (json_object_object_get_ex(root, "next_heartbeat_ms", &v) && v != NULL &&
        json_object_is_type(v, json_type_int) && json_object_get_int64(v) >= 0) {
        reply.has_next = 1;
        reply.next_heartbeat_ms = json_object_get_uint64(v);
    }
    json_object_put(root);
    return reply;
}

void nr_payload_error_message(const char *body, size_t len, char *out, size_t size)
{
    json_object *root, *v;

    if (out == NULL || size == 0)
        return;
    out[0] = '\0';
    /* Not UTF-8-validating: a sloppy proxy's message is still worth a line;
     * the sanitiser makes it safe. */
    root = parse_object(body, len, JSON_TOKENER_STRICT);
    if (root == NULL)
        return;
    if (json_object_object_get_ex(root, "message", &v) && v != NULL &&
        json_object_is_type(v, json_type_string))
        txt_utf8_sanitize(json_object_get_string(v), (size_t)json_object_get_string_len(v), out,
                          size);
    json_object_put(root);
}

char *nr_payload_path_segment(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t len, w = 0;
    char *out;
    int dots_only;

    if (s == NULL)
        return NULL;
    len = strlen(s);
    /* "." and ".." are dot-segments a client or proxy may resolve away
     * (RFC 3986 5.2.4): send them encoded so they stay one id. */
    dots_only = (len == 1 || len == 2) && strspn(s, ".") == len;
    out = malloc(3 * len + 1);
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || (c == '.' && !dots_only) || c == '_' || c == '~') {
            out[w++] = (char)c;
        } else {
            out[w++] = '%';
            out[w++] = hex[c >> 4];
            out[w++] = hex[c & 0x0F];
        }
    }
    out[w] = '\0';
    return out;
}

void nr_payload_log_value(const char *s, char *out, size_t size)
{
    size_t n = 0;
    if (size == 0)
        return;
    for (; s != NULL && *s != '\0' && n + 1 < size; s++) {
        int escape = *s == '"' || *s == '\\';
        if (n + 1 + (size_t)escape >= size)
            break;
        if (escape)
            out[n++] = '\\';
        out[n++] = *s;
    }
    out[n] = '\0';
}
