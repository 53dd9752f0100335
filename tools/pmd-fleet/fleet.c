/* fleet.c - the hollow nodes' lifecycle. One host thread makes every ABI
 * call, as pool-managerd would for its one node: the plugin sees N hosts. */
#include "fleet.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void note_failure(pf_fleet_t *f, const hollow_node_t *n, const char *what, int32_t rc,
                         const char *why)
{
    if (f->first_failure[0] != '\0')
        return;
    snprintf(f->first_failure, sizeof(f->first_failure), "%s: %s: %s (%s)", n->node_id, what,
             f->plugin->result_string(rc), why && *why ? why : "no reason given");
}

static int digits(uint32_t count)
{
    int d = 1;
    for (uint32_t v = count > 0 ? count - 1 : 0; v >= 10; v /= 10)
        d++;
    return d;
}

int pf_fleet_init(pf_fleet_t *f, const pmd_plugin_t *p, uint32_t abi_minor, uint32_t count,
                  const char *prefix, pf_template_t *tpl, int verbose)
{
    memset(f, 0, sizeof(*f));
    f->plugin = p;
    f->abi_minor = abi_minor;
    f->logs.verbose = verbose;
    pthread_mutex_init(&f->logs.lock, NULL);
    f->stats = p->get_extension ? p->get_extension(PMD_EXT_STATS) : NULL;
    f->nodes = calloc(count, sizeof(*f->nodes));
    if (f->nodes == NULL)
        return -1;
    f->count = count;
    for (uint32_t i = 0; i < count; i++) {
        char id[200], err[256] = "";
        int len = snprintf(id, sizeof(id), "%s%0*u", prefix, digits(count), i);
        char *config = len > 0 && (size_t)len < sizeof(id) ? pf_template_render(tpl, id) : NULL;
        if (config == NULL)
            return -1;
        int32_t rc = hn_init(&f->nodes[i], p, abi_minor, i, id, config, &f->logs, err, sizeof(err));
        free(config);
        if (rc != PMD_OK) {
            f->init_failed++;
            note_failure(f, &f->nodes[i], "init", rc, err);
        }
    }
    return 0;
}

uint32_t pf_fleet_start_due(pf_fleet_t *f, uint64_t t0_ns, uint64_t span_ns, uint64_t now_ns)
{
    uint32_t n = 0;
    while (f->started < f->count) {
        uint64_t due = t0_ns + (uint64_t)((double)span_ns * f->started / f->count);
        if (due > now_ns)
            break;
        hollow_node_t *node = &f->nodes[f->started++];
        if (node->inst == NULL)
            continue;
        int32_t rc = hn_start(node, f->plugin);
        if (rc != PMD_OK) {
            f->start_failed++;
            char why[256] = "";
            pthread_mutex_lock(&f->logs.lock);
            if (f->logs.last_error_node == node) /* its own ERROR line during start */
                snprintf(why, sizeof(why), "%s", f->logs.last_error);
            pthread_mutex_unlock(&f->logs.lock);
            note_failure(f, node, "start", rc, why);
        }
        n++;
    }
    return n;
}

void pf_fleet_tick(pf_fleet_t *f, uint64_t now_ns)
{
    for (uint32_t i = 0; i < f->started; i++)
        hn_tick(&f->nodes[i], f->plugin, now_ns);
}

/* Stoppers: stop() is bounded per instance, not per fleet; one at a time,
 * 10,000 instances against a saturated control plane would take hours.
 * Each stopper owns every PF_STOPPERS-th node, so calls on one instance
 * still come one at a time. */
#define PF_STOPPERS 64

typedef struct stopper {
    pf_fleet_t *f;
    uint32_t first;
    double longest;
    pthread_t thread;
    int running;
} stopper_t;

static void *stop_some(void *arg)
{
    stopper_t *s = arg;
    for (uint32_t i = s->first; i < s->f->count; i += PF_STOPPERS) {
        double t = mono_s();
        hn_finish(&s->f->nodes[i], s->f->plugin);
        double took = mono_s() - t;
        s->longest = took > s->longest ? took : s->longest;
    }
    return NULL;
}

void pf_fleet_finish(pf_fleet_t *f)
{
    stopper_t s[PF_STOPPERS];
    double begin = mono_s();
    for (uint32_t k = 0; k < PF_STOPPERS; k++) {
        s[k] = (stopper_t){.f = f, .first = k};
        s[k].running = pthread_create(&s[k].thread, NULL, stop_some, &s[k]) == 0;
        if (!s[k].running)
            stop_some(&s[k]); /* no thread: this one does its share */
    }
    for (uint32_t k = 0; k < PF_STOPPERS; k++) {
        if (s[k].running)
            pthread_join(s[k].thread, NULL);
        f->stop_max_s = s[k].longest > f->stop_max_s ? s[k].longest : f->stop_max_s;
    }
    f->stop_total_s = mono_s() - begin;
}

void pf_fleet_free(pf_fleet_t *f)
{
    pthread_mutex_destroy(&f->logs.lock);
    free(f->nodes);
    f->nodes = NULL;
}
