/*
 * check_threads.c - plugin-threads (ABI-PLUGIN-THREADS) and process-state
 * (ABI-PROCESS-STATE): what the plugin's own threads may be, and what the
 * process looks like while an instance runs and after it is gone.
 *
 * Threads are told apart by /proc/self/task: any task that was not there
 * before init is the plugin's (the checker's control plane starts first).
 */
#include "checks_spec.h"
#include "test_host.h"

#include <dirent.h>
#include <fcntl.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MEMBER_END(type, m) (offsetof(type, m) + sizeof(((type *)0)->m))
#define MAX_TASKS 256

extern char **environ;

/* ---- tasks of the process --------------------------------------------- */

typedef struct tasks {
    int n;
    int tid[MAX_TASKS];
} tasks_t;

static void list_tasks(tasks_t *t)
{
    t->n = 0;
    DIR *d = opendir("/proc/self/task");
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && t->n < MAX_TASKS)
        if (e->d_name[0] != '.')
            t->tid[t->n++] = atoi(e->d_name);
    closedir(d);
}

static int has_task(const tasks_t *t, int tid)
{
    for (int i = 0; i < t->n; i++)
        if (t->tid[i] == tid)
            return 1;
    return 0;
}

/* The first task not in before, or 0. */
static int new_task(const tasks_t *before)
{
    tasks_t now;
    list_tasks(&now);
    for (int i = 0; i < now.n; i++)
        if (!has_task(before, now.tid[i]))
            return now.tid[i];
    return 0;
}

/* Signals a plugin thread must block: all but the unblockable, the
 * synchronous ones and glibc's internal 32 and 33. */
static int must_block(int sig)
{
    return sig != SIGKILL && sig != SIGSTOP && sig != SIGSEGV && sig != SIGBUS && sig != SIGFPE &&
           sig != SIGILL && sig != SIGTRAP && sig != SIGSYS && sig != 32 && sig != 33;
}

/* 0 when tid blocks every asynchronous signal, else the first it does not
 * block; -1 when the task is gone. */
static int unblocked_signal(int tid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/self/task/%d/status", tid);
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return -1;
    unsigned long long blk = 0;
    int found = 0;
    while (fgets(line, sizeof(line), f) != NULL)
        if (sscanf(line, "SigBlk: %llx", &blk) == 1) {
            found = 1;
            break;
        }
    fclose(f);
    if (!found)
        return -1;
    for (int sig = 1; sig <= SIGRTMAX && sig <= 64; sig++)
        if (must_block(sig) && !(blk & (1ull << (sig - 1))))
            return sig;
    return 0;
}

static void thread_name(int tid, char *name, size_t size)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/task/%d/comm", tid);
    FILE *f = fopen(path, "re");
    name[0] = '\0';
    if (f != NULL) {
        if (fgets(name, (int)size, f) != NULL)
            name[strcspn(name, "\n")] = '\0';
        fclose(f);
    }
}

/* Every plugin task blocks the asynchronous signals. */
static void sample_masks(const tasks_t *before, const char *label, ac_result_t *r, int *seen)
{
    tasks_t now;
    list_tasks(&now);
    for (int i = 0; i < now.n; i++) {
        if (has_task(before, now.tid[i]))
            continue;
        (*seen)++;
        int sig = unblocked_signal(now.tid[i]);
        if (sig > 0 && r->verdict != AC_FAIL) {
            char name[32];
            thread_name(now.tid[i], name, sizeof(name));
            ac_fail(r, "%s: plugin thread %d (\"%s\") does not block SIG%s", label, now.tid[i],
                    name, sigabbrev_np(sig) ? sigabbrev_np(sig) : "RT");
        }
    }
}

/* Right after a call that ends the instance's work: no plugin task left.
 * A task the kernel still releases after pthread_join goes within 5 ms. */
static void no_task_left(const tasks_t *before, const char *label, const char *call, ac_result_t *r)
{
    int tid = new_task(before);
    for (int i = 0; tid != 0 && i < 10; i++) {
        ac_sleep_us(500);
        tid = new_task(before);
    }
    if (tid != 0) {
        char name[32];
        thread_name(tid, name, sizeof(name));
        ac_fail(r, "%s: thread %d (\"%s\") still running after %s returned", label, tid, name,
                call);
    }
}

/* ---- plugin-threads --------------------------------------------------- */

