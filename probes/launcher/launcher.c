// The `perfprobe` command: a static program of a few pages that makes
// `attach`, `top` and `sidecar` real-time before executing the agent
// (perfprobe-agent, beside it). Beside a target that saturates the CPUs
// (500 threads each wanting 10% of a core on two cores), the dynamic loader
// of the Swift agent (nine shared libraries, 48,000 relocations: ~3 ms of
// CPU) outlasts its first time slice and then waits a whole round of the
// runnable threads, 0.3-1.1 s here, before any of the agent's code can raise
// its priority. This program's work fits in its first slice.
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char agent_suffix[] = "-agent";

int main(int argc, char **argv) {
    if (argc > 1 && (strcmp(argv[1], "attach") == 0 || strcmp(argv[1], "top") == 0 || strcmp(argv[1], "sidecar") == 0)) {
        // Refused without CAP_SYS_NICE: the agent tries again (and nice -20)
        // and says so. The nice value is left as it was: the agent reads it
        // as the one to give the commands it starts.
        struct sched_param lowest_real_time = {.sched_priority = 1};
        sched_setscheduler(0, SCHED_FIFO, &lowest_real_time);
    }
    char path[PATH_MAX];
    ssize_t length = readlink("/proc/self/exe", path, sizeof path - sizeof agent_suffix);
    if (length <= 0 || (size_t)length >= sizeof path - sizeof agent_suffix) {
        fprintf(stderr, "perfprobe: cannot find its own path in /proc/self/exe: %s\n", length < 0 ? strerror(errno) : "too long");
        return 2;
    }
    memcpy(path + length, agent_suffix, sizeof agent_suffix);
    execv(path, argv);
    fprintf(stderr, "perfprobe: cannot run the agent %s: %s\n", path, strerror(errno));
    return 2;
}
