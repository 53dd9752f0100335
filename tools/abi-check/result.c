/*
 * result.c - filling check results, and running a piece of a check in a
 * forked child so that a crash or a hang in the plugin becomes a FAIL that
 * names the signal instead of killing the checker.
 */
#include "abi_check.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void append(char *buf, size_t size, const char *sep, const char *fmt, va_list ap)
{
    size_t used = strlen(buf);
    if (used > 0 && used + strlen(sep) < size) {
        memcpy(buf + used, sep, strlen(sep) + 1);
        used += strlen(sep);
    }
    if (used < size)
        vsnprintf(buf + used, size - used, fmt, ap);
}

void ac_fail(ac_result_t *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (r->verdict != AC_FAIL) {
        r->verdict = AC_FAIL;
        r->reason[0] = '\0';
    }
    append(r->reason, sizeof(r->reason), "; ", fmt, ap);
    va_end(ap);
}

void ac_skip(ac_result_t *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (r->verdict != AC_FAIL) {
        r->verdict = AC_SKIP;
        vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
    }
    va_end(ap);
}

void ac_note(ac_result_t *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (r->verdict == AC_PASS)
        vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
    va_end(ap);
}

void ac_figure(ac_result_t *r, const char *name, double value, const char *unit)
{
    if (r->nfig >= AC_MAX_FIGURES)
        return;
    ac_figure_t *f = &r->fig[r->nfig++];
    snprintf(f->name, sizeof(f->name), "%s", name);
    snprintf(f->unit, sizeof(f->unit), "%s", unit != NULL ? unit : "");
    f->value = value;
}

void ac_merge(ac_result_t *r, const char *what, const ac_result_t *child)
{
    for (int i = 0; i < child->nfig; i++)
        ac_figure(r, child->fig[i].name, child->fig[i].value, child->fig[i].unit);
    if (child->verdict == AC_FAIL)
        ac_fail(r, "%s: %s", what, child->reason);
}

/* Reads exactly one result from fd within deadline; 0 on success. */
static int read_result(int fd, ac_result_t *out, uint64_t deadline_ns, int *timed_out)
{
    size_t got = 0;
    char *p = (char *)out;
    while (got < sizeof(*out)) {
        uint64_t now = ac_now_ns();
        if (now >= deadline_ns) {
            *timed_out = 1;
            return -1;
        }
        struct pollfd pfd = {fd, POLLIN, 0};
        int wait_ms = (int)((deadline_ns - now) / 1000000) + 1;
        int n = poll(&pfd, 1, wait_ms);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            continue;
        ssize_t k = read(fd, p + got, sizeof(*out) - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1; /* child gone without a full result */
        got += (size_t)k;
    }
    return 0;
}

/* Set in every check process: nested subprocesses stay in its group, so
 * killing the check's group takes them along. */
static int ac_in_child;

static void child_main(ac_child_fn fn, void *arg, int wfd)
{
    if (!ac_in_child)
        setpgid(0, 0);
    ac_in_child = 1;
    ac_result_t res;
    memset(&res, 0, sizeof(res));
    fn(arg, &res);
    const char *p = (const char *)&res;
    size_t left = sizeof(res);
    while (left > 0) {
        ssize_t k = write(wfd, p, left);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            _exit(3);
        p += k;
        left -= (size_t)k;
    }
    _exit(0);
}

static void describe_death(int status, int have_result, ac_result_t *out)
{
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        const char *abbrev = sigabbrev_np(sig);
        ac_fail(out, "the check process was killed by SIG%s (%s)%s", abbrev ? abbrev : "?",
                strsignal(sig), have_result ? " after reporting" : "");
    } else if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
        ac_fail(out, "the check process exited with status %d%s", WEXITSTATUS(status),
                WEXITSTATUS(status) == 99 ? " (valgrind reported errors)" : "");
    } else if (!have_result) {
        ac_fail(out, "the check process ended without a result");
    }
}

static void kill_child(pid_t pid, int own_group)
{
    if (own_group)
        kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
}

int ac_subprocess_inline;

int ac_subprocess(ac_child_fn fn, void *arg, int timeout_s, ac_result_t *out)
{
    memset(out, 0, sizeof(*out));
    if (ac_subprocess_inline) { /* --in-process: no fork, no timeout */
        fn(arg, out);
        return out->verdict;
    }
    int fds[2];
    if (pipe(fds) != 0) {
        ac_fail(out, "pipe: %s", strerror(errno));
        return out->verdict;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        ac_fail(out, "fork: %s", strerror(errno));
        return out->verdict;
    }
    if (pid == 0) {
        close(fds[0]);
        child_main(fn, arg, fds[1]);
    }
    int own_group = !ac_in_child;
    if (own_group)
        setpgid(pid, pid); /* also done by the child; whichever runs first */
    close(fds[1]);
    int timed_out = 0;
    uint64_t deadline = ac_now_ns() + (uint64_t)timeout_s * 1000000000ull;
    int have = read_result(fds[0], out, deadline, &timed_out) == 0;
    close(fds[0]);
    if (!have)
        memset(out, 0, sizeof(*out));
    if (timed_out)
        kill_child(pid, own_group);
    int status = 0;
    /* A child that delivered its result may still hang in exit: bound it. */
    for (int i = 0; !timed_out && i < 5000; i++) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            goto reaped;
        ac_sleep_us(1000);
    }
    kill_child(pid, own_group);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!timed_out && have) {
        ac_fail(out, "the check process did not exit within 5 s of reporting");
        return out->verdict;
    }
reaped:
    if (timed_out)
        ac_fail(out, "timed out after %d s (killed)", timeout_s);
    else
        describe_death(status, have, out);
    /* The process group may hold grandchildren; none may outlive the check. */
    if (own_group)
        kill(-pid, SIGKILL);
    return out->verdict;
}
