/*
 * fuzz_config.c - libFuzzer target for nr_config_parse.
 *
 * Input: NUL-separated segments. Segment 0 is config_json, segment 1 (when
 * present and non-empty) defaults_json, segments 2.. the values of the
 * environment variables in env_names[] (a fake lookup; the real environment
 * is never read). An input without a NUL is simply a config text, so the
 * seed corpus is plain JSON files.
 *
 * Invariants: a failed parse leaves *out empty and writes one printable,
 * valid UTF-8 line that never contains the API token (checked for an
 * environment token starting "Secret-", so that a token which happens to
 * spell a word of the message is not a false alarm); a successful one
 * yields the documented ranges (ids, URLs, timings, token characters), and
 * the register body built from it is strict JSON and valid UTF-8.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz_harness.h"
#include "nr_config.h"
#include "nr_payload.h"

#define MAX_SEGMENTS 12

static const char *const env_names[] = {
    "POOL_MANAGERD_NODE_ID", "POOL_MANAGERD_MACHINE_ID",
    "POOL_MANAGERD_ADDRESS", "ORCHESTRATORD_URL",
    "POOL_MANAGERD_POOLS",   "POOL_MANAGERD_HEARTBEAT_INTERVAL_SECS",
    "LLORCH_API_TOKEN",      NULL};
#define ENV_TOKEN_INDEX 6

typedef struct fake_env {
    const char *values[8];
} fake_env_t;

static const char *fake_lookup(const char *name, void *ctx)
{
    const fake_env_t *e = ctx;
    for (int i = 0; env_names[i] != NULL; i++)
        if (strcmp(name, env_names[i]) == 0)
            return e->values[i];
    return NULL;
}

static int printable_line(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7F)
            return 0;
    return fuzz_utf8_valid(s, strlen(s));
}

static int token_chars_ok(const char *t)
{
    size_t n = strlen(t);
    if (n == 0 || n > 4096)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)t[i] < 0x21 || (unsigned char)t[i] > 0x7E)
            return 0;
    return 1;
}

static int identity_ok(const char *s, size_t max)
{
    size_t n = s != NULL ? strlen(s) : 0;
    return n >= 1 && n <= max && printable_line(s);
}

static void check_path_segment(const char *id)
{
    char *seg = nr_payload_path_segment(id);
    FUZZ_CHECK(seg != NULL, "path segment of %s", id);
    for (const char *p = seg; *p; p++) {
        int unreserved = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                         (*p >= '0' && *p <= '9') || strchr("-._~", *p) != NULL;
        FUZZ_CHECK(unreserved || (*p == '%' && p[1] && p[2]), "path segment %s", seg);
    }
    FUZZ_CHECK(strcmp(seg, ".") != 0 && strcmp(seg, "..") != 0, "dot segment %s", seg);
    free(seg);
}

static void check_config(const nr_config_t *c)
{
    FUZZ_CHECK(identity_ok(c->node_id, NR_NODE_ID_MAX), "node_id %s", c->node_id);
    FUZZ_CHECK(identity_ok(c->machine_id, NR_NODE_ID_MAX), "machine_id %s", c->machine_id);
    FUZZ_CHECK(c->address != NULL && c->base_url != NULL, "urls");
    FUZZ_CHECK(strncasecmp(c->base_url, "http", 4) == 0 &&
                   c->base_url[strlen(c->base_url) - 1] != '/',
               "base_url %s", c->base_url);
    FUZZ_CHECK(c->has_pools || c->pool_count == 0, "pools without has_pools");
    FUZZ_CHECK(c->pool_count <= NR_MAX_CONFIG_POOLS, "%zu pools", c->pool_count);
    for (size_t i = 0; i < c->pool_count; i++)
        FUZZ_CHECK(identity_ok(c->pools[i], 1024), "pool %zu", i);
    FUZZ_CHECK(c->gpu_count <= NR_MAX_CONFIG_GPUS, "%zu gpus", c->gpu_count);
    FUZZ_CHECK(c->heartbeat_interval_ms >= 1 && c->heartbeat_interval_ms <= NR_INTERVAL_MAX_MS,
               "interval %u", c->heartbeat_interval_ms);
    FUZZ_CHECK(c->request_timeout_ms >= 1 && c->connect_timeout_ms >= 1, "timeouts");
    FUZZ_CHECK(c->deregister_timeout_ms >= 1 &&
                   c->deregister_timeout_ms <= NR_DEREGISTER_TIMEOUT_MAX_MS,
               "deregister %u", c->deregister_timeout_ms);
    FUZZ_CHECK(c->retry_base_ms >= 1 && c->retry_base_ms <= c->retry_max_ms, "retry %u..%u",
               c->retry_base_ms, c->retry_max_ms);
    FUZZ_CHECK(c->api_token == NULL || token_chars_ok(c->api_token), "token characters");
    FUZZ_CHECK(c->tls_insecure == 0 || c->tls_insecure == 1, "tls_insecure");
}

static void check_register_body(const nr_config_t *c)
{
    char *body = nr_payload_register(c, NULL, NULL, "0.1.0");
    json_object *root, *v;

    FUZZ_CHECK(body != NULL, "register body");
    root = fuzz_parse_json("register body", body);
    FUZZ_CHECK(json_object_object_get_ex(root, "node_id", &v) &&
                   strcmp(json_object_get_string(v), c->node_id) == 0,
               "node_id round trip");
    FUZZ_CHECK(json_object_object_get_ex(root, "pools", &v) &&
                   json_object_array_length(v) == (c->has_pools ? c->pool_count : 0),
               "pool count round trip");
    json_object_put(root);
    free(body);
}

int nr_fuzz_config(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1), *seg[MAX_SEGMENTS];
    size_t nseg = 0, start = 0;
    fake_env_t env;
    nr_config_t cfg;
    char err[512];
    int rc;

    if (buf == NULL)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    for (size_t i = 0; i <= size && nseg < MAX_SEGMENTS; i++)
        if (buf[i] == '\0') {
            seg[nseg++] = buf + start;
            start = i + 1;
        }
    memset(&env, 0, sizeof(env));
    for (size_t i = 2; i < nseg && env_names[i - 2] != NULL; i++)
        env.values[i - 2] = seg[i];

    memset(err, 0x5A, sizeof(err));
    rc = nr_config_parse(nseg > 1 && seg[1][0] ? seg[1] : NULL, seg[0], fake_lookup, &env, &cfg,
                         err, sizeof(err));
    FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL, "err not terminated");
    if (getenv("NR_FUZZ_VERBOSE") != NULL) /* to see what a seed reaches */
        fprintf(stderr, "fuzz_config: %s\n", rc == 0 ? "parsed" : err);
    if (rc != 0) {
        const char *tok = env.values[ENV_TOKEN_INDEX];
        FUZZ_CHECK(rc == -1, "rc %d", rc);
        FUZZ_CHECK(err[0] != '\0', "failure without a message");
        FUZZ_CHECK(printable_line(err), "error is not one printable UTF-8 line: %s", err);
        FUZZ_CHECK(cfg.node_id == NULL && cfg.pools == NULL && cfg.api_token == NULL,
                   "failed parse left data in *out");
        /* A token from the environment must not be echoed, unless the
         * same bytes were also given as something else. */
        if (tok != NULL && strncmp(tok, "Secret-", 7) == 0 && strlen(tok) >= 12 &&
            strstr(seg[0], tok) == NULL && (nseg < 2 || strstr(seg[1], tok) == NULL)) {
            int elsewhere = 0;
            for (size_t i = 0; i + 2 < nseg && env_names[i] != NULL; i++)
                elsewhere |= i != ENV_TOKEN_INDEX && env.values[i] && strstr(env.values[i], tok);
            FUZZ_CHECK(elsewhere || strstr(err, tok) == NULL, "token in error: %s", err);
        }
    } else {
        check_config(&cfg);
        check_register_body(&cfg);
        check_path_segment(cfg.node_id);
        nr_config_free(&cfg);
    }
    free(buf);
    return 0;
}

#ifndef NR_FUZZ_NO_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return nr_fuzz_config(data, size);
}
#endif
