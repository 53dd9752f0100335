/*
 * log_fields_test.c - pmd.host.ext.log_fields/1 (include/pmd_plugin.h,
 * plugin.abi.md section 11):
 *   - nr_log, node_registration's one source of truth for an event: the
 *     text line's exact bytes, raw fields, bounds;
 *   - pmd-host-shim's line from fields equals the plugin's own text line;
 *     the shim offers the extension (and withholds it when told);
 *   - node_registration against orchd-dev: a host offering the extension
 *     gets every event as fields (none as text), a host without it (or a
 *     1.0 host struct) gets the text lines, with the same event names and
 *     keys both ways;
 *   - pmd-host-shim running node_registration prints the same lines (same
 *     keys in the same order) with and without the extension.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "host_callbacks.h"
#include "loader.h"
#include "log_fields.h"
#include "nr_log.h"
#include "orchd.h"
#include "test_host.h"

extern char **environ;

/* ---------------------------------------------------------------------- */
/* nr_log: the record and its two renderings                               */
/* ---------------------------------------------------------------------- */

Test(nr_log, text_line_keeps_the_bytes_the_plugin_always_logged)
{
    nr_log_record_t r;
    char line[NR_LOG_LINE];
    nr_log_begin(&r, PMD_LOG_WARN, "register_failed");
    nr_log_add(&r, "reason", "HTTP 503: \"busy\" \\ retry");
    nr_log_addf(&r, "attempt", "%u", 3u);
    nr_log_addf(&r, "retry_in_ms", "%llu", 400ull);
    nr_log_add(&r, "cid", "00ab-7");
    nr_log_format_text(&r, "gpu-1", line, sizeof(line));
    cr_assert_str_eq(line, "node=gpu-1 event=register_failed reason=\"HTTP 503: \\\"busy\\\" \\\\ "
                           "retry\" attempt=3 retry_in_ms=400 cid=00ab-7");
    /* prose keys are quoted even when one word; others never are */
    nr_log_begin(&r, PMD_LOG_INFO, "deregistered");
    nr_log_add(&r, "status", "204");
    nr_log_add(&r, "note", "gone");
    nr_log_add(&r, "url", "http://h:1/a b");
    nr_log_format_text(&r, NULL, line, sizeof(line));
    cr_assert_str_eq(line, "node=? event=deregistered status=204 note=\"gone\" url=http://h:1/a b");
}

Test(nr_log, fields_are_raw_with_the_node_first)
{
    nr_log_record_t r;
    pmd_log_field_t f[NR_LOG_FIELDS + 1];
    nr_log_begin(&r, PMD_LOG_ERROR, "heartbeat_failed");
    nr_log_add(&r, "reason", "say \"hi\"");
    nr_log_add(&r, "empty", NULL);
    uint32_t n = nr_log_fields(&r, "n1", f);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(f[0].key, "node");
    cr_assert_str_eq(f[0].value, "n1");
    cr_assert_str_eq(f[1].key, "reason");
    cr_assert_str_eq(f[1].value, "say \"hi\"");
    cr_assert_str_eq(f[2].value, "");
    cr_assert_eq(nr_log_fields(&r, NULL, f), 2);
    cr_assert_str_eq(r.event, "heartbeat_failed");
    cr_assert_eq(r.level, PMD_LOG_ERROR);
}

