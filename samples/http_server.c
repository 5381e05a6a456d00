/* Ground truth for load runs: an HTTP/1.1 server (keep-alive) on 127.0.0.1
 * with THREADS worker threads. GET /hash spends ~200 µs of CPU in
 * hash_handler (the known hot handler); GET /static answers at once from
 * static_handler; GET /locked spends ~200 µs of CPU in locked_handler holding
 * one mutex all workers share (under concurrent load, workers wait on it).
 * Anything else is 404.
 * Usage: http_server PORT [THREADS] */
#include "common.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int listener;

HOT int hash_handler(char *body, size_t size) {
    SPIN(200000);
    return snprintf(body, size, "hash %llu\n", (unsigned long long)(sample_sink % 1000003));
}

static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;

HOT int locked_handler(char *body, size_t size) {
    pthread_mutex_lock(&shared_lock);
    SPIN(200000);
    uint64_t value = sample_sink;
    pthread_mutex_unlock(&shared_lock);
    return snprintf(body, size, "locked %llu\n", (unsigned long long)(value % 1000003));
}

HOT int static_handler(char *body, size_t size) {
    return snprintf(body, size, "static\n");
}

static void serve(int fd) {
    char request[8192];
    size_t used = 0;
    for (;;) {
        ssize_t n = read(fd, request + used, sizeof(request) - 1 - used);
        if (n <= 0) return;
        used += (size_t)n;
        request[used] = 0;
        char *end;
        while ((end = strstr(request, "\r\n\r\n")) != NULL) {
            char body[128];
            int length, status = 200;
            if (strncmp(request, "GET /hash", 9) == 0) length = hash_handler(body, sizeof(body));
            else if (strncmp(request, "GET /static", 11) == 0) length = static_handler(body, sizeof(body));
            else if (strncmp(request, "GET /locked", 11) == 0) length = locked_handler(body, sizeof(body));
            else { status = 404; length = snprintf(body, sizeof(body), "not found\n"); }
            char response[256];
            int total = snprintf(response, sizeof(response),
                                 "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s",
                                 status, status == 200 ? "OK" : "Not Found", length, body);
            if (write(fd, response, (size_t)total) != total) return;
            size_t consumed = (size_t)(end + 4 - request);
            memmove(request, end + 4, used - consumed + 1);
            used -= consumed;
        }
        if (used == sizeof(request) - 1) return; /* a head too large */
    }
}

static void *worker(void *unused) {
    (void)unused;
    for (;;) {
        int fd = accept(listener, NULL, NULL);
        if (fd < 0) continue;
        serve(fd);
        close(fd);
    }
    return NULL;
}

int main(int argc, char **argv) {
    int port = argc > 1 ? atoi(argv[1]) : 8080;
    int threads = argc > 2 ? atoi(argv[2]) : 8;
    listener = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
    if (bind(listener, (struct sockaddr *)&address, sizeof(address)) != 0 || listen(listener, 128) != 0) {
        perror("http_server");
        return 1;
    }
    for (int i = 1; i < threads; i++) {
        pthread_t thread;
        pthread_create(&thread, NULL, worker, NULL);
    }
    worker(NULL);
    return 0;
}
