/* Ground truth: a bounded churner shaped like a cache of fixed-size
 * entries — a ring of 4096 slots, each freed and allocated again at its own
 * fixed size (16 B to 8 KiB), about 190,000 pairs a second with a 1 ms sleep
 * after every 200. Its anonymous memory is flat after the first fill: any
 * growth under a profiler is the profiler's. Prints the pairs it made.
 * Usage: ring_churner SECONDS */
#include "memory.h"
#include <stdio.h>

#define SLOTS 4096

static size_t size_of(int slot) { return 16 + (size_t)(slot * 2654435761u % 8177); }

HOT void refill(void **slot, size_t size) {
    free(*slot);
    *slot = touched_malloc(size);
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 10;
    static void *ring[SLOTS];
    double start = monotonic_seconds();
    long pairs = 0;
    int next = 0;
    while (monotonic_seconds() - start < seconds) {
        for (int i = 0; i < 200; i++, next = (next + 1) % SLOTS, pairs++) refill(&ring[next], size_of(next));
        struct timespec pause = {0, 1000000};
        nanosleep(&pause, 0);
    }
    printf("pairs %ld\n", pairs);
    return 0;
}
