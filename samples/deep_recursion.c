/* Ground truth: every sample is DEPTH frames of `recurse` deep (plus main and
 * the thread's entry), well past the kernel's 127-frame callchain limit.
 * Usage: deep_recursion SECONDS [DEPTH] */
#include "common.h"
#include <stdlib.h>

HOT void bottom(double seconds) { SPIN_FOR_CPU(seconds); }

HOT int recurse(int depth, double seconds) {
    if (depth <= 1) bottom(seconds);
    else recurse(depth - 1, seconds);
    return (int)sample_sink + depth; /* work after the call: no tail call */
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 2;
    int depth = argc > 2 ? atoi(argv[2]) : 300;
    return recurse(depth, seconds) == 0x7fffffff;
}
