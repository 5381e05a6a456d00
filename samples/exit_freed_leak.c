/* Ground truth for a leak the program frees at exit: remember_request keeps
 * 64 KiB blocks in a global list, 16 a second (1 MiB/s), and an atexit
 * handler frees the whole list as the program ends, as tidy programs do.
 * Prints the leak rate it made.
 * Usage: exit_freed_leak SECONDS */
#include "memory.h"
#include <stdio.h>

struct entry { struct entry *next; char payload[]; };
static struct entry *kept;

HOT void remember_request(size_t size) {
    struct entry *e = touched_malloc(sizeof(struct entry) + size);
    e->next = kept;
    kept = e;
}

static void free_everything(void) {
    while (kept) {
        struct entry *next = kept->next;
        free(kept);
        kept = next;
    }
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 5;
    atexit(free_everything);
    double start = monotonic_seconds();
    long blocks = 0;
    while (monotonic_seconds() - start < seconds) {
        remember_request(64 * 1024 - sizeof(struct entry));
        blocks++;
        sleep_until(start, blocks / 16.0);
    }
    printf("leaked %.0f B/s\n", blocks * 65536.0 / (monotonic_seconds() - start));
    return 0;
}