Test(nr_log, sizes_are_bounded_and_cuts_keep_utf8_whole)
{
    nr_log_record_t r;
    char big[1000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    nr_log_begin(&r, PMD_LOG_INFO, big);
    cr_assert_eq(strlen(r.event), NR_LOG_EVENT - 1);
    for (int i = 0; i < NR_LOG_FIELDS + 3; i++)
        nr_log_addf(&r, "k", "%d", i);
    cr_assert_eq(r.count, NR_LOG_FIELDS);
    cr_assert(r.truncated);
    nr_log_begin(&r, PMD_LOG_INFO, "e");
    /* 2-byte characters: a cut never leaves half of one */
    char wide[2 * NR_LOG_BUF + 1] = "";
    for (int i = 0; i < NR_LOG_BUF; i++)
        strcat(wide, "\xc3\xa9");
    nr_log_add(&r, "v", wide);
    const char *v = nr_log_value(&r, 0);
    cr_assert(strlen(v) > 0 && strlen(v) % 2 == 0, "%zu", strlen(v));
    cr_assert(r.truncated);
    nr_log_add(&r, "more", "x"); /* no room: dropped */
    cr_assert_eq(r.count, 1);
    char line[NR_LOG_LINE];
    cr_assert_lt(nr_log_format_text(&r, big, line, sizeof(line)), sizeof(line));
}

/* ---------------------------------------------------------------------- */
/* The shim's line from fields                                             */
/* ---------------------------------------------------------------------- */

Test(shim_log_fields, same_line_as_the_plugins_text_for_the_same_event)
{
    struct {
        const char *event, *keys[4], *values[4];
    } cases[] = {
        {"registered", {"status", "latency_ms", "cid"}, {"201", "3.2", "0f-1"}},
        {"register_failed",
         {"reason", "attempt", "cid"},
         {"no response: refused \"x\"", "2", "a-2"}},
        {"registering", {"url"}, {"http://127.0.0.1:9"}},
        {"handed_over", {"action"}, {"no_deregistration"}},
    };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        nr_log_record_t r;
        nr_log_begin(&r, PMD_LOG_INFO, cases[c].event);
        for (int i = 0; i < 4 && cases[c].keys[i] != NULL; i++)
            nr_log_add(&r, cases[c].keys[i], cases[c].values[i]);
        char text[NR_LOG_LINE], shim[NR_LOG_LINE];
        pmd_log_field_t f[NR_LOG_FIELDS + 1];
        uint32_t n = nr_log_fields(&r, "node-7", f);
        nr_log_format_text(&r, "node-7", text, sizeof(text));
        shim_log_fields_format(shim, sizeof(shim), r.event, f, n);
        cr_assert_str_eq(shim, text);
    }
}

Test(shim_log_fields, untrusted_keys_cannot_forge_pairs)
{
    char out[512];
    pmd_log_field_t f[] = {
        {"a b=c", "1"}, {"event", "forged"}, {NULL, "skipped"}, {"v", NULL}, {"node", "late"}};
    shim_log_fields_format(out, sizeof(out), "e", f, 5);
    cr_assert_str_eq(out, "event=e a_b_c=1 _event=forged v=\"\" node=late");
    shim_log_fields_format(out, sizeof(out), NULL, NULL, 3);
    cr_assert_str_eq(out, "event=(null)");
    pmd_log_field_t many[40];
    for (int i = 0; i < 40; i++)
        many[i] = (pmd_log_field_t){"k", "v"};
    shim_log_fields_format(out, sizeof(out), "e", many, 40);
    int count = 0;
    for (const char *p = out; (p = strstr(p, " k=v")) != NULL; p++)
        count++;
    cr_assert_eq(count, (int)PMD_LOG_FIELDS_MAX);
}

static const pmd_plugin_t shim_named = {.struct_size = sizeof(pmd_plugin_t), .name = "nr"};

Test(shim_log_fields, the_shim_offers_it_and_prints_the_plugins_line)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    shim_host_t h;
    unsetenv("PMD_SHIM_NO_LOG_FIELDS");
    shim_host_setup(&h, out, "0", NULL, NULL, &shim_named);
    shim_host_enter(&h, SHIM_CALL_TICK);
    const pmd_ext_log_fields_t *t = h.abi.get_extension(h.abi.host_data, PMD_HOST_EXT_LOG_FIELDS);
    cr_assert_not_null(t);
    cr_assert_geq(t->struct_size, PMD_EXT_LOG_FIELDS_MIN_SIZE);
    cr_assert_null(h.abi.get_extension(h.abi.host_data, "pmd.host.ext.log_fields/2"));
    pmd_log_field_t f[] = {{"node", "n1"}, {"reason", "a \"b\""}};
    t->log_fields(h.abi.host_data, PMD_LOG_WARN, "heartbeat_failed", f, 2);
    shim_host_leave(&h);
    fclose(out);
    cr_assert(
        strstr(buf, " WARN  plugin=nr node=n1 event=heartbeat_failed reason=\"a \\\"b\\\"\"\n"),
        "%s", buf);
    cr_assert_eq(shim_host_violations(&h), 0);
    free(buf);

    setenv("PMD_SHIM_NO_LOG_FIELDS", "1", 1);
    shim_host_setup(&h, stderr, "0", NULL, NULL, &shim_named);
    shim_host_enter(&h, SHIM_CALL_INIT);
    cr_assert_null(h.abi.get_extension(h.abi.host_data, PMD_HOST_EXT_LOG_FIELDS));
    shim_host_leave(&h);
    unsetenv("PMD_SHIM_NO_LOG_FIELDS");
}

/* ---------------------------------------------------------------------- */
/* node_registration with and without the extension                        */
/* ---------------------------------------------------------------------- */

