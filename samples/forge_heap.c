/* A hostile target for `perfprobe run --heap`: it maps the heap probe's ring
 * (PERFPROBE_HEAP_FD) as the probe does and writes allocation records in the
 * probe's format that claim to come from pid 1, to make the root agent read
 * another process's mappings into its report; then a record no probe
 * writes, or with `unfinished` a 64-byte record claimed and never written
 * (as a writer killed mid-record leaves it). It leaks 1 MiB of its own first: that record comes before the
 * forged ones in the ring and is read whole. Prints how many forged records it wrote. */
#include "../probes/heapprobe/include/heapprobe.h"
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Appends `length` bytes (a multiple of 8, no wrap handling: the ring is
 * fresh) with their leading word set as the probe would set it. */
static int forge(struct heapprobe_ring *ring, const void *record, uint64_t length, uint32_t type) {
    _Atomic uint64_t *reserved = (_Atomic uint64_t *)&ring->reserved;
    uint64_t at = atomic_fetch_add(reserved, length);
    if (at + length > ring->capacity) return 0;
    unsigned char *to = (unsigned char *)ring + ring->header_bytes + at;
    memcpy(to + 8, (const unsigned char *)record + 8, length - 8);
    atomic_store((_Atomic uint64_t *)to, length | (uint64_t)type << 32);
    return 1;
}

char *kept;

int main(int argc, char **argv) {
    int unfinished = argc > 1 && strcmp(argv[1], "unfinished") == 0;
    kept = malloc(1 << 20);
    memset(kept, 1, 1 << 20);
    const char *fd = getenv("PERFPROBE_HEAP_FD");
    int forged = 0;
    void *mapped = fd ? mmap(NULL, HEAPPROBE_HEADER_BYTES + (16 << 20), PROT_READ | PROT_WRITE, MAP_SHARED, atoi(fd), 0)
                      : MAP_FAILED;
    if (mapped != MAP_FAILED) {
        struct heapprobe_ring *ring = mapped;
        struct heapprobe_alloc record;
        memset(&record, 0, sizeof(record));
        record.pid = 1;
        record.tid = 1;
        record.address = 0x1000;
        record.size = 1 << 20;
        record.weight = 1 << 20;
        record.registers[8] = 0x400000; /* an ip in pid 1's image, if it were believed */
        for (int i = 0; i < 10; i++) forged += forge(ring, &record, sizeof(record), HEAPPROBE_ALLOC);
        if (unfinished)
            atomic_fetch_add((_Atomic uint64_t *)&ring->reserved, 64);
        else
            forge(ring, &record, 64, 77);
    }
    printf("forged %d\n", forged);
    return 0;
}
