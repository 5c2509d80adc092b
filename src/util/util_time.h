/* Monotonic and wall clocks in milliseconds/nanoseconds, and deadline helpers. */
#ifndef UTIL_TIME_H
#define UTIL_TIME_H

#include <stdint.h>
#include <time.h>

static inline uint64_t util_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline uint64_t util_now_ms(void) { return util_now_ns() / 1000000ull; }

/* Milliseconds left until deadline_ms (monotonic), 0 when passed. */
static inline int64_t util_ms_left(uint64_t deadline_ms)
{
    uint64_t now = util_now_ms();
    return now >= deadline_ms ? 0 : (int64_t)(deadline_ms - now);
}

/* Absolute CLOCK_REALTIME timespec ms from now, for pthread_cond_timedwait. */
static inline struct timespec util_abstime_after_ms(int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

#endif