#define MAX_EVENTS 256

typedef struct got_event {
    int32_t level;
    char event[64];
    char keys[256]; /* "node status latency_ms cid" */
    char status[16];
    char node[64];
} got_event_t;

/* What our log_fields got (host thread only, so no lock). */
static struct {
    int count;
    int queried;
    int off_thread;
    pthread_t host_thread;
    got_event_t ev[MAX_EVENTS];
} got;

static void rec_log_fields(void *host_data, int32_t level, const char *event,
                           const pmd_log_field_t *fields, uint32_t count)
{
    (void)host_data;
    got.off_thread |= !pthread_equal(pthread_self(), got.host_thread);
    if (got.count == MAX_EVENTS)
        return;
    cr_assert_leq(count, PMD_LOG_FIELDS_MAX);
    got_event_t *e = &got.ev[got.count++];
    e->level = level;
    snprintf(e->event, sizeof(e->event), "%s", event);
    e->keys[0] = '\0';
    for (uint32_t i = 0; i < count; i++) {
        cr_assert(fields[i].key != NULL && fields[i].value != NULL);
        cr_assert_str_neq(fields[i].key, "event");
        if (strcmp(fields[i].key, "status") == 0)
            snprintf(e->status, sizeof(e->status), "%s", fields[i].value);
        if (i == 0 && strcmp(fields[i].key, "node") == 0)
            snprintf(e->node, sizeof(e->node), "%s", fields[i].value);
        strncat(e->keys, i ? " " : "", sizeof(e->keys) - strlen(e->keys) - 1);
        strncat(e->keys, fields[i].key, sizeof(e->keys) - strlen(e->keys) - 1);
    }
}

static const pmd_ext_log_fields_t rec_ext = {sizeof(pmd_ext_log_fields_t), 0, rec_log_fields};

static const void *rec_get_extension(void *host_data, const char *id)
{
    (void)host_data;
    got.queried++;
    return strcmp(id, PMD_HOST_EXT_LOG_FIELDS) == 0 ? &rec_ext : NULL;
}

typedef enum { HOST_FIELDS, HOST_TEXT, HOST_1_0 } host_kind_t;

static struct {
    host_loaded_plugin_t lp;
    test_host_t *host;
    orchd_t *cp;
    pmd_instance_t *in;
} fx;

static void nr_teardown(void)
{
    if (fx.in)
        th_destroy(fx.host, fx.lp.plugin, fx.in);
    if (fx.host)
        test_host_free(fx.host);
    if (fx.lp.dl_handle)
        host_loader_close(&fx.lp);
    if (fx.cp)
        orchd_stop(fx.cp);
    memset(&fx, 0, sizeof(fx));
}

static int registered_seen(void *arg)
{
    (void)arg;
    if (test_host_log_contains(fx.host, " event=registered "))
        return 1;
    for (int i = 0; i < got.count; i++)
        if (strcmp(got.ev[i].event, "registered") == 0)
            return 1;
    return 0;
}

/* Runs node_registration against orchd-dev until it registered, then stops
 * it (deregistration included) and destroys it. */
static void run_node(host_kind_t kind, const char *node_id)
{
    char err[512] = "", cfg[512];
    memset(&got, 0, sizeof(got));
    got.host_thread = pthread_self();
    cr_assert_eq(host_loader_open(NODE_REGISTRATION_SO, PMD_ABI_VERSION_MAJOR,
                                  PMD_ABI_VERSION_MINOR, &fx.lp, err, sizeof(err)),
                 PMD_OK, "%s", err);
    fx.host = test_host_new();
    fx.cp = orchd_start(NULL);
    cr_assert_not_null(fx.cp);
    snprintf(
        cfg, sizeof(cfg),
        "{\"node_id\":\"%s\",\"address\":\"http://10.0.0.5:9200\",\"orchestratord_url\":\"%s\","
        "\"heartbeat_interval_ms\":100,\"retry_base_ms\":20,\"retry_max_ms\":200}",
        node_id, orchd_url(fx.cp));
    pmd_host_t host = *test_host_abi(fx.host);
    if (kind != HOST_TEXT)
        host.get_extension = rec_get_extension; /* test host's callbacks otherwise */
    if (kind == HOST_1_0)
        host.struct_size = PMD_HOST_SIZE_1_0; /* get_extension lies past the size */
    test_host_enter(fx.host);
    int32_t rc = fx.lp.plugin->init(&host, cfg, &fx.in, err, sizeof(err));
    test_host_leave(fx.host);
    cr_assert_eq(rc, PMD_OK, "%s", err);
    cr_assert_eq(th_start(fx.host, fx.lp.plugin, fx.in), PMD_OK);
    cr_assert(th_tick_until(fx.host, fx.lp.plugin, fx.in, registered_seen, NULL, 10000),
              "never registered");
    cr_assert_eq(th_stop(fx.host, fx.lp.plugin, fx.in), PMD_OK);
    th_destroy(fx.host, fx.lp.plugin, fx.in);
    fx.in = NULL;
    cr_expect_eq(test_host_violations(fx.host), 0, "%s", test_host_violation(fx.host, 0));
    cr_assert_not(got.off_thread, "log_fields called off the host thread");
}

