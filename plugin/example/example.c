/*
 * example.c - the smallest correct pmd plugin: the template plugin authors
 * copy. It does no network I/O; it shows every rule of plugin.abi.md that a
 * real plugin must keep:
 *   - one exported symbol (pmd_plugin_entry), everything else static;
 *   - the host struct copied up to the size both sides know;
 *   - config text validated, unknown keys refused by name;
 *   - a lifecycle state checked on every call (PMD_ERR_STATE, never a crash);
 *   - host callbacks only from inside ABI calls, guarded against re-entry;
 *   - no global mutable state: everything lives in the instance.
 *
 * It does not ask for the host extension pmd.host.ext.log_fields/1 (log
 * events as fields): its lines are prose sentences for a person, not
 * "event=<name> key=value" events, and a host prints them as they are.
 * A plugin whose lines are events asks for it in init and falls back to
 * the text line; node_registration (plugin.c: host_log_fields, emit) is
 * the pattern to copy.
 *
 * Config: {"log_every_ticks": N}  (optional, integer 0..1000000, default 0 =
 * never): every N ticks the plugin pulls the host's pools and logs a summary.
 */
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pmd_plugin.h"

#define EXAMPLE_VERSION "0.1.0"

enum lifecycle { LC_INITIALIZED, LC_STARTED, LC_STOPPED };

struct pmd_instance {
    pmd_host_t host; /* our copy; fields past the host's size stay zero */
    enum lifecycle state;
    int in_call; /* guards against a callback re-entering us */
    uint64_t ticks;
    uint64_t log_every_ticks;
};

