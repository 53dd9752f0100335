/* orchd.c - test-side client for orchd-dev: process management (fork+exec,
 * port file, stop) and small HTTP calls over libcurl. See orchd.h. */
#include "orchd.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef ORCHD_DEV_PATH
#define ORCHD_DEV_PATH "orchd-dev"
#endif

#define ADMIN_TIMEOUT_MS 5000L
#define START_TIMEOUT_MS 5000
#define MAX_RESPONSE (64u * 1024 * 1024)

extern char **environ;

struct orchd {
    pid_t pid;
    int port;
    int tls;
    char dir[256];
    char port_path[300], log_path[300];
    char url[64];
    char *cainfo;     /* tls_cert path */
    char *token;      /* fixed token, or NULL */
    char *token_file; /* read at call time, or NULL */
};

struct buf {
    char *p;
    size_t n;
};

static void msleep(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* ---- HTTP ------------------------------------------------------------ */

static size_t on_data(char *p, size_t size, size_t n, void *cls)
{
    struct buf *b = cls;
    size_t add = size * n;
    char *grown;
    if (b->n + add > MAX_RESPONSE || !(grown = realloc(b->p, b->n + add + 1)))
        return 0;
    memcpy(grown + b->n, p, add);
    b->p = grown;
    b->n += add;
    b->p[b->n] = '\0';
    return add;
}

/* The current token for /v2/ calls (malloc'd), or NULL. */
static char *current_token(const orchd_t *o)
{
    char buf[4096];
    size_t n;
    FILE *f;
    if (!o->token_file)
        return dup_or_null(o->token);
    if (!(f = fopen(o->token_file, "rb")))
        return NULL;
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    while (n > 0 && strchr(" \t\r\n", buf[n - 1]))
        n--;
    buf[n] = '\0';
    return strdup(buf);
}

/* One request; returns the HTTP status (0 on a transport error). OUT
 * receives the body (caller frees out->p). */
static long http(const orchd_t *o, const char *method, const char *path, const char *body,
                 struct buf *out)
{
    CURL *h = curl_easy_init();
    struct curl_slist *hdr = NULL;
    char url[1024], *auth = NULL, *tok = strncmp(path, "/v2/", 4) == 0 ? current_token(o) : NULL;
    long status = 0;
    out->p = NULL;
    out->n = 0;
    if (!h) {
        free(tok);
        return 0;
    }
    snprintf(url, sizeof url, "%s%s", o->url, path);
    if (tok && (auth = malloc(strlen(tok) + 32)) != NULL) {
        sprintf(auth, "Authorization: Bearer %s", tok);
        hdr = curl_slist_append(hdr, auth);
    }
    if (body)
        hdr = curl_slist_append(hdr, "Content-Type: application/json");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, ADMIN_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
    if (body)
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    if (o->cainfo)
        curl_easy_setopt(h, CURLOPT_CAINFO, o->cainfo);
    if (curl_easy_perform(h) == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    if (auth)
        memset(auth, 0, strlen(auth));
    free(auth);
    free(tok);
    return status;
}

/* An admin call expected to answer 200; -1 (message on stderr) otherwise. */
static int admin(orchd_t *o, const char *method, const char *path, const char *body)
{
    struct buf b;
    long status = http(o, method, path, body, &b);
    if (status != 200)
        fprintf(stderr, "orchd: %s %s -> %ld %s\n", method, path, status, b.p ? b.p : "");
    free(b.p);
    return status == 200 ? 0 : -1;
}

struct json_object *orchd_get_json(orchd_t *o, const char *path)
{
    struct buf b;
    long status = http(o, "GET", path, NULL, &b);
    struct json_object *j = status >= 200 && status < 300 && b.p ? json_tokener_parse(b.p) : NULL;
    free(b.p);
    return j;
}

int orchd_fault(orchd_t *o, const char *fault_json)
{
    return admin(o, "POST", "/_dev/fault", fault_json);
}

int orchd_clear_faults(orchd_t *o)
{
    return admin(o, "DELETE", "/_dev/fault", NULL);
}

int orchd_restart(orchd_t *o)
{
    return admin(o, "POST", "/_dev/restart", NULL);
}

struct json_object *orchd_node(orchd_t *o, const char *node_id)
{
    struct json_object *list = orchd_get_json(o, "/_dev/nodes"), *nodes, *found = NULL;
    if (list && json_object_object_get_ex(list, "nodes", &nodes))
        for (size_t i = 0; !found && i < json_object_array_length(nodes); i++) {
            struct json_object *n = json_object_array_get_idx(nodes, i);
            if (strcmp(json_object_get_string(json_object_object_get(n, "node_id")), node_id) == 0)
                found = json_object_get(n);
        }
    json_object_put(list);
    return found;
}

int orchd_wait_node_status(orchd_t *o, const char *node_id, const char *status, int timeout_ms)
{
    long deadline = now_ms() + timeout_ms;
    for (;;) {
        struct json_object *n = orchd_node(o, node_id);
        const char *s = n ? json_object_get_string(json_object_object_get(n, "status")) : NULL;
        int reached = status ? s && strcmp(s, status) == 0 : n == NULL;
        json_object_put(n);
        if (reached)
            return 0;
        if (now_ms() >= deadline)
            return -1;
        msleep(20);
    }
}

long orchd_stat(orchd_t *o, const char *dotted_key)
{
    struct json_object *stats = orchd_get_json(o, "/_dev/stats"), *cur = stats;
    char key[256], *part, *save = NULL;
    long v = -1;
    snprintf(key, sizeof key, "%s", dotted_key);
    for (part = strtok_r(key, ".", &save); cur && part; part = strtok_r(NULL, ".", &save))
        if (!json_object_object_get_ex(cur, part, &cur))
            cur = NULL;
    if (cur && json_object_is_type(cur, json_type_int))
        v = (long)json_object_get_int64(cur);
    else if (stats && !cur && strncmp(dotted_key, "status.", 7) == 0)
        v = 0; /* a status code that never occurred */
    json_object_put(stats);
    return v;
}

/* ---- process --------------------------------------------------------- */

/* environ without LLORCH_API_TOKEN, plus TOKEN's entry if any. */
static char **child_env(const char *token, char **token_entry)
{
    size_t n = 0, k = 0;
    char **env;
    while (environ[n])
        n++;
    if (!(env = calloc(n + 2, sizeof *env)))
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "LLORCH_API_TOKEN=", 17) != 0)
            env[k++] = environ[i];
    *token_entry = NULL;
    if (token && (*token_entry = malloc(strlen(token) + 18)) != NULL) {
        sprintf(*token_entry, "LLORCH_API_TOKEN=%s", token);
        env[k++] = *token_entry;
    }
    return env;
}

