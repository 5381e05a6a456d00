/* A context-switch storm for off-CPU benchmarks: two threads bounce a byte
 * over two pipes ROUNDS times, each doing WORK_US microseconds of work per
 * bounce (0: none), so each bounce blocks one thread and wakes the other.
 * Prints its own wall and CPU seconds and the round trips per second as JSON.
 * Usage: switch_storm ROUNDS [WORK_US] */
#include "common.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

static int ping[2], pong[2];
static long rounds;
static double work;

static HOT void bounce_work(void) {
    if (work <= 0) return;
    double end = monotonic_seconds() + work;
    while (monotonic_seconds() < end) SPIN(100);
}

static void *responder(void *arg) {
    (void)arg;
    char byte;
    for (long i = 0; i < rounds; i++) {
        if (read(ping[0], &byte, 1) != 1) break;
        bounce_work();
        if (write(pong[1], &byte, 1) != 1) break;
    }
    return NULL;
}

int main(int argc, char **argv) {
    rounds = argc > 1 ? atol(argv[1]) : 100000;
    work = (argc > 2 ? atof(argv[2]) : 0) / 1e6;
    if (pipe(ping) != 0 || pipe(pong) != 0) return 1;
    pthread_t thread;
    double start = monotonic_seconds();
    pthread_create(&thread, NULL, responder, NULL);
    char byte = 'x';
    for (long i = 0; i < rounds; i++) {
        if (write(ping[1], &byte, 1) != 1 || read(pong[0], &byte, 1) != 1) return 1;
        bounce_work();
    }
    pthread_join(thread, NULL);
    double wall = monotonic_seconds() - start;
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    printf("{\"wall_seconds\": %.6f, \"cpu_seconds\": %.6f, \"round_trips_per_second\": %.0f}\n", wall,
           usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 + usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6,
           rounds / wall);
    return 0;
}
