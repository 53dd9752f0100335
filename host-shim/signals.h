/*
 * signals.h - what each signal means to pmd-host-shim, in one place, and
 * the process set-up that keeps a lost stderr from ending the node.
 *
 *   SIGINT, SIGTERM  stop: the run loop ends, the plugin stops (a
 *                    registered node deregisters) and the shim exits 0; a
 *                    second one, while the teardown hangs, kills.
 *   SIGHUP           reload what can be reloaded (the --pools and
 *                    --capabilities files) and, when --plugin now names
 *                    another file, swap that build in live with the
 *                    re-read --config (main.c, on_sighup); the node keeps
 *                    running, on the old build when the new one fails.
 *   SIGPIPE          ignored: a write to a closed pipe or socket fails with
 *                    EPIPE instead of killing the process (plugin.abi.md:
 *                    hosts ignore SIGPIPE).
 *   SIGUSR1, SIGUSR2 ignored (reserved; a stray one must not end the node
 *                    without deregistering).
 *   SIGQUIT          left at its default (core dump): the operator asked
 *                    for exactly that.
 *
 * The handlers only set flags (async-signal-safe); the run loop, on the
 * host thread, reads them at least every 100 ms and acts there.
 */
#ifndef SHIM_SIGNALS_H
#define SHIM_SIGNALS_H

/*
 * Call first thing in main, before any file is opened or any thread runs:
 * ignores SIGPIPE, and gives each of descriptors 0, 1 and 2 that is closed
 * a read-only /dev/null, so that no file or socket opened later (a config
 * file, the plugin's connections, the metrics socket) takes the number and
 * receives log lines; writes to such a placeholder fail with EBADF just as
 * they would on the closed descriptor. 0, or -1 when that set-up failed.
 */
int shim_signals_early_setup(void);

/* Installs the SIGINT, SIGTERM, SIGHUP, SIGUSR1 and SIGUSR2 dispositions
 * above. Call once, before the plugin is loaded. 0, or -1 (errno). */
int shim_signals_install(void);

/* The stop signal received (SIGINT or SIGTERM), 0 while none. */
int shim_signals_stop_requested(void);

/* 1 once after one or more SIGHUPs (they coalesce), else 0. Clears the
 * request before returning, so a SIGHUP that lands while the caller is
 * reloading asks for one more reload. */
int shim_signals_take_reload(void);

/* "SIGINT", "SIGTERM", "SIGHUP", ... for the signals above; "signal" otherwise. */
const char *shim_signal_name(int sig);

#endif /* SHIM_SIGNALS_H */
