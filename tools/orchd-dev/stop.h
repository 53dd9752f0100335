/* stop.h - the process-wide "server is stopping" flag.
 *
 * Every wait in a request handler (delay_ms, hang, trickle) goes through
 * od_stop_sleep_ms so a SIGTERM wakes it at once and MHD_stop_daemon can
 * join the connection threads promptly. */
#ifndef OD_STOP_H
#define OD_STOP_H

#include <stdint.h>

/* Set the flag and wake every sleeper. Any thread; idempotent. */
void od_stop_request(void);

int od_stop_requested(void);

/* Sleep up to MS milliseconds; returns 1 at once if stopping was (or gets)
 * requested, else 0 after the full time. */
int od_stop_sleep_ms(uint64_t ms);

/* CLOCK_MONOTONIC / CLOCK_REALTIME in milliseconds. */
uint64_t od_now_mono_ms(void);
uint64_t od_now_wall_ms(void);

#endif