static int offers_handover(const ac_session_t *s)
{
    return s->lp.session_minor >= 2 &&
           s->p->struct_size >= MEMBER_END(pmd_plugin_t, on_start_handed_over) &&
           s->p->on_handover != NULL && s->p->on_start_handed_over != NULL;
}

/* end: 0 on_stop then destroy, 1 destroy of a started instance, 2 on_handover */
static void thread_round(const ac_session_t *s, const char *label, int end, int masks, int *seen,
                         ac_result_t *r)
{
    tasks_t before;
    list_tasks(&before);
    ac_th_rec_t rec;
    pmd_host_t host;
    pmd_instance_t *in = ac_th_init_default(&rec, &host, s, label, r);
    if (in == NULL)
        return;
    if (ac_th_start(&rec, s->p, in) != PMD_OK) {
        ac_fail(r, "%s: on_start failed", label);
        ac_th_destroy(&rec, s->p, in);
        return;
    }
    for (int i = 0; i < 150; i++) {
        ac_sleep_us(3000);
        ac_th_tick(&rec, s->p, in, ac_now_ns());
        if (masks)
            sample_masks(&before, label, r, seen);
    }
    if (end == 0) {
        ac_th_stop(&rec, s->p, in);
        no_task_left(&before, label, "on_stop", r);
    } else if (end == 2) {
        pmd_handover_t h;
        memset(&h, 0, sizeof(h));
        h.struct_size = sizeof(h);
        ac_th_handover(&rec, s->p, in, &h);
        no_task_left(&before, label, "on_handover", r);
    }
    ac_th_destroy(&rec, s->p, in);
    no_task_left(&before, label, "destroy", r);
    if (atomic_load(&rec.n_off_thread) > 0)
        ac_fail(r, "%s: %u callback(s) from a thread other than the host thread", label,
                atomic_load(&rec.n_off_thread));
}

void ac_check_plugin_threads(const ac_ctx_t *ctx, ac_result_t *r)
{
    static const struct {
        const char *label;
        int mode; /* -1: a closed port */
        int end;
    } planes[] = {{"refusing", -1, 0}, {"hung", AC_CP_HANG, 1}, {"error_500", AC_CP_ERROR, 2}};
    int seen = 0;
    for (size_t i = 0; i < sizeof(planes) / sizeof(planes[0]); i++) {
        char url[64];
        ac_cp_t *cp = NULL;
        if (planes[i].mode < 0 ? ac_url_closed_port(url, sizeof(url)) != 0
                               : (cp = ac_cp_start(planes[i].mode, url, sizeof(url))) == NULL) {
            ac_fail(r, "cannot set up the %s control plane", planes[i].label);
            continue;
        }
        ac_session_t s;
        if (ac_session_open(ctx, &s, url, r) == 0) {
            int end = planes[i].end == 2 && !offers_handover(&s) ? 0 : planes[i].end;
            thread_round(&s, planes[i].label, end, !ctx->valgrind_safe, &seen, r);
            ac_session_close(&s);
        }
        ac_cp_stop(cp);
    }
    ac_figure(r, "plugin_thread_samples", seen, "samples");
    if (ctx->valgrind_safe)
        ac_note(r, "refusing, hung and 500 control planes: callbacks on the host thread only; "
                   "none left when on_stop, on_handover or destroy returned (signal masks not "
                   "sampled under valgrind: the kernel sees valgrind's, not the plugin's)");
    else
        ac_note(r,
                "refusing, hung and 500 control planes: callbacks on the host thread only; "
                "plugin threads (%d samples) block every asynchronous signal; none left when "
                "on_stop, on_handover or destroy returned",
                seen);
}

/* ---- process-state ---------------------------------------------------- */

#define MAX_SIG 65

typedef struct pstate {
    int sa_rc[MAX_SIG];
    struct sigaction sa[MAX_SIG];
    char locale[512];
    locale_t thread_locale;
    mode_t umask;
    struct rlimit lim[RLIM_NLIMITS];
    uid_t uid, euid;
    gid_t gid, egid;
    ac_fd_list_t fds;
} pstate_t;

