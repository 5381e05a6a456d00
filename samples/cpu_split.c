/* Ground truth: 70% of CPU in heavy_path, 30% in light_path, both spending it
 * in the same leaf (shared_leaf), so only the stacks tell them apart. HEAVY
 * (1-9, default 7) moves the split to HEAVY*10% : the rest, for regressions.
 * Usage: cpu_split SECONDS [HEAVY]  (CPU seconds; 0 runs until killed) */
#include "common.h"
#include <stdlib.h>

/* One heavy+light round is 10-30 µs, far below the sampling period, and its
 * length varies at random: rounds of one fixed length phase-lock with a
 * 999 Hz timer whenever the period is close to a multiple of them, which
 * skews the split by several points on some machines' speeds. */
HOT void shared_leaf(int units) {
    SPIN((uint64_t)units * 1000);
}

static int heavy_units = 7;

HOT void heavy_path(int scale) {
    shared_leaf(heavy_units * scale);
    sample_sink++;
}

HOT void light_path(int scale) {
    shared_leaf((10 - heavy_units) * scale);
    sample_sink++;
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 5;
    if (argc > 2 && atoi(argv[2]) >= 1 && atoi(argv[2]) <= 9) heavy_units = atoi(argv[2]);
    double end = thread_cpu_seconds() + seconds;
    uint32_t state = 1;
    while (seconds == 0 || thread_cpu_seconds() < end) {
        for (int round = 0; round < 100; round++) { /* the clock is a system call */
            state = state * 1103515245u + 12345u;
            int scale = 1 + (int)(state >> 16) % 3;
            heavy_path(scale);
            light_path(scale);
        }
    }
    return 0;
}
