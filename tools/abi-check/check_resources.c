/*
 * check_resources.c - what a plugin leaves behind in the host process:
 * teardown (ABI-TEARDOWN), unload-cycles (ABI-UNLOAD) and
 * no-global-effects (ABI-GLOBAL).
 */
#include "abi_check.h"
#include "test_host.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

/* ---- teardown --------------------------------------------------------- */

/* Waits up to 1 s for the thread count to fall back to want. */
static int settle_threads(int want)
{
    int n = ac_count_threads();
    for (int i = 0; i < 100 && n > want; i++) {
        ac_sleep_us(10000);
        n = ac_count_threads();
    }
    return n;
}

static void compare_fds(const ac_fd_list_t *before, const char *when, ac_result_t *r)
{
    ac_fd_list_t after;
    ac_fd_list_take(&after);
    char list[512] = "";
    size_t used = 0;
    int extra = 0;
    for (int i = 0; i < after.n; i++) {
        if (ac_fd_list_has(before, after.fd[i]))
            continue;
        char target[200];
        ac_fd_target(after.fd[i], target, sizeof(target));
        if (used < sizeof(list))
            used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%d -> %s",
                                     used ? ", " : "", after.fd[i], target);
        extra++;
    }
    for (int i = 0; i < before->n; i++)
        if (!ac_fd_list_has(&after, before->fd[i])) {
            ac_fail(r, "%s: descriptor %d of the host was closed", when, before->fd[i]);
            break;
        }
    if (extra > 0)
        ac_fail(r, "%s: %d descriptor(s) left open: %s", when, extra, list);
}

/* One lifecycle, then threads and descriptors compared with before. */
static void teardown_round(const ac_session_t *s, int with_stop, ac_result_t *r)
{
    const char *when = with_stop ? "after stop + destroy" : "after destroy of a started instance";
    ac_fd_list_t before;
    ac_fd_list_take(&before);
    int threads = ac_count_threads();
    ac_th_rec_t rec;
    pmd_host_t host;
    pmd_instance_t *in = ac_th_init_default(&rec, &host, s, NULL, r);
    if (in == NULL)
        return;
    if (ac_th_start(&rec, s->p, in) == PMD_OK) {
        for (int i = 0; i < 50; i++) {
            ac_sleep_us(5000);
            ac_th_tick(&rec, s->p, in, ac_now_ns());
        }
        if (with_stop)
            ac_th_stop(&rec, s->p, in);
    } else {
        ac_fail(r, "start failed");
    }
    ac_th_destroy(&rec, s->p, in);
    int left = settle_threads(threads);
    if (left != threads)
        ac_fail(r, "%s: %d thread(s) still running 1 s later (%d before, %d after)", when,
                left - threads, threads, left);
    compare_fds(&before, when, r);
}

void ac_check_teardown(const ac_ctx_t *ctx, ac_result_t *r)
{
    ac_session_t s;
    char url[64];
    if (ac_url_closed_port(url, sizeof(url)) != 0 || ac_session_open(ctx, &s, url, r) != 0)
        return;
    teardown_round(&s, 1, r);
    teardown_round(&s, 0, r);
    ac_figure(r, "threads", ac_count_threads(), "threads");
    ac_figure(r, "fds", ac_count_fds(), "fds");
    ac_note(r, "threads and descriptors after destroy are those before init (stopped and "
               "started-then-destroyed instances)");
    ac_session_close(&s);
}

/* ---- unload-cycles ---------------------------------------------------- */

/* Present when built with ASan/LSan: a leak check that returns. */
extern int __lsan_do_recoverable_leak_check(void) __attribute__((weak));

typedef struct cycle_figures {
    long rss_kib;
    int fds, threads;
} cycle_figures_t;

static int one_cycle(const ac_ctx_t *ctx, const char *url, ac_result_t *r)
{
    ac_session_t s;
    if (ac_session_open(ctx, &s, url, r) != 0)
        return -1;
    ac_th_rec_t rec;
    ac_th_rec_init(&rec, 0);
    int rc = ac_th_lifecycle(&rec, &s, NULL, 5, 0, r);
    ac_session_close(&s);
    return rc;
}