static void say(struct pmd_instance *in, int32_t level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say(struct pmd_instance *in, int32_t level, const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    in->host.log(in->host.host_data, level, line);
}

static void report_state(struct pmd_instance *in, int32_t state, const char *detail)
{
    if (in->host.state_changed != NULL)
        in->host.state_changed(in->host.host_data, state, detail);
}

static void set_error(char *error, uint32_t error_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_error(char *error, uint32_t error_size, const char *fmt, ...)
{
    if (error == NULL || error_size == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error, error_size, fmt, ap);
    va_end(ap);
}

/* Parses the config; returns 0 or writes one line naming the problem. */
static int parse_config(const char *text, uint64_t *log_every, char *error, uint32_t error_size)
{
    if (text == NULL || text[0] == '\0') {
        set_error(error, error_size, "config: empty, expected a JSON object such as {}");
        return -1;
    }
    enum json_tokener_error jerr;
    json_object *root = json_tokener_parse_verbose(text, &jerr);
    if (root == NULL || !json_object_is_type(root, json_type_object)) {
        set_error(error, error_size, "config: not a JSON object (%s)",
                  root == NULL ? json_tokener_error_desc(jerr) : "wrong type");
        json_object_put(root);
        return -1;
    }
    int rc = 0;
    *log_every = 0;
    json_object_object_foreach(root, key, value)
    {
        if (strcmp(key, "log_every_ticks") != 0) {
            set_error(error, error_size, "config: unknown key \"%.64s\"", key);
            rc = -1;
            break;
        }
        int64_t n = json_object_get_int64(value);
        if (!json_object_is_type(value, json_type_int) || n < 0 || n > 1000000) {
            set_error(error, error_size,
                      "config: log_every_ticks must be an integer from 0 to 1000000");
            rc = -1;
            break;
        }
        *log_every = (uint64_t)n;
    }
    json_object_put(root);
    return rc;
}

static int host_is_usable(const pmd_host_t *host)
{
    return host->struct_size >= PMD_HOST_SIZE_1_0 && host->log != NULL &&
           host->list_pools != NULL && host->get_capabilities != NULL;
}

static int32_t example_init(const pmd_host_t *host, const char *config_json,
                            pmd_instance_t **out_instance, char *error, uint32_t error_size)
{
    if (out_instance != NULL)
        *out_instance = NULL;
    if (host == NULL || out_instance == NULL) {
        set_error(error, error_size, "init: host and out_instance must not be NULL");
        return PMD_ERR_INVALID_ARGUMENT;
    }
    if (host->abi_major != PMD_ABI_VERSION_MAJOR) {
        set_error(error, error_size, "init: host speaks ABI major %u, this plugin %u",
                  (unsigned)host->abi_major, (unsigned)PMD_ABI_VERSION_MAJOR);
        return PMD_ERR_ABI_MAJOR;
    }
    if (!host_is_usable(host)) {
        set_error(error, error_size, "init: host struct too small or lacks a required callback");
        return PMD_ERR_INVALID_ARGUMENT;
    }
    uint64_t log_every;
    if (parse_config(config_json, &log_every, error, error_size) != 0)
        return PMD_ERR_CONFIG;
    struct pmd_instance *in = calloc(1, sizeof(*in));
    if (in == NULL) {
        set_error(error, error_size, "init: out of memory");
        return PMD_ERR_NO_MEMORY;
    }
    /* Copy only what the host gave; a newer host's extra fields are ignored. */
    size_t n = host->struct_size < sizeof(in->host) ? host->struct_size : sizeof(in->host);
    memcpy(&in->host, host, n);
    in->host.struct_size = (uint32_t)n;
    in->state = LC_INITIALIZED;
    in->log_every_ticks = log_every;
    *out_instance = in;
    return PMD_OK;
}

/* Every entry point goes through this: NULL and re-entry are refused. */
static int32_t enter(struct pmd_instance *in)
{
    if (in == NULL)
        return PMD_ERR_INVALID_ARGUMENT;
    if (in->in_call)
        return PMD_ERR_STATE;
    in->in_call = 1;
    return PMD_OK;
}

static int32_t leave(struct pmd_instance *in, int32_t rc)
{
    in->in_call = 0;
    return rc;
}

static int32_t example_start(pmd_instance_t *in)
{
    int32_t rc = enter(in);
    if (rc != PMD_OK)
        return rc;
    if (in->state != LC_INITIALIZED)
        return leave(in, PMD_ERR_STATE);
    in->state = LC_STARTED;
    say(in, PMD_LOG_INFO, "example: started (no control plane, nothing to register)");
    report_state(in, PMD_NODE_REGISTERED, "example plugin: no control plane");
    return leave(in, PMD_OK);
}

/* Strict UTF-8: no overlong forms, no surrogates, nothing past U+10FFFF. */
static int utf8_valid(const char *text)
{
    const unsigned char *p = (const unsigned char *)text;
    while (*p) {
        unsigned c = *p++, n = c < 0x80                ? 0
                               : c >= 0xC2 && c < 0xE0 ? 1
                               : c >= 0xE0 && c < 0xF0 ? 2
                               : c >= 0xF0 && c < 0xF5 ? 3
                                                       : 9;
        if (n == 9)
            return 0;
        unsigned v = c & (0x3Fu >> n);
        for (unsigned i = 0; i < n; i++, p++) {
            if ((*p & 0xC0) != 0x80)
                return 0;
            v = v << 6 | (*p & 0x3Fu);
        }
        if ((n == 2 && (v < 0x800 || (v >= 0xD800 && v < 0xE000))) ||
            (n == 3 && (v < 0x10000 || v > 0x10FFFF)))
            return 0;
    }
    return 1;
}

/* The identity rules of a pool id (node_registration's nr_identity_problem):
 * non-empty, at most 1024 bytes, strict UTF-8, no control character (C0,
 * DEL, C1) and no U+FFFD. Returns what is wrong, or NULL. */
#define EXAMPLE_MAX_ID 1024
static const char *pool_id_problem(const char *id)
{
    size_t len = strnlen(id, EXAMPLE_MAX_ID + 1);
    if (len == 0)
        return "is empty";
    if (len > EXAMPLE_MAX_ID)
        return "is longer than 1024 bytes";
    if (!utf8_valid(id))
        return "is not valid UTF-8";
    for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
        if (*p < 0x20 || *p == 0x7F || (p[0] == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F))
            return "contains a control character";
        if (p[0] == 0xEF && p[1] == 0xBF && p[2] == 0xBD)
            return "contains U+FFFD (a replacement character)";
    }
    return NULL;
}

/* What one list_pools pull saw. A sink makes no host callback: the first
 * refusal is kept here and logged after list_pools returns. */
struct pool_pull {
    uint32_t count, refused, index;
    char first_refusal[200];
};

/* The id as printable ASCII for a log line: other bytes as \xHH, cut short. */
static void show_id(char *out, size_t size, const char *id)
{
    size_t w = 0;
    for (const unsigned char *p = (const unsigned char *)id; *p && w + 5 < size; p++)
        w += (size_t)snprintf(out + w, size - w,
                              *p >= 0x20 && *p < 0x7F && *p != '"' && *p != '\\' ? "%c" : "\\x%02x",
                              *p);
    out[w] = '\0';
}

static int32_t count_pool(void *sink_data, const pmd_pool_status_t *pool)
{
    struct pool_pull *pull = sink_data;
    uint32_t index = pull->index++;
    const char *problem = NULL;
    char shown[64] = "";
    if (pool == NULL)
        problem = "record is NULL";
    else if (pool->struct_size < PMD_POOL_STATUS_MIN_SIZE)
        problem = "struct_size does not cover pool_id";
    else if (pool->pool_id == NULL)
        problem = "pool_id is missing";
    else if ((problem = pool_id_problem(pool->pool_id)) != NULL)
        show_id(shown, sizeof(shown), pool->pool_id);
    if (problem == NULL) {
        pull->count++;
        return PMD_OK;
    }
    if (pull->refused++ == 0) /* section 5.14: refused, the line names the pool */
        snprintf(pull->first_refusal, sizeof(pull->first_refusal), "pool %u%s%s%s: %s%s",
                 (unsigned)index, shown[0] ? " (pool_id \"" : "", shown, shown[0] ? "\")" : "",
                 shown[0] ? "pool_id " : "", problem);
    return PMD_ERR_HOST_DATA;
}

static void log_pools(struct pmd_instance *in)
{
    struct pool_pull pull;
    memset(&pull, 0, sizeof(pull));
    pmd_pool_sink_t sink = {sizeof(sink), 0, &pull, count_pool};
    int32_t rc = in->host.list_pools(in->host.host_data, &sink);
    if (pull.refused > 0)
        say(in, PMD_LOG_WARN, "example: refused %u pool record(s) from the host; first: %s",
            (unsigned)pull.refused, pull.first_refusal);
    if (rc != PMD_OK)
        say(in, PMD_LOG_WARN, "example: host could not list pools (result %d)", (int)rc);
    else
        say(in, PMD_LOG_INFO, "example: tick %llu, host reports %u pool(s)",
            (unsigned long long)in->ticks, (unsigned)pull.count);
}

static int32_t example_tick(pmd_instance_t *in, uint64_t now_ns)
{
    (void)now_ns;
    int32_t rc = enter(in);
    if (rc != PMD_OK)
        return rc;
    if (in->state != LC_STARTED)
        return leave(in, PMD_ERR_STATE);
    in->ticks++;
    if (in->log_every_ticks != 0 && in->ticks % in->log_every_ticks == 0)
        log_pools(in);
    return leave(in, PMD_OK);
}

static int32_t example_stop(pmd_instance_t *in)
{
    int32_t rc = enter(in);
    if (rc != PMD_OK)
        return rc;
    if (in->state != LC_STARTED)
        return leave(in, PMD_ERR_STATE);
    in->state = LC_STOPPED;
    say(in, PMD_LOG_INFO, "example: stopped after %llu tick(s)", (unsigned long long)in->ticks);
    report_state(in, PMD_NODE_STOPPED, "stopped");
    return leave(in, PMD_OK);
}

static void example_destroy(pmd_instance_t *in)
{
    if (in == NULL || in->in_call)
        return;
    if (in->state == LC_STARTED)
        example_stop(in);
    free(in);
}

static const pmd_ext_conformance_t example_conformance = {sizeof(pmd_ext_conformance_t), 0,
                                                          "{\"log_every_ticks\": 1000}"};

static const void *example_get_extension(const char *id)
{
    if (id != NULL && strcmp(id, PMD_EXT_CONFORMANCE) == 0)
        return &example_conformance;
    return NULL;
}

static const pmd_plugin_t example_plugin = {
    .struct_size = sizeof(pmd_plugin_t),
    .abi_major = PMD_ABI_VERSION_MAJOR,
    .abi_minor = PMD_ABI_VERSION_MINOR,
    .name = "example",
    .version = EXAMPLE_VERSION,
    .description = "Template plugin: logs the host's pools, talks to nobody",
    .stop_timeout_ms = 10,
    .init = example_init,
    .on_start = example_start,
    .on_tick = example_tick,
    .on_stop = example_stop,
    .destroy = example_destroy,
    .result_string = pmd_result_name, /* the header's names (PMD_RESULT_MAP) */
    .get_extension = example_get_extension,
};

PMD_EXPORT int32_t pmd_plugin_entry(uint32_t host_abi_major, uint32_t host_abi_minor,
                                    const pmd_plugin_t **out_plugin)
{
    (void)host_abi_minor; /* every minor of our major is served by one descriptor */
    if (out_plugin == NULL)
        return PMD_ERR_INVALID_ARGUMENT;
    *out_plugin = &example_plugin;
    return host_abi_major == PMD_ABI_VERSION_MAJOR ? PMD_OK : PMD_ERR_ABI_MAJOR;
}
