/* Helpers for the memory samples: allocations the compiler cannot remove
 * (every block is written and kept reachable through a volatile pointer). */
#ifndef SAMPLES_MEMORY_H
#define SAMPLES_MEMORY_H

#include "common.h"
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void *volatile memory_sink;

/* Allocates and touches every page, so the bytes are resident. */
HOT void *touched_malloc(size_t size) {
    char *p = malloc(size);
    if (!p) abort();
    memset(p, 0x5a, size);
    memory_sink = p;
    return p;
}

/* Sleeps until `start + seconds` on the monotonic clock. */
static inline void sleep_until(double start, double seconds) {
    double target = start + seconds;
    struct timespec ts = {(time_t)target, (long)((target - (time_t)target) * 1e9)};
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

#endif
