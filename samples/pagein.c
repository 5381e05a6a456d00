/* Ground truth: storage I/O and major page faults. Writes a 64 MiB file
 * beside itself (fsync'ed), drops it from the page cache, then maps it and
 * touches every page: each first touch is a major fault that reads from disk.
 * Repeats for SECONDS, then deletes the file.
 * Usage: pagein SECONDS DIR */
#define _GNU_SOURCE
#include "common.h"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

enum { FILE_BYTES = 64 << 20 };

HOT void write_file(int fd) {
    static char block[1 << 20];
    memset(block, 7, sizeof(block));
    for (int i = 0; i < FILE_BYTES / (int)sizeof(block); i++)
        if (pwrite(fd, block, sizeof(block), (off_t)i * sizeof(block)) != (ssize_t)sizeof(block)) exit(1);
    fsync(fd);
}

HOT void page_in(int fd) {
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    volatile char *data = mmap(NULL, FILE_BYTES, PROT_READ, MAP_SHARED, fd, 0);
    if (data == MAP_FAILED) exit(1);
    madvise((void *)data, FILE_BYTES, MADV_RANDOM); /* no read-ahead: one fault a page */
    for (long offset = 0; offset < FILE_BYTES; offset += 4096) sample_sink += data[offset];
    munmap((void *)data, FILE_BYTES);
}

int main(int argc, char **argv) {
    double end = monotonic_seconds() + (argc > 1 ? atof(argv[1]) : 3);
    char path[4096];
    snprintf(path, sizeof(path), "%s/pagein-%d.data", argc > 2 ? argv[2] : "/var/tmp", getpid());
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return 1;
    write_file(fd);
    while (monotonic_seconds() < end) page_in(fd);
    close(fd);
    unlink(path);
    return 0;
}
