/* Ground truth: frees made by a thread that then sits idle, and a program
 * that exits while its threads still run. A producer allocates 2,000 blocks
 * of 16 KiB (hand_over) and hands each to a freer thread, which frees it at
 * once; once all are freed the freer blocks forever, and main calls exit
 * with it (and a second thread, sleeping) still alive. Nothing hand_over
 * allocated is outstanding at exit: any leak reported on it is false (a
 * probe holding the idle thread's frees, or losing them at exit).
 * Prints the blocks made and freed. Usage: idle_freer */
#include "memory.h"
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

#define BLOCKS 2000

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static void *queue[BLOCKS];
static int queued, taken, freed;

static void *freer(void *unused) {
    (void)unused;
    pthread_mutex_lock(&lock);
    for (;;) {
        while (taken == queued) pthread_cond_wait(&changed, &lock); /* idle from the last block on */
        void *block = queue[taken++];
        pthread_mutex_unlock(&lock);
        free(block);
        pthread_mutex_lock(&lock);
        freed++;
        pthread_cond_broadcast(&changed);
    }
    return NULL;
}

static void *sleeper(void *unused) {
    (void)unused;
    pause();
    return NULL;
}

HOT void hand_over(void) {
    void *block = touched_malloc(16384);
    pthread_mutex_lock(&lock);
    queue[queued++] = block;
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
}

int main(void) {
    pthread_t threads[2];
    pthread_create(&threads[0], NULL, freer, NULL);
    pthread_create(&threads[1], NULL, sleeper, NULL);
    for (int i = 0; i < BLOCKS; i++) {
        hand_over();
        if (i % 100 == 99) usleep(20000); /* 0.4 s in all: several drains of the agent */
    }
    pthread_mutex_lock(&lock);
    while (freed < BLOCKS) pthread_cond_wait(&changed, &lock);
    pthread_mutex_unlock(&lock);
    printf("made %d freed %d\n", BLOCKS, freed);
    fflush(stdout);
    exit(0);
}