static void take_pstate(pstate_t *p)
{
    memset(p, 0, sizeof(*p));
    for (int sig = 1; sig <= SIGRTMAX && sig < MAX_SIG; sig++)
        p->sa_rc[sig] = sigaction(sig, NULL, &p->sa[sig]);
    const char *loc = setlocale(LC_ALL, NULL);
    snprintf(p->locale, sizeof(p->locale), "%s", loc ? loc : "");
    p->thread_locale = uselocale((locale_t)0);
    p->umask = umask(0);
    umask(p->umask);
    for (int i = 0; i < RLIM_NLIMITS; i++)
        getrlimit(i, &p->lim[i]);
    p->uid = getuid();
    p->euid = geteuid();
    p->gid = getgid();
    p->egid = getegid();
    ac_fd_list_take(&p->fds);
}

static int same_sigset(const sigset_t *a, const sigset_t *b)
{
    for (int sig = 1; sig < NSIG; sig++)
        if (sigismember(a, sig) != sigismember(b, sig))
            return 0;
    return 1;
}

static void compare_pstate(const pstate_t *a, const pstate_t *b, const char *when, ac_result_t *r)
{
    for (int sig = 1; sig <= SIGRTMAX && sig < MAX_SIG; sig++) {
        const struct sigaction *x = &a->sa[sig], *y = &b->sa[sig];
        if (a->sa_rc[sig] != b->sa_rc[sig] ||
            (a->sa_rc[sig] == 0 && (x->sa_handler != y->sa_handler || x->sa_flags != y->sa_flags ||
                                    !same_sigset(&x->sa_mask, &y->sa_mask)))) {
            const char *ab = sigabbrev_np(sig);
            ac_fail(r, "%s: the disposition of signal %d (SIG%s) changed", when, sig,
                    ab ? ab : "RT");
            break;
        }
    }
    if (strcmp(a->locale, b->locale) != 0)
        ac_fail(r, "%s: the global locale changed from \"%s\" to \"%s\"", when, a->locale,
                b->locale);
    if (a->thread_locale != b->thread_locale)
        ac_fail(r, "%s: the host thread's locale (uselocale) changed", when);
    if (a->umask != b->umask)
        ac_fail(r, "%s: umask changed from %03o to %03o", when, (unsigned)a->umask,
                (unsigned)b->umask);
    for (int i = 0; i < RLIM_NLIMITS; i++)
        if (a->lim[i].rlim_cur != b->lim[i].rlim_cur || a->lim[i].rlim_max != b->lim[i].rlim_max) {
            ac_fail(r, "%s: resource limit %d changed", when, i);
            break;
        }
    if (a->uid != b->uid || a->euid != b->euid || a->gid != b->gid || a->egid != b->egid)
        ac_fail(r, "%s: the process's user or group ids changed", when);
    for (int i = 0; i < b->fds.n; i++) {
        int fd = b->fds.fd[i];
        if (ac_fd_list_has(&a->fds, fd))
            continue;
        int flags = fcntl(fd, F_GETFD);
        if (flags >= 0 && !(flags & FD_CLOEXEC)) {
            char target[200];
            ac_fd_target(fd, target, sizeof(target));
            ac_fail(r, "%s: descriptor %d (%s) in the host's table lacks close-on-exec", when, fd,
                    target);
            break;
        }
    }
}

/* The descriptors a child spawned from this (the host) thread inherits
 * across exec, as a list of numbers in out (sorted by the shell's glob). */
