/* Ground truth for attaching to a process with many threads: N threads, each
 * using 2 ms of CPU in every 20 ms of wall time (10% of a core) in
 * `slice_work`, for SECONDS; the main thread only waits. N threads need
 * N/10 cores: past 20 on two cores they queue, and the CPU they get is what
 * task-clock counts. Threads are named "worker-K".
 * Usage: many_threads THREADS SECONDS */
#define _GNU_SOURCE
#include "common.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static double stop_at;

static HOT uint64_t slice_work(void) {
    SPIN_FOR_CPU(0.002);
    return sample_sink;
}

static void *worker(void *arg) {
    char name[16];
    snprintf(name, sizeof name, "worker-%ld", (long)(intptr_t)arg);
    pthread_setname_np(pthread_self(), name);
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    uint64_t sum = 0;
    while (monotonic_seconds() < stop_at) {
        sum += slice_work();
        next.tv_nsec += 20000000;
        if (next.tv_nsec >= 1000000000) {
            next.tv_nsec -= 1000000000;
            next.tv_sec++;
        }
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, 0);
    }
    return (void *)(uintptr_t)sum;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: many_threads THREADS SECONDS\n");
        return 2;
    }
    int count = atoi(argv[1]);
    stop_at = monotonic_seconds() + atof(argv[2]);
    pthread_t *threads = calloc(count, sizeof *threads);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    for (int i = 0; i < count; i++) {
        if (pthread_create(&threads[i], &attr, worker, (void *)(intptr_t)i) != 0) {
            perror("pthread_create");
            return 1;
        }
    }
    printf("ready\n");
    fflush(stdout);
    for (int i = 0; i < count; i++) pthread_join(threads[i], NULL);
    return 0;
}
