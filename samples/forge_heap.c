/* A hostile target for `perfprobe run --heap`: it finds the heap channel
 * (PERFPROBE_HEAP_FD) and sends allocation records in the probe's format
 * that claim to come from pid 1, to make the root agent read another
 * process's mappings into its report. It also leaks 1 MiB of its own, so the
 * run has real records too. Prints how many forged records it sent. */
#include "../probes/heapprobe/include/heapprobe.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int main(void) {
    const char *fd = getenv("PERFPROBE_HEAP_FD");
    int sent = 0;
    if (fd) {
        struct heapprobe_alloc record;
        memset(&record, 0, sizeof(record));
        record.type = HEAPPROBE_ALLOC;
        record.pid = 1;
        record.tid = 1;
        record.address = 0x1000;
        record.size = 1 << 20;
        record.weight = 1 << 20;
        record.registers[8] = 0x400000; /* an ip in pid 1's image, if it were believed */
        for (int i = 0; i < 10; i++)
            if (send(atoi(fd), &record, sizeof(record), MSG_DONTWAIT) == (ssize_t)sizeof(record)) sent++;
    }
    volatile char *kept = malloc(1 << 20);
    memset((char *)kept, 1, 1 << 20);
    printf("forged %d\n", sent);
    return 0;
}
