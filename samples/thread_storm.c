/* Ground truth for the thread-storm warning: threads that each run for about
 * 200 µs of CPU and exit, one after another, for SECONDS seconds. A sampler
 * at 99 Hz (a 10 ms period per thread) almost never sees one, while
 * task-clock counts all their CPU time. Prints the threads it started.
 * Usage: thread_storm SECONDS */
#define _GNU_SOURCE
#include "common.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static void *short_lived(void *arg) {
    (void)arg;
    double end = thread_cpu_seconds() + 0.0002;
    while (thread_cpu_seconds() < end) SPIN(1000);
    return 0;
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 2;
    double stop = monotonic_seconds() + seconds;
    long started = 0;
    while (monotonic_seconds() < stop) {
        pthread_t thread;
        if (pthread_create(&thread, 0, short_lived, 0) != 0) return 1;
        pthread_join(thread, 0);
        started++;
    }
    printf("threads %ld\n", started);
    return 0;
}
