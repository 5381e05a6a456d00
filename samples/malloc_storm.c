/* Fixed malloc-heavy work for heap-profiling benchmarks: ROUNDS rounds of 1000
 * malloc/free pairs of varied sizes (16 B up to MAX_BYTES, default 4111), with
 * a live window of 64 blocks. Prints its own wall and CPU seconds as JSON on
 * stdout. DELAY seconds of sleep first (not timed) let a profiler attach.
 * MAX_BYTES 256: the cheapest allocations glibc has (its tcache), ~10 ns a pair.
 * Usage: malloc_storm ROUNDS [DELAY] [MAX_BYTES] */
#include "memory.h"
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

HOT void storm_round(void **window, unsigned *seed, unsigned spread) {
    for (int i = 0; i < 1000; i++) {
        *seed = *seed * 1103515245u + 12345u;
        void **slot = &window[*seed % 64];
        free(*slot);
        *slot = malloc(16 + (*seed >> 8) % spread);
        ((char *)*slot)[0] = 1;
    }
}

int main(int argc, char **argv) {
    long rounds = argc > 1 ? atol(argv[1]) : 20000;
    if (argc > 2) usleep((useconds_t)(atof(argv[2]) * 1e6));
    long max_bytes = argc > 3 ? atol(argv[3]) : 4111;
    unsigned spread = max_bytes > 16 ? (unsigned)(max_bytes - 15) : 1;
    static void *window[64];
    unsigned seed = 7;
    double start = monotonic_seconds();
    for (long r = 0; r < rounds; r++) storm_round(window, &seed, spread);
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    printf("{\"wall_seconds\": %.6f, \"cpu_seconds\": %.6f}\n", monotonic_seconds() - start,
           usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 + usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6);
    return 0;
}
