/* journal.c - the journal reader process and its file: one line per
 * request ("R seq t_ms kind status") and per gap ("G first last"). */
#include "journal.h"

#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "orchd_admin.h"

static volatile sig_atomic_t reader_stop;

static void on_term(int sig)
{
    (void)sig;
    reader_stop = 1;
}

static uint64_t u64_field(json_object *e, const char *key)
{
    json_object *v;
    return json_object_object_get_ex(e, key, &v) ? (uint64_t)json_object_get_int64(v) : 0;
}

static const char *str_field(json_object *e, const char *key)
{
    json_object *v;
    const char *s = json_object_object_get_ex(e, key, &v) ? json_object_get_string(v) : NULL;
    return s && *s ? s : "-";
}

static void read_once(const char *base, FILE *out, uint64_t *last_seq)
{
    char *body = pf_orchd_requests(base);
    json_object *arr = body ? json_tokener_parse(body) : NULL;
    free(body);
    size_t n = arr && json_object_is_type(arr, json_type_array) ? json_object_array_length(arr) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(arr, i);
        uint64_t seq = u64_field(e, "seq");
        if (seq <= *last_seq)
            continue;
        if (seq > *last_seq + 1)
            fprintf(out, "G %llu %llu\n", (unsigned long long)(*last_seq + 1),
                    (unsigned long long)(seq - 1));
        *last_seq = seq;
        fprintf(out, "R %llu %llu %s %llu\n", (unsigned long long)seq,
                (unsigned long long)u64_field(e, "t_ms"), str_field(e, "kind"),
                (unsigned long long)u64_field(e, "status"));
    }
    json_object_put(arr);
    fflush(out);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

pid_t pf_journal_start(const char *base_url, const char *path)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    signal(SIGTERM, on_term);
    FILE *out = fopen(path, "w");
    uint64_t last_seq = 0;
    while (out && !reader_stop) {
        read_once(base_url, out, &last_seq);
        for (int i = 0; i < 20 && !reader_stop; i++)
            sleep_ms(10);
    }
    if (out) {
        read_once(base_url, out, &last_seq);
        fclose(out);
    }
    _exit(0);
}

void pf_journal_stop(pid_t pid)
{
    int st;
    if (pid <= 0)
        return;
    kill(pid, SIGTERM);
    waitpid(pid, &st, 0);
}

static void count_line(const char *line, pf_bins_t *bins, pf_journal_summary_t *s)
{
    unsigned long long a, b, status;
    char kind[32];
    if (sscanf(line, "G %llu %llu", &a, &b) == 2) {
        s->missed += b - a + 1;
        return;
    }
    if (sscanf(line, "R %llu %llu %31s %llu", &a, &b, kind, &status) != 4)
        return;
    s->seen++;
    s->registers += strcmp(kind, "register") == 0;
    s->heartbeats += strcmp(kind, "heartbeat") == 0;
    s->deregisters += strcmp(kind, "deregister") == 0;
    s->no_response += status == 0;
    pf_bins_add(bins, b);
}

int pf_journal_load(const char *path, pf_bins_t *bins, pf_journal_summary_t *sum)
{
    char line[256];
    FILE *in = fopen(path, "r");
    memset(sum, 0, sizeof(*sum));
    if (in == NULL)
        return -1;
    while (fgets(line, sizeof(line), in))
        count_line(line, bins, sum);
    fclose(in);
    return 0;
}
