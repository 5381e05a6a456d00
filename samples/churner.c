/* Ground truth: heavy churn over a bounded working set — a ring of 256 buffers
 * of up to 64 KiB, each replaced again and again — so memory does not grow
 * after the first milliseconds. Not a leak.
 * Usage: churner SECONDS (0: until killed) */
#include "memory.h"

HOT void replace_buffer(void **slot, size_t size) {
    free(*slot);
    *slot = touched_malloc(size);
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 5;
    static void *ring[256];
    double start = monotonic_seconds();
    unsigned seed = 12345;
    for (long tick = 1; seconds == 0 || tick <= (long)(seconds * 100); tick++) {
        for (int i = 0; i < 2000; i++) {
            seed = seed * 1103515245u + 12345u;
            replace_buffer(&ring[seed % 256], 1 + (seed >> 8) % 65536);
        }
        sleep_until(start, tick / 100.0);
    }
    return 0;
}
