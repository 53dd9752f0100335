/*
 * signals.c - pmd-host-shim's signal dispositions and standard descriptors
 * (see signals.h). Handlers store one sig_atomic_t each and return; nothing
 * else happens in signal context.
 */
#include "signals.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t g_stop_signal; /* SIGINT or SIGTERM, 0 = none */
static volatile sig_atomic_t g_reload;      /* a SIGHUP not yet taken */

static void on_stop(int sig)
{
    g_stop_signal = sig;
}

static void on_reload(int sig)
{
    (void)sig;
    g_reload = 1;
}

/* A closed fd gets a read-only /dev/null: the number is taken, writes fail. */
static int reserve_descriptor(int fd)
{
    if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
        return 0;
    int got = open("/dev/null", O_RDONLY);
    if (got < 0)
        return -1;
    if (got == fd)
        return 0;
    int rc = dup2(got, fd) == fd ? 0 : -1;
    close(got);
    return rc;
}

int shim_signals_early_setup(void)
{
    int rc = signal(SIGPIPE, SIG_IGN) == SIG_ERR ? -1 : 0;
    for (int fd = 0; fd <= 2; fd++)
        if (reserve_descriptor(fd) != 0)
            rc = -1;
    return rc;
}

static int set_handler(int sig, void (*handler)(int), int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = handler;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    return sigaction(sig, &sa, NULL);
}

int shim_signals_install(void)
{
    int rc = 0;
    /* SA_RESETHAND: a second stop signal kills a hung teardown. */
    rc |= set_handler(SIGINT, on_stop, SA_RESETHAND | SA_RESTART);
    rc |= set_handler(SIGTERM, on_stop, SA_RESETHAND | SA_RESTART);
    rc |= set_handler(SIGHUP, on_reload, SA_RESTART);
    rc |= set_handler(SIGUSR1, SIG_IGN, 0);
    rc |= set_handler(SIGUSR2, SIG_IGN, 0);
    return rc == 0 ? 0 : -1;
}

int shim_signals_stop_requested(void)
{
    return g_stop_signal;
}

int shim_signals_take_reload(void)
{
    if (!g_reload)
        return 0;
    g_reload = 0;
    return 1;
}

const char *shim_signal_name(int sig)
{
    switch (sig) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGHUP: return "SIGHUP";
    case SIGPIPE: return "SIGPIPE";
    case SIGUSR1: return "SIGUSR1";
    case SIGUSR2: return "SIGUSR2";
    case SIGQUIT: return "SIGQUIT";
    default: return "signal";
    }
}
