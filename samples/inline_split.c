/* Ground truth for inlined frames: mix_round() is always_inline, inlined
 * into heavy_caller (70% of the work) and light_caller (30%), so each
 * caller's frame holds a copy of the loop, which is the one line marked
 * HOT-LINE. Built -O2 -g: only DWARF's inline tree and line table
 * can say that the time is mix_round's, and at which line.
 * Usage: inline_split SECONDS  (CPU seconds) */
#include "common.h"
#include <stdlib.h>

static inline __attribute__((always_inline)) uint64_t mix_round(uint64_t x, uint64_t n) {
    for (uint64_t i = 0; i < n; i++) x = x * 6364136223846793005ULL + 1442695040888963407ULL; /* HOT-LINE */
    return x;
}

/* Round lengths vary at random, so that no fixed period phase-locks with the sampling timer. */
HOT void heavy_caller(int scale) {
    sample_sink = mix_round(sample_sink, 7000u * scale);
}

HOT void light_caller(int scale) {
    sample_sink = mix_round(sample_sink, 3000u * scale);
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 5;
    double end = thread_cpu_seconds() + seconds;
    uint32_t state = 1;
    while (thread_cpu_seconds() < end) {
        for (int round = 0; round < 100; round++) {
            state = state * 1103515245u + 12345u;
            int scale = 1 + (int)(state >> 16) % 3;
            heavy_caller(scale);
            light_caller(scale);
        }
    }
    return 0;
}