static int child_fds(char *out, size_t size)
{
    int p[2];
    out[0] = '\0';
    if (pipe2(p, O_CLOEXEC) != 0)
        return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    char *argv[] = {"sh", "-c", "for f in /proc/$$/fd/*; do printf '%s ' \"${f##*/}\"; done", NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, "/bin/sh", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(p[1]);
    size_t used = 0;
    ssize_t k;
    while (rc == 0 && used + 1 < size && (k = read(p[0], out + used, size - 1 - used)) > 0)
        used += (size_t)k;
    out[used] = '\0';
    close(p[0]);
    if (rc == 0)
        waitpid(pid, NULL, 0);
    return rc == 0 ? 0 : -1;
}

/* One instance against one control plane; state compared while it runs. */
static void state_round(const ac_session_t *s, const char *label, const pstate_t *before,
                        const char *kids_before, ac_result_t *r)
{
    ac_th_rec_t rec;
    ac_th_rec_init(&rec, 0);
    pmd_host_t host;
    ac_th_host_fill(&host, &rec);
    char err[256] = "", when[96];
    pmd_instance_t *in = NULL;
    int hostpipe[2];
    if (pipe2(hostpipe, O_CLOEXEC) != 0)
        return;
    int32_t rc = ac_th_init(&rec, s->p, &host, s->config, &in, err, sizeof(err));
    if (rc != PMD_OK || in == NULL) {
        ac_fail(r, "%s: init returned %d: %s", label, (int)rc, err);
        close(hostpipe[0]);
        close(hostpipe[1]);
        return;
    }
    if (ac_th_start(&rec, s->p, in) == PMD_OK) {
        for (int i = 0; i < 250; i++) {
            ac_sleep_us(3000);
            ac_th_tick(&rec, s->p, in, ac_now_ns());
        }
        pstate_t during;
        take_pstate(&during);
        snprintf(when, sizeof(when), "%s, while running", label);
        compare_pstate(before, &during, when, r);
        char kids[512];
        if (kids_before != NULL && child_fds(kids, sizeof(kids)) == 0 &&
            strcmp(kids, kids_before) != 0)
            ac_fail(r,
                    "%s: a child spawned from the host thread inherits descriptors \"%s\", "
                    "before init \"%s\"",
                    when, kids, kids_before);
        close(hostpipe[1]); /* the host closes its end: the reader sees end-of-file */
        hostpipe[1] = -1;
        struct pollfd pfd = {hostpipe[0], POLLIN, 0};
        char c;
        if (poll(&pfd, 1, 200) != 1 || read(hostpipe[0], &c, 1) != 0)
            ac_fail(r,
                    "%s: a host pipe closed by the host did not reach end-of-file (a copy "
                    "of its write end is held elsewhere, e.g. in a private descriptor table)",
                    when);
        ac_th_stop(&rec, s->p, in);
    } else {
        ac_fail(r, "%s: on_start failed", label);
    }
    ac_th_destroy(&rec, s->p, in);
    close(hostpipe[0]);
    if (hostpipe[1] >= 0)
        close(hostpipe[1]);
}

void ac_check_process_state(const ac_ctx_t *ctx, ac_result_t *r)
{
    static const struct {
        const char *label;
        int mode;
    } planes[] = {{"body", AC_CP_BODY}, {"slow_body", AC_CP_SLOW}, {"redirect", AC_CP_REDIRECT}};
    fflush(stdout);
    fflush(stderr);
    int mem1, mem2, saved1 = ac_capture_fd(1, &mem1), saved2 = ac_capture_fd(2, &mem2);
    if (saved1 < 0 || saved2 < 0) {
        ac_fail(r, "cannot redirect stdout/stderr");
        return;
    }
    for (size_t i = 0; i < sizeof(planes) / sizeof(planes[0]); i++) {
        char url[64];
        ac_cp_t *cp = ac_cp_start(planes[i].mode, url, sizeof(url));
        ac_session_t s;
        if (cp == NULL || ac_session_open(ctx, &s, url, r) != 0) {
            ac_fail(r, "cannot set up the %s control plane", planes[i].label);
            ac_cp_stop(cp);
            continue;
        }
        pstate_t before, after;
        char kids[512], kids_after[512];
        take_pstate(&before);
        child_fds(kids, sizeof(kids));
        /* Under valgrind (--trace-children) the spawned child runs under
         * valgrind too and holds valgrind's own descriptors: no comparison. */
        state_round(&s, planes[i].label, &before, ctx->valgrind_safe ? NULL : kids, r);
        ac_session_close(&s);
        ac_sleep_us(20000);
        take_pstate(&after);
        char when[64];
        snprintf(when, sizeof(when), "%s, after destroy and unload", planes[i].label);
        compare_pstate(&before, &after, when, r);
        if (!ctx->valgrind_safe && child_fds(kids_after, sizeof(kids_after)) == 0 &&
            strcmp(kids, kids_after) != 0)
            ac_fail(r, "%s: a child now inherits \"%s\", before \"%s\"", when, kids_after, kids);
        ac_figure(r, planes[i].label, ac_cp_count(cp), "requests");
        ac_cp_stop(cp);
    }
    fflush(stdout);
    fflush(stderr);
    ac_release_fd(1, saved1, mem1, "stdout", r);
    ac_release_fd(2, saved2, mem2, "stderr", r);
    ac_note(r, "against body, slow-body and redirect control planes, while running and after: "
               "every signal disposition, locales, umask, limits, ids unchanged; new host "
               "descriptors close-on-exec; a spawned child inherits nothing new; host pipes "
               "reach EOF; nothing on stdout/stderr");
}
