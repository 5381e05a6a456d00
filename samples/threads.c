/* Ground truth: three named threads, each hot in its own function, using 60%,
 * 30% and 15% of a core (in 20 ms periods), so their shares of the samples are
 * 4/7, 2/7 and 1/7. Together they need 1.05 cores, so on two cores they never
 * wait for one another. The main thread only waits.
 * Usage: threads SECONDS [DELAY]: start the threads after DELAY seconds, so a
 * profiler attached meanwhile sees them appear. */
#define _GNU_SOURCE
#include "common.h"
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

static double run_seconds;

/* Uses `duty` of each 20 ms period of wall time, in the calling function. */
#define DUTY_CYCLE(duty)                                                  \
    do {                                                                  \
        double stop_ = monotonic_seconds() + run_seconds;                 \
        struct timespec next_;                                            \
        clock_gettime(CLOCK_MONOTONIC, &next_);                           \
        while (monotonic_seconds() < stop_) {                             \
            double busy_end_ = thread_cpu_seconds() + 0.020 * (duty);     \
            while (thread_cpu_seconds() < busy_end_) SPIN(100000);         \
            next_.tv_nsec += 20000000;                                    \
            if (next_.tv_nsec >= 1000000000) {                            \
                next_.tv_nsec -= 1000000000;                              \
                next_.tv_sec++;                                           \
            }                                                             \
            clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next_, 0);   \
        }                                                                 \
    } while (0)

HOT void alpha_work(void) { DUTY_CYCLE(0.60); }
HOT void beta_work(void) { DUTY_CYCLE(0.30); }
HOT void gamma_work(void) { DUTY_CYCLE(0.15); }

static void *start(void *arg) {
    void (*work)(void) = arg;
    const char *name = work == alpha_work ? "alpha" : work == beta_work ? "beta" : "gamma";
    pthread_setname_np(pthread_self(), name);
    work();
    return NULL;
}

int main(int argc, char **argv) {
    run_seconds = argc > 1 ? atof(argv[1]) : 5;
    if (argc > 2) usleep((useconds_t)(atof(argv[2]) * 1e6));
    void (*works[])(void) = {alpha_work, beta_work, gamma_work};
    pthread_t threads[3];
    for (int i = 0; i < 3; i++) pthread_create(&threads[i], NULL, start, works[i]);
    for (int i = 0; i < 3; i++) pthread_join(threads[i], NULL);
    return 0;
}