static void measure(cycle_figures_t *f, int threads_before)
{
    f->threads = settle_threads(threads_before);
    f->fds = ac_count_fds();
    f->rss_kib = ac_rss_kib();
}

void ac_check_unload_cycles(const ac_ctx_t *ctx, ac_result_t *r)
{
    int cycles = ctx->valgrind_safe ? 20 : 200, early = ctx->valgrind_safe ? 5 : 20;
    char url[64];
    if (ac_url_closed_port(url, sizeof(url)) != 0) {
        ac_fail(r, "cannot pick a loopback port");
        return;
    }
    int threads0 = ac_count_threads();
    cycle_figures_t at_early = {0, 0, 0}, at_end = {0, 0, 0};
    for (int i = 1; i <= cycles; i++) {
        if (one_cycle(ctx, url, r) != 0) {
            ac_fail(r, "cycle %d failed", i);
            return;
        }
        if (i == early)
            measure(&at_early, threads0);
    }
    measure(&at_end, threads0);
    void *still = dlopen(ctx->plugin_path, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
    if (still != NULL)
        dlclose(still);
    char label[48];
    snprintf(label, sizeof(label), "rss_after_cycle_%d", early);
    ac_figure(r, label, (double)at_early.rss_kib, "KiB");
    snprintf(label, sizeof(label), "rss_after_cycle_%d", cycles);
    ac_figure(r, label, (double)at_end.rss_kib, "KiB");
    ac_figure(r, "fds_early", at_early.fds, "fds");
    ac_figure(r, "fds_end", at_end.fds, "fds");
    ac_figure(r, "threads_early", at_early.threads, "threads");
    ac_figure(r, "threads_end", at_end.threads, "threads");
    ac_figure(r, "still_mapped_after_dlclose", still != NULL, "");
    long rss_growth = at_end.rss_kib - at_early.rss_kib;
    int bounded = ac_memory_bounds_apply(ctx);
    if (bounded && rss_growth > 2048)
        ac_fail(r, "RSS grew %ld KiB from cycle %d to %d (bound 2048 KiB)", rss_growth, early,
                cycles);
    if (!bounded && __lsan_do_recoverable_leak_check != NULL &&
        __lsan_do_recoverable_leak_check() != 0)
        ac_fail(r, "LeakSanitizer found leaks after %d cycles (report on stderr)", cycles);
    if (at_end.fds > at_early.fds)
        ac_fail(r, "descriptors grew from %d to %d between cycle %d and %d", at_early.fds,
                at_end.fds, early, cycles);
    if (at_end.threads > at_early.threads)
        ac_fail(r, "threads grew from %d to %d between cycle %d and %d", at_early.threads,
                at_end.threads, early, cycles);
    ac_note(r,
            "%d load/run/unload cycles; cycle %d -> %d: RSS %ld -> %ld KiB%s, fds %d -> %d, "
            "threads %d -> %d%s",
            cycles, early, cycles, at_early.rss_kib, at_end.rss_kib,
            bounded ? "" : " (not bounded under valgrind or ASan)", at_early.fds, at_end.fds,
            at_early.threads, at_end.threads,
            still != NULL ? "; note: the library stays mapped after dlclose" : "");
}

/* ---- no-global-effects ------------------------------------------------ */

typedef struct globals {
    struct sigaction sa[32];
    sigset_t mask;
    char **env;
    char cwd[4096];
    mode_t umask;
    char locale[512];
} globals_t;

static void take_globals(globals_t *g)
{
    memset(g, 0, sizeof(*g));
    for (int sig = 1; sig < 32; sig++)
        sigaction(sig, NULL, &g->sa[sig]);
    sigprocmask(SIG_SETMASK, NULL, &g->mask);
    size_t n = 0;
    while (environ[n] != NULL)
        n++;
    g->env = calloc(n + 1, sizeof(char *));
    for (size_t i = 0; g->env != NULL && i < n; i++)
        g->env[i] = strdup(environ[i]);
    if (getcwd(g->cwd, sizeof(g->cwd)) == NULL)
        g->cwd[0] = '\0';
    g->umask = umask(0);
    umask(g->umask);
    const char *loc = setlocale(LC_ALL, NULL);
    snprintf(g->locale, sizeof(g->locale), "%s", loc ? loc : "");
}

static void free_globals(globals_t *g)
{
    for (size_t i = 0; g->env != NULL && g->env[i] != NULL; i++)
        free(g->env[i]);
    free(g->env);
    g->env = NULL;
}

/* Signal sets compared member by member: sigset_t has unused tail bytes. */
static int same_set(const sigset_t *a, const sigset_t *b)
{
    for (int sig = 1; sig < NSIG; sig++)
        if (sigismember(a, sig) != sigismember(b, sig))
            return 0;
    return 1;
}

static int same_action(const struct sigaction *a, const struct sigaction *b)
{
    return a->sa_handler == b->sa_handler && a->sa_flags == b->sa_flags &&
           same_set(&a->sa_mask, &b->sa_mask);
}

static void compare_globals(const globals_t *a, const globals_t *b, ac_result_t *r)
{
    for (int sig = 1; sig < 32; sig++)
        if (!same_action(&a->sa[sig], &b->sa[sig]))
            ac_fail(r, "the disposition of SIG%s changed", sigabbrev_np(sig));
    if (!same_set(&a->mask, &b->mask))
        ac_fail(r, "the host thread's signal mask changed");
    size_t i = 0;
    for (; a->env != NULL && b->env != NULL && a->env[i] != NULL && b->env[i] != NULL; i++)
        if (strcmp(a->env[i], b->env[i]) != 0)
            break;
    if (a->env == NULL || b->env == NULL || a->env[i] != NULL || b->env[i] != NULL)
        ac_fail(r, "the environment changed (first difference at entry %zu)", i);
    if (strcmp(a->cwd, b->cwd) != 0)
        ac_fail(r, "the working directory changed from %s to %s", a->cwd, b->cwd);
    if (a->umask != b->umask)
        ac_fail(r, "umask changed from %03o to %03o", (unsigned)a->umask, (unsigned)b->umask);
    if (strcmp(a->locale, b->locale) != 0)
        ac_fail(r, "the locale changed from \"%s\" to \"%s\"", a->locale, b->locale);
}

void ac_check_no_global_effects(const ac_ctx_t *ctx, ac_result_t *r)
{
    char url[64];
    if (ac_url_closed_port(url, sizeof(url)) != 0) {
        ac_fail(r, "cannot pick a loopback port");
        return;
    }
    globals_t before, after;
    fflush(stdout);
    fflush(stderr);
    int mem1, mem2;
    int saved1 = ac_capture_fd(1, &mem1), saved2 = ac_capture_fd(2, &mem2);
    if (saved1 < 0 || saved2 < 0) {
        ac_fail(r, "cannot redirect stdout/stderr");
        return;
    }
    take_globals(&before);
    ac_session_t s;
    if (ac_session_open(ctx, &s, url, r) == 0) {
        ac_th_rec_t rec;
        ac_th_rec_init(&rec, 0);
        ac_th_lifecycle(&rec, &s, NULL, 100, 1000, r);
        ac_session_close(&s);
    }
    ac_sleep_us(50000);
    take_globals(&after);
    fflush(stdout);
    fflush(stderr);
    ac_release_fd(1, saved1, mem1, "stdout", r);
    ac_release_fd(2, saved2, mem2, "stderr", r);
    compare_globals(&before, &after, r);
    free_globals(&before);
    free_globals(&after);
    ac_note(r, "signal dispositions 1..31, signal mask, environment, cwd, umask and locale "
               "unchanged; nothing written to stdout or stderr");
}