/* The keys of a text line "node=X event=E k=v k="a b" ...", "node" first
 * and "event" left out: what log_fields would have listed. */
static void keys_of_line(const char *line, char *event, size_t esize, char *keys, size_t ksize)
{
    keys[0] = event[0] = '\0';
    for (const char *p = line; *p != '\0';) {
        const char *eq = strchr(p, '=');
        if (eq == NULL)
            break;
        char key[64];
        snprintf(key, sizeof(key), "%.*s", (int)(eq - p), p);
        const char *v = eq + 1, *end;
        if (*v == '"') {
            for (end = v + 1; *end != '\0' && *end != '"'; end++)
                if (*end == '\\' && end[1] != '\0')
                    end++;
            if (*end == '"')
                end++;
        } else {
            end = v + strcspn(v, " ");
        }
        if (strcmp(key, "event") == 0) {
            snprintf(event, esize, "%.*s", (int)(end - v), v);
        } else {
            strncat(keys, keys[0] ? " " : "", ksize - strlen(keys) - 1);
            strncat(keys, key, ksize - strlen(keys) - 1);
        }
        p = end + (*end == ' ');
    }
}

TestSuite(log_fields_nr, .fini = nr_teardown, .timeout = 40);

Test(log_fields_nr, a_host_with_the_extension_gets_every_event_as_fields)
{
    run_node(HOST_FIELDS, "fields-node");
    cr_assert_geq(got.queried, 1, "the plugin never asked for the extension");
    int registered = 0, registering = 0, deregistered = 0;
    for (int i = 0; i < got.count; i++) {
        cr_assert_str_eq(got.ev[i].node, "fields-node", "node first in %s", got.ev[i].event);
        if (strcmp(got.ev[i].event, "registered") == 0) {
            registered++;
            cr_assert_eq(got.ev[i].level, PMD_LOG_INFO);
            cr_assert_str_eq(got.ev[i].keys, "node status latency_ms cid");
            cr_assert(strcmp(got.ev[i].status, "200") == 0 || strcmp(got.ev[i].status, "201") == 0,
                      "status %s", got.ev[i].status);
        }
        registering += strcmp(got.ev[i].event, "registering") == 0;
        deregistered += strcmp(got.ev[i].event, "deregistered") == 0;
    }
    cr_assert(registered == 1 && registering == 1 && deregistered == 1, "%d %d %d", registered,
              registering, deregistered);
    for (int i = 0; i < test_host_log_count(fx.host); i++)
        cr_assert_null(strstr(test_host_log(fx.host, i), "event="), "an event as text: %s",
                       test_host_log(fx.host, i));
}

/* Events of a run as "event: keys" lines, for the events every run has. */
static void summary(char *out, size_t size, int from_fields)
{
    static const char *const wanted[] = {"registering", "registered", "deregistered"};
    out[0] = '\0';
    for (size_t w = 0; w < 3; w++) {
        char event[64], keys[256] = "";
        if (from_fields) {
            for (int i = 0; i < got.count; i++)
                if (strcmp(got.ev[i].event, wanted[w]) == 0)
                    snprintf(keys, sizeof(keys), "%s", got.ev[i].keys);
        } else {
            for (int i = 0; i < test_host_log_count(fx.host); i++) {
                char k[256];
                keys_of_line(test_host_log(fx.host, i), event, sizeof(event), k, sizeof(k));
                if (strcmp(event, wanted[w]) == 0)
                    snprintf(keys, sizeof(keys), "%s", k);
            }
        }
        size_t n = strlen(out);
        snprintf(out + n, size - n, "%s: %s\n", wanted[w], keys);
    }
}

