/* Fixed work for overhead benchmarks: the same instructions every run, in
 * heavy_path/light_path. Prints its own wall and CPU seconds as JSON on stdout.
 * Usage: fixed_work ROUNDS */
#include "common.h"
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

HOT void shared_leaf(int units) { SPIN((uint64_t)units * 100000); }
HOT void heavy_path(void) { shared_leaf(7); sample_sink++; }
HOT void light_path(void) { shared_leaf(3); sample_sink++; }

int main(int argc, char **argv) {
    long rounds = argc > 1 ? atol(argv[1]) : 3000;
    double start = monotonic_seconds();
    for (long i = 0; i < rounds; i++) {
        heavy_path();
        light_path();
    }
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    printf("{\"wall_seconds\": %.6f, \"cpu_seconds\": %.6f}\n", monotonic_seconds() - start,
           usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 + usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6);
    return 0;
}
