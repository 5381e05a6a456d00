/* Drives the heap probe, linked in and built with AddressSanitizer and
 * UndefinedBehaviorSanitizer (probes/Makefile `sanitize`): threads allocate
 * and free through malloc, calloc, realloc and free, at sizes that are sampled often, while
 * a child forks and exits and threads come and go. Exits 0 when done; the
 * sanitizers abort it on the first error in the probe. */
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define THREADS 4
#define ROUNDS 20000

static void *work(void *arg) {
    uintptr_t seed = (uintptr_t)arg * 2654435761u + 1;
    void *held[64] = {0};
    for (int i = 0; i < ROUNDS; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        size_t size = 16 + (seed >> 33) % 200000;
        int slot = (int)((seed >> 20) % 64);
        /* Not the memalign family: ASan intercepts __libc_memalign, so its
         * blocks would come from ASan's allocator and go back to glibc's. */
        switch ((seed >> 40) % 4) {
        case 0: free(held[slot]); held[slot] = malloc(size); break;
        case 1: free(held[slot]); held[slot] = calloc(1 + size / 64, 64); break;
        case 2: held[slot] = realloc(held[slot], size); break;
        default: free(held[slot]); held[slot] = 0; break;
        }
        if (held[slot]) memset(held[slot], 1, 16);
    }
    for (int i = 0; i < 64; i++) free(held[i]);
    return 0;
}

int main(void) {
    pid_t child = fork();
    if (child == 0) {
        work((void *)99);
        _exit(0);
    }
    for (int round = 0; round < 3; round++) {
        pthread_t threads[THREADS];
        for (uintptr_t i = 0; i < THREADS; i++) pthread_create(&threads[i], 0, work, (void *)(i + round * THREADS));
        for (int i = 0; i < THREADS; i++) pthread_join(threads[i], 0);
    }
    int status = 0;
    waitpid(child, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return 1;
    puts("stress done");
    return 0;
}
