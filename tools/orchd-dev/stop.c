/* stop.c - a flag plus a condition variable on CLOCK_MONOTONIC, so sleeps
 * are immune to wall-clock jumps and end as soon as shutdown begins. */
#include "stop.h"

#include <pthread.h>
#include <time.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int stopping;

static void init_cv(void)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&cv, &attr);
    pthread_condattr_destroy(&attr);
}

static uint64_t now_ms(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t od_now_mono_ms(void)
{
    return now_ms(CLOCK_MONOTONIC);
}

uint64_t od_now_wall_ms(void)
{
    return now_ms(CLOCK_REALTIME);
}

void od_stop_request(void)
{
    pthread_once(&once, init_cv);
    pthread_mutex_lock(&mu);
    stopping = 1;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

int od_stop_requested(void)
{
    int s;
    pthread_mutex_lock(&mu);
    s = stopping;
    pthread_mutex_unlock(&mu);
    return s;
}

int od_stop_sleep_ms(uint64_t ms)
{
    struct timespec deadline;
    int s;
    pthread_once(&once, init_cv);
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += (time_t)(ms / 1000);
    deadline.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&mu);
    while (!stopping && pthread_cond_timedwait(&cv, &mu, &deadline) == 0)
        ;
    s = stopping;
    pthread_mutex_unlock(&mu);
    return s;
}
