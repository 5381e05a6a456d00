/* Ground truth for off-CPU profiling: threads that wait in known places for
 * known shares of their lives, each timing its own waits.
 *   sleeper  ~100% in nanosleep, called from sleepy_wait          (sleep)
 *   holder   holds a mutex 8 ms in every 10 (holder_burn), on CPU throughout
 *   waiter   ~80% in pthread_mutex_lock on that mutex, from lock_waiter (lock);
 *            0.5 ms of work after each turn leaves the holder its chance
 *   reader   ~90% in read() on a pipe, from pipe_reader                 (io)
 *   feeder   writes the pipe a byte every 10 ms (sleeping between)
 * Prints "ready" once the threads run; at the end, per thread, its tid, its
 * life and the seconds it spent in its blocking call, as JSON.
 * Usage: offcpu SECONDS */
#define _GNU_SOURCE
#include "common.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

struct truth {
    const char *name;
    long tid;
    double life;
    double blocked;
};

static double stop_at;
static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
static int pipe_fds[2];
static struct truth truths[5] = {{"sleeper"}, {"holder"}, {"waiter"}, {"reader"}, {"feeder"}};

static void sleep_ms(double ms) {
    struct timespec ts = {0, (long)(ms * 1e6)};
    nanosleep(&ts, NULL);
}

static HOT void sleepy_wait(struct truth *t) {
    double start = monotonic_seconds();
    sleep_ms(10);
    t->blocked += monotonic_seconds() - start;
}

static HOT void burn(double seconds) {
    double end = monotonic_seconds() + seconds;
    while (monotonic_seconds() < end) SPIN(2000);
}

static HOT void holder_burn(void) { burn(0.008); }

static HOT void lock_waiter(struct truth *t) {
    double start = monotonic_seconds();
    pthread_mutex_lock(&mutex);
    t->blocked += monotonic_seconds() - start;
    pthread_mutex_unlock(&mutex);
    burn(0.0005);
}

static HOT void pipe_reader(struct truth *t) {
    char byte;
    double start = monotonic_seconds();
    if (read(pipe_fds[0], &byte, 1) != 1) return;
    t->blocked += monotonic_seconds() - start;
    burn(0.001); /* work per byte */
}

static void *run(void *arg) {
    struct truth *t = arg;
    t->tid = syscall(SYS_gettid);
    pthread_setname_np(pthread_self(), t->name);
    double start = monotonic_seconds();
    while (monotonic_seconds() < stop_at) {
        switch (t - truths) {
        case 0: sleepy_wait(t); break;
        case 1:
            pthread_mutex_lock(&mutex);
            holder_burn();
            pthread_mutex_unlock(&mutex);
            burn(0.002);
            break;
        case 2: lock_waiter(t); break;
        case 3: pipe_reader(t); break;
        case 4:
            sleep_ms(10);
            if (write(pipe_fds[1], "x", 1) != 1) return NULL;
            break;
        }
    }
    t->life = monotonic_seconds() - start;
    return NULL;
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 3;
    if (pipe(pipe_fds) != 0) return 1;
    stop_at = monotonic_seconds() + seconds;
    pthread_t threads[5];
    for (int i = 0; i < 5; i++) pthread_create(&threads[i], NULL, run, &truths[i]);
    printf("ready\n");
    fflush(stdout);
    /* The reader may be waiting for a byte when the feeder stops. */
    pthread_join(threads[4], NULL);
    if (write(pipe_fds[1], "x", 1) != 1) return 1;
    for (int i = 0; i < 4; i++) pthread_join(threads[i], NULL);
    printf("{");
    for (int i = 0; i < 5; i++)
        printf("%s\"%s\": {\"tid\": %ld, \"life\": %.6f, \"blocked\": %.6f}", i ? ", " : "", truths[i].name, truths[i].tid,
               truths[i].life, truths[i].blocked);
    printf("}\n");
    return 0;
}
