/* The program fork_exec execs: spends SECONDS of CPU in child_work. */
#include "common.h"
#include <stdlib.h>

HOT void child_work(double seconds) {
    char *volatile block = malloc(65536); /* fork_exec's heap mark */
    if (!block) abort();
    block[0] = 1;
    SPIN_FOR_CPU(seconds);
}

int main(int argc, char **argv) {
    child_work(argc > 1 ? atof(argv[1]) : 1);
    return 0;
}
