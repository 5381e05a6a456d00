/* Ground truth: a SIGALRM handler that frees, 20,000 times a second, while
 * the main loop allocates (so it often lands inside the heap probe's own
 * calls). The handed blocks are 33 MiB, past the largest mmap threshold
 * glibc uses: each is mapped on its own and its free takes no lock, so the
 * handler is safe for glibc and what it reenters is the probe. Every handed
 * block is freed, by the handler or at the end by main: none is
 * outstanding at exit. Prints the blocks handed and freed, and how many the
 * handler freed. Usage: signal_free SECONDS */
#include "memory.h"
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/time.h>

#include "../probes/test/handed_blocks.h"

HOT void *hand_block(void) {
    char *block = malloc(HANDED_BYTES);
    if (!block) abort();
    block[0] = 1; /* one page: the rest is never touched */
    return block;
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 2;
    struct sigaction action = {.sa_handler = free_a_handed_block, .sa_flags = SA_RESTART};
    sigaction(SIGALRM, &action, NULL);
    struct itimerval every = {{0, 50}, {0, 50}};
    setitimer(ITIMER_REAL, &every, NULL);
    long made = 0, by_main = 0;
    double end = monotonic_seconds() + seconds;
    for (long i = 0; monotonic_seconds() < end; i++) {
        void *small = malloc(16 + i % 512); /* the probe's fast and slow paths, interrupted */
        free(small);
        if (i % 4096 == 0) {
            void *old = atomic_exchange(&handed[made++ % HANDED], hand_block());
            if (old) free(old), by_main++;
        }
    }
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    for (int i = 0; i < HANDED; i++) {
        void *block = atomic_exchange(&handed[i], NULL);
        if (block) free(block), by_main++;
    }
    printf("handed %ld freed %ld by_handler %ld\n", made, by_main + atomic_load(&freed_in_handler), atomic_load(&freed_in_handler));
    return 0;
}
