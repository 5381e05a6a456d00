/* Ground truth: CPU split 1 : 1 : 2 between parent_work (this process),
 * forked_work (a forked child that does not exec) and child_work (a child
 * that execs child_worker). forked_work and child_work each also allocate
 * one 64 KiB block, so a heap profiler shows whether it followed them.
 * Fails unless both children succeed. Usage: fork_exec UNIT_SECONDS */
#include "common.h"
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

HOT void parent_work(double seconds) { SPIN_FOR_CPU(seconds); }
HOT void forked_work(double seconds) {
    char *volatile block = malloc(65536);
    if (!block) _exit(1);
    block[0] = 1;
    SPIN_FOR_CPU(seconds);
}

int main(int argc, char **argv) {
    const char *unit = argc > 1 ? argv[1] : "0.5";
    double seconds = atof(unit);

    pid_t forked = fork();
    if (forked == 0) {
        forked_work(seconds);
        _exit(0);
    }

    char self[PATH_MAX], worker[PATH_MAX + 16];
    strncpy(self, argv[0], sizeof(self) - 1);
    self[sizeof(self) - 1] = 0;
    snprintf(worker, sizeof(worker), "%s/child_worker", dirname(self));
    char doubled[32];
    snprintf(doubled, sizeof(doubled), "%f", 2 * seconds);
    pid_t execd = fork();
    if (execd == 0) {
        execl(worker, "child_worker", doubled, (char *)NULL);
        perror("exec child_worker");
        _exit(127);
    }

    parent_work(seconds);
    int status, failed = 0;
    waitpid(forked, &status, 0);
    failed |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    waitpid(execd, &status, 0);
    failed |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    return failed;
}
