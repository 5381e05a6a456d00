/* Ground truth: two threads that hand a token back and forth under one mutex
 * and condition variable, thousands of times a second — heavy context
 * switching and time in futex calls, and little else.
 * Usage: contention SECONDS */
#include "common.h"
#include <pthread.h>
#include <stdlib.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t turn_changed = PTHREAD_COND_INITIALIZER;
static int turn;
static double deadline;

HOT void pass_token(int me) {
    pthread_mutex_lock(&lock);
    while (turn != me) pthread_cond_wait(&turn_changed, &lock);
    SPIN(2000);
    turn = 1 - me;
    pthread_cond_signal(&turn_changed);
    pthread_mutex_unlock(&lock);
}

static void *player(void *argument) {
    int me = (int)(intptr_t)argument;
    while (monotonic_seconds() < deadline) pass_token(me);
    /* Let the other player finish its last wait. */
    pthread_mutex_lock(&lock);
    turn = 1 - me;
    pthread_cond_broadcast(&turn_changed);
    pthread_mutex_unlock(&lock);
    return NULL;
}

int main(int argc, char **argv) {
    deadline = monotonic_seconds() + (argc > 1 ? atof(argv[1]) : 3);
    pthread_t other;
    pthread_create(&other, NULL, player, (void *)(intptr_t)1);
    player((void *)(intptr_t)0);
    pthread_join(other, NULL);
    return 0;
}
