/* Ground truth: spends SECONDS of CPU in doomed_work, then dies of SIGABRT. */
#include "common.h"
#include <stdlib.h>

HOT void doomed_work(double seconds) { SPIN_FOR_CPU(seconds); }

int main(int argc, char **argv) {
    doomed_work(argc > 1 ? atof(argv[1]) : 1);
    abort();
}
