/* Drives the heap probe, linked in and built with AddressSanitizer and
 * UndefinedBehaviorSanitizer (probes/Makefile `sanitize`): threads allocate
 * and free through malloc, calloc, realloc and free, at sizes that are
 * sampled often, while a child forks and exits, threads come and go, a
 * SIGALRM handler frees blocks 20,000 times a second (inside the probe's
 * own calls, when it lands there), and the program closes the probe's fd
 * number and reuses it for a pipe of its own. Exits 0 when done, and 2 if
 * the pipe carried anything but its own bytes; the sanitizers abort it on
 * the first error in the probe. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#define THREADS 4
#define ROUNDS 20000

#include "handed_blocks.h"

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
        if (i % 8 == 0) {
            void *big = malloc(HANDED_BYTES);
            void *old = atomic_exchange(&handed[i / 8 % HANDED], big);
            free(old);
        }
    }
    for (int i = 0; i < 64; i++) free(held[i]);
    return 0;
}

/* The probe keeps no use for its fd once mapped: the number is the
 * program's. Closes it and makes it the write end of a pipe; returns the
 * read end (-1 without a probe fd). */
static int reuse_probe_fd(void) {
    const char *name = getenv("PERFPROBE_HEAP_FD");
    if (!name) return -1;
    int fd = atoi(name), ends[2];
    close(fd);
    if (pipe(ends) != 0) return -1;
    int reader = dup(ends[0]), writer = dup(ends[1]);
    close(ends[0]);
    close(ends[1]);
    dup2(writer, fd);
    close(writer);
    return reader;
}

int main(void) {
    int reader = reuse_probe_fd();
    int writer = reader >= 0 ? atoi(getenv("PERFPROBE_HEAP_FD")) : -1;
    struct sigaction action = {.sa_handler = free_a_handed_block, .sa_flags = SA_RESTART};
    sigaction(SIGALRM, &action, NULL);
    struct itimerval every = {{0, 50}, {0, 50}};
    setitimer(ITIMER_REAL, &every, NULL);
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
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    int status = 0;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return 1;
    if (writer >= 0) {
        /* Only the program's own bytes come through its pipe. */
        char message[] = "program data", got[64] = {0};
        if (write(writer, message, sizeof(message)) != (ssize_t)sizeof(message)) return 2;
        close(writer);
        ssize_t n = read(reader, got, sizeof(got));
        if (n != (ssize_t)sizeof(message) || memcmp(got, message, sizeof(message)) != 0) return 2;
    }
    printf("stress done: %ld blocks freed in the SIGALRM handler\n", atomic_load(&freed_in_handler));
    return 0;
}
