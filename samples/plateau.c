/* Ground truth: memory grows 2 MiB per second for GROW seconds (a cache
 * filling), then stays at that size while the program keeps working. Not a leak.
 * Usage: plateau SECONDS [GROW] */
#include "memory.h"

static void *blocks[4096];

HOT void fill_cache(int index) { blocks[index] = touched_malloc(128 * 1024); }

HOT void use_cache(int count) {
    for (int i = 0; i < count; i++) ((char *)blocks[i])[i % 4096]++;
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 6;
    double grow = argc > 2 ? atof(argv[2]) : 3;
    double start = monotonic_seconds();
    int filled = 0;
    for (long tick = 1; tick <= (long)(seconds * 16); tick++) {
        if (tick <= (long)(grow * 16) && filled < 4096) fill_cache(filled++);
        use_cache(filled);
        sleep_until(start, tick / 16.0);
    }
    return 0;
}