static int child_args(const orchd_t *o, const orchd_options_t *opt, const char **argv,
                      char num[2][16])
{
    int n = 0;
    const char *bin = getenv("ORCHD_DEV_BIN");
    argv[n++] = bin && *bin ? bin : ORCHD_DEV_PATH;
    argv[n++] = "--port";
    argv[n++] = "0";
    argv[n++] = "--port-file";
    argv[n++] = o->port_path;
    argv[n++] = "--quiet";
    if (opt->offline_timeout_ms) {
        snprintf(num[0], 16, "%u", opt->offline_timeout_ms);
        argv[n++] = "--offline-timeout-ms";
        argv[n++] = num[0];
    }
    if (opt->next_heartbeat_ms) {
        snprintf(num[1], 16, "%u", opt->next_heartbeat_ms);
        argv[n++] = "--next-heartbeat-ms";
        argv[n++] = num[1];
    }
    if (opt->strict_unknown)
        argv[n++] = "--strict-unknown";
    const char *pairs[][2] = {{"--token-file", opt->token_file},
                              {"--tls-cert", opt->tls_cert},
                              {"--tls-key", opt->tls_key},
                              {"--tls-client-ca", opt->tls_client_ca}};
    for (size_t i = 0; i < 4; i++)
        if (pairs[i][1]) {
            argv[n++] = pairs[i][0];
            argv[n++] = pairs[i][1];
        }
    argv[n] = NULL;
    return n;
}

/* Everything is prepared before fork: only async-signal-safe calls follow
 * in the child (the caller may have threads). */