Test(log_fields_nr, without_it_the_same_events_come_as_text_lines)
{
    char fields[1024], text[1024], old[1024];
    run_node(HOST_FIELDS, "same-node");
    summary(fields, sizeof(fields), 1);
    nr_teardown();
    run_node(HOST_TEXT, "same-node");
    cr_assert_eq(got.count, 0);
    cr_assert(test_host_log_contains(fx.host, "node=same-node event=registered status="));
    summary(text, sizeof(text), 0);
    cr_assert_str_eq(text, fields);
    cr_assert(strstr(text, "registered: node status latency_ms cid\n"), "%s", text);
    nr_teardown();
    run_node(HOST_1_0, "same-node"); /* a 1.0 host struct: never queried */
    cr_assert_eq(got.queried, 0);
    cr_assert_eq(got.count, 0);
    summary(old, sizeof(old), 0);
    cr_assert_str_eq(old, fields);
}

/* ---------------------------------------------------------------------- */
/* pmd-host-shim running node_registration, with and without it            */
/* ---------------------------------------------------------------------- */

/* Runs the shim for about 1.5 s against cp; its stderr into out. */
static void run_shim(orchd_t *cp, const char *dir, int offer, char *out, size_t size)
{
    char cfg[256], err[256];
    snprintf(cfg, sizeof(cfg), "%s/config.json", dir);
    snprintf(err, sizeof(err), "%s/err-%d.txt", dir, offer);
    FILE *f = fopen(cfg, "w");
    cr_assert_not_null(f);
    fprintf(f,
            "{\"node_id\":\"shim-fields\",\"address\":\"http://127.0.0.1:9200\","
            "\"orchestratord_url\":\"%s\",\"heartbeat_interval_ms\":200}",
            orchd_url(cp));
    fclose(f);
    const char *argv[] = {SHIM_EXE,    "--plugin", NODE_REGISTRATION_SO, "--config", cfg,
                          "--tick-ms", "20",       "--run-for",          "1.5",      NULL};
    if (offer)
        unsetenv("PMD_SHIM_NO_LOG_FIELDS");
    else
        setenv("PMD_SHIM_NO_LOG_FIELDS", "1", 1);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid;
    int rc = posix_spawn(&pid, SHIM_EXE, &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    unsetenv("PMD_SHIM_NO_LOG_FIELDS");
    cr_assert_eq(rc, 0);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    f = fopen(err, "r");
    size_t n = f ? fread(out, 1, size - 1, f) : 0;
    if (f)
        fclose(f);
    out[n] = '\0';
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "shim failed:\n%s", out);
}

/* The plugin's event lines of a shim log, each cut to "event: keys", in order. */
static void shim_events(const char *log, char *out, size_t size)
{
    out[0] = '\0';
    for (const char *p = log; *p != '\0';) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char line[4096];
        snprintf(line, sizeof(line), "%.*s", (int)len, p);
        const char *msg = strstr(line, "plugin=node_registration node=");
        if (msg != NULL && strstr(msg, " event=state_changed ") == NULL) {
            char event[64], keys[512];
            keys_of_line(msg + strlen("plugin=node_registration "), event, sizeof(event), keys,
                         sizeof(keys));
            if (strcmp(event, "heartbeat") != 0) { /* their count depends on timing */
                size_t n = strlen(out);
                snprintf(out + n, size - n, "%s: %s\n", event, keys);
            }
        }
        p += len + (nl != NULL);
    }
}

Test(log_fields_shim, the_shim_prints_the_same_lines_either_way, .timeout = 40)
{
    static char with[256 * 1024], without[256 * 1024];
    char a[8192], b[8192];
    char dir[] = "/tmp/log_fields_test_XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    orchd_t *cp = orchd_start(NULL);
    cr_assert_not_null(cp);
    run_shim(cp, dir, 1, with, sizeof(with));
    run_shim(cp, dir, 0, without, sizeof(without));
    orchd_stop(cp);
    shim_events(with, a, sizeof(a));
    shim_events(without, b, sizeof(b));
    cr_assert_str_eq(a, b, "with:\n%s\nwithout:\n%s", with, without);
    cr_assert(strstr(a, "registered: node status latency_ms cid\n"), "%s", with);
    cr_assert(strstr(a, "registering: node url\n"), "%s", with);
    /* the url line is the same bytes both ways */
    const char *u1 = strstr(with, "node=shim-fields event=registering url=");
    const char *u2 = strstr(without, "node=shim-fields event=registering url=");
    cr_assert(u1 && u2);
    cr_assert_eq(strcspn(u1, "\n"), strcspn(u2, "\n"));
    cr_assert_eq(strncmp(u1, u2, strcspn(u1, "\n")), 0);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}
