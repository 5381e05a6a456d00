/* Ground truth for the unwinder's hard cases: samples that land in PLT stubs
 * and on the first instructions of a tiny library function (edge_tiny, called
 * through the PLT hundreds of millions of times), and in a signal handler
 * (edge_handler, run on SIGALRM) on top of the interrupted frames. Every
 * stack must still reach main and the thread's first frame.
 * Usage: edges SECONDS */
#include "common.h"
#include <signal.h>
#include <stdlib.h>
#include <sys/time.h>

int edge_tiny(int x); /* in libedges.so: reached through the PLT */

static volatile sig_atomic_t handled;

HOT void edge_handler(int signo) {
    (void)signo;
    SPIN(300000); /* about a third of the time between signals */
    handled++;
}

HOT long edge_calls(long n) {
    long sum = 0;
    for (long i = 0; i < n; i++) sum += edge_tiny((int)i);
    return sum;
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 2;
    struct sigaction action = {.sa_handler = edge_handler};
    sigaction(SIGALRM, &action, NULL);
    struct itimerval every = {{0, 1000}, {0, 1000}}; /* 1 ms of CPU */
    setitimer(ITIMER_REAL, &every, NULL);
    double end = thread_cpu_seconds() + seconds;
    while (thread_cpu_seconds() < end) sample_sink += edge_calls(1000000);
    return handled == 0;
}