static int spawn(orchd_t *o, const orchd_options_t *opt)
{
    const char *argv[24];
    char num[2][16], *token_entry = NULL;
    char **env = child_env(opt->token, &token_entry);
    int logfd = open(o->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
    child_args(o, opt, argv, num);
    if (env && logfd >= 0 && nullfd >= 0 && (o->pid = fork()) == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        dup2(nullfd, 0);
        dup2(nullfd, 1);
        dup2(logfd, 2);
        execve(argv[0], (char *const *)argv, env);
        _exit(127);
    }
    if (logfd >= 0)
        close(logfd);
    if (nullfd >= 0)
        close(nullfd);
    free(env);
    free(token_entry);
    return o->pid > 0 ? 0 : -1;
}

static int read_port(const char *path)
{
    FILE *f = fopen(path, "r");
    int port = 0;
    if (f) {
        if (fscanf(f, "%d", &port) != 1)
            port = 0;
        fclose(f);
    }
    return port;
}

static void dump_log(const orchd_t *o)
{
    char line[512];
    FILE *f = fopen(o->log_path, "r");
    while (f && fgets(line, sizeof line, f))
        fprintf(stderr, "orchd-dev log: %s", line);
    if (f)
        fclose(f);
}

/* Wait for the port file, then for /_dev/stats to answer. */
static int wait_ready(orchd_t *o)
{
    long deadline = now_ms() + START_TIMEOUT_MS;
    struct json_object *stats;
    int status;
    while (now_ms() < deadline) {
        if (waitpid(o->pid, &status, WNOHANG) == o->pid) {
            o->pid = 0;
            fprintf(stderr, "orchd: orchd-dev exited early (status %d)\n", status);
            return -1;
        }
        if (!o->port && (o->port = read_port(o->port_path)) > 0)
            snprintf(o->url, sizeof o->url, "%s://%s:%d", o->tls ? "https" : "http",
                     o->tls ? "localhost" : "127.0.0.1", o->port);
        if (o->port && (stats = orchd_get_json(o, "/_dev/stats")) != NULL) {
            json_object_put(stats);
            return 0;
        }
        msleep(10);
    }
    fprintf(stderr, "orchd: orchd-dev not ready within %d ms\n", START_TIMEOUT_MS);
    return -1;
}

orchd_t *orchd_start(const orchd_options_t *opt)
{
    static const orchd_options_t defaults = {0};
    const char *tmp = getenv("TMPDIR");
    orchd_t *o = calloc(1, sizeof *o);
    if (!opt)
        opt = &defaults;
    if (!o)
        return NULL;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    snprintf(o->dir, sizeof o->dir, "%s/orchd-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    o->tls = opt->tls_cert != NULL;
    o->cainfo = dup_or_null(opt->tls_cert);
    o->token = dup_or_null(opt->token);
    o->token_file = dup_or_null(opt->token_file);
    if (!mkdtemp(o->dir)) {
        fprintf(stderr, "orchd: mkdtemp %s: %s\n", o->dir, strerror(errno));
        o->dir[0] = '\0';
        orchd_stop(o);
        return NULL;
    }
    snprintf(o->port_path, sizeof o->port_path, "%s/port", o->dir);
    snprintf(o->log_path, sizeof o->log_path, "%s/orchd-dev.log", o->dir);
    if (spawn(o, opt) != 0 || wait_ready(o) != 0) {
        const char *bin = getenv("ORCHD_DEV_BIN");
        fprintf(stderr, "orchd: cannot start orchd-dev (%s)\n", bin ? bin : ORCHD_DEV_PATH);
        dump_log(o);
        orchd_stop(o);
        return NULL;
    }
    return o;
}

const char *orchd_url(const orchd_t *o)
{
    return o->url;
}

int orchd_port(const orchd_t *o)
{
    return o->port;
}

const char *orchd_log_path(const orchd_t *o)
{
    return o->log_path;
}

static void reap(pid_t pid)
{
    long deadline = now_ms() + 3000;
    kill(pid, SIGTERM);
    while (waitpid(pid, NULL, WNOHANG) == 0) {
        if (now_ms() >= deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            return;
        }
        msleep(5);
    }
}

static void remove_dir(const char *dir)
{
    char path[600];
    struct dirent *e;
    DIR *d = opendir(dir);
    while (d && (e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    if (d)
        closedir(d);
    rmdir(dir);
}

void orchd_stop(orchd_t *o)
{
    const char *keep = getenv("ORCHD_KEEP");
    if (!o)
        return;
    if (o->pid > 0)
        reap(o->pid);
    if (o->dir[0] && !(keep && *keep == '1'))
        remove_dir(o->dir);
    else if (o->dir[0])
        fprintf(stderr, "orchd: kept %s\n", o->dir);
    free(o->cainfo);
    if (o->token)
        memset(o->token, 0, strlen(o->token));
    free(o->token);
    free(o->token_file);
    free(o);
}
