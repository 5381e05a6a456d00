/* Ground truth for process trees: a pre-fork server. The master forks
 * WORKERS children, each spinning in `worker_burn` (one core each) for
 * SECONDS, then waits for them: the master itself uses no CPU. Workers die
 * with the master.
 * Usage: prefork WORKERS SECONDS */
#include "common.h"
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static HOT uint64_t worker_burn(double seconds) {
    SPIN_FOR_CPU(seconds);
    return sample_sink;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: prefork WORKERS SECONDS\n");
        return 2;
    }
    int workers = atoi(argv[1]);
    double seconds = atof(argv[2]);
    for (int i = 0; i < workers; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return 1;
        }
        if (pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL); // a killed master takes its workers along
            // Wall time, not CPU: a worker that shares a core still ends on time.
            double end = monotonic_seconds() + seconds;
            while (monotonic_seconds() < end) worker_burn(0.01);
            _exit(0);
        }
    }
    printf("ready\n");
    fflush(stdout);
    int status = 0;
    while (wait(&status) > 0) {}
    return 0;
}
