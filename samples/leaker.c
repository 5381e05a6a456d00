/* Ground truth: leaks exactly 1 MiB per second — 64 KiB blocks, 16 per second,
 * from leaky_cache_insert, never freed — while churn_requests allocates and
 * frees 4 MiB per second in balanced pairs.
 * Usage: leaker SECONDS (0: until killed) */
#include "memory.h"

struct entry { struct entry *next; char payload[]; };
static struct entry *cache;

HOT void leaky_cache_insert(size_t size) {
    struct entry *e = touched_malloc(sizeof(struct entry) + size);
    e->next = cache; /* reachable, but never evicted: the leak */
    cache = e;
}

HOT void churn_requests(int count) {
    for (int i = 0; i < count; i++) {
        void *request = touched_malloc(256 + (size_t)(i * 97 % 16000));
        free(request);
    }
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 5;
    double start = monotonic_seconds();
    for (long tick = 1; seconds == 0 || tick <= (long)(seconds * 16); tick++) {
        leaky_cache_insert(64 * 1024 - sizeof(struct entry));
        churn_requests(32);
        sleep_until(start, tick / 16.0);
    }
    return 0;
}
