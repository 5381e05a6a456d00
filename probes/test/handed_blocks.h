/* Blocks a program's loop hands to a SIGALRM handler that frees them: the
 * heap probe's reentrancy tests (probes/test/stress.c, samples/signal_free.c).
 * Each is past the largest mmap threshold glibc uses (32 MiB), so it is
 * mapped on its own and its free is a munmap taking no lock — safe in a
 * handler — and what the handler reenters is the probe. */
#ifndef HEAPPROBE_HANDED_BLOCKS_H
#define HEAPPROBE_HANDED_BLOCKS_H

#include <stdatomic.h>
#include <stdlib.h>

#define HANDED 16
#define HANDED_BYTES (33 << 20)

static _Atomic(void *) handed[HANDED];
static atomic_long freed_in_handler;

/* The SIGALRM handler: frees one handed block, if there is one. */
static void free_a_handed_block(int signo) {
    (void)signo;
    for (int i = 0; i < HANDED; i++) {
        void *block = atomic_exchange(&handed[i], NULL);
        if (block) {
            free(block);
            atomic_fetch_add(&freed_in_handler, 1);
            return;
        }
    }
}

#endif
