/* One of several processes that each add to a shared counter file: read the number, pause,
 * write the number plus one. With the lock the final count is exact; without it the
 * processes overwrite each other's updates.
 *
 * Usage: counter [--no-lock] FILE INCREMENTS [GO_FILE]
 *   RDLM_SERVER (default http://127.0.0.1:8888) and RDLM_RESOURCE (default "counter") say
 *   which lock to take. With GO_FILE, the process waits until that file exists, so that a
 *   runner can start every process at the same moment. */
#define _POSIX_C_SOURCE 200809L
#define RDLM_IMPLEMENTATION
#include "rdlm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void pause_ms(long ms) {
    struct timespec t;
    t.tv_sec = ms / 1000;
    t.tv_nsec = (ms % 1000) * 1000000L;
    nanosleep(&t, NULL);
}

static long read_count(const char *path) {
    long count = 0;
    FILE *file = fopen(path, "r");
    if (file) {
        if (fscanf(file, "%ld", &count) != 1) count = 0;
        fclose(file);
    }
    return count;
}

static int write_count(const char *path, long count) {
    FILE *file = fopen(path, "w");
    if (!file) return -1;
    fprintf(file, "%ld\n", count);
    return fclose(file);
}

/* The read-modify-write the lock must protect; the pause widens the race window. */
static int increment(const char *path) {
    long count = read_count(path);
    pause_ms(5);
    return write_count(path, count + 1);
}

int main(int argc, char **argv) {
    const char *server = getenv("RDLM_SERVER") ? getenv("RDLM_SERVER") : "http://127.0.0.1:8888";
    const char *resource = getenv("RDLM_RESOURCE") ? getenv("RDLM_RESOURCE") : "counter";
    int use_lock = 1, first = 1, increments, i, status = 0;
    rdlm_options options;
    rdlm_client *client = NULL;

    if (argc > 1 && strcmp(argv[1], "--no-lock") == 0) { use_lock = 0; first = 2; }
    if (argc - first < 2 || argc - first > 3 || (increments = atoi(argv[first + 1])) <= 0) {
        fprintf(stderr, "usage: %s [--no-lock] FILE INCREMENTS [GO_FILE]\n", argv[0]);
        return 2;
    }
    if (argc - first == 3)
        while (access(argv[first + 2], F_OK) != 0) pause_ms(1);

    rdlm_global_init();
    rdlm_options_init(&options);
    options.base_url = server;
    options.title = "Examples/c/counter";
    if (use_lock && rdlm_client_new(&options, &client) != RDLM_OK) {
        fprintf(stderr, "counter: bad server URL %s\n", server);
        return 2;
    }
    for (i = 0; i < increments && status == 0; i++) {
        rdlm_lock lock;
        rdlm_error error;
        if (!use_lock) { status = increment(argv[first]); continue; }
        error = rdlm_acquire(client, resource, 10, 30, RDLM_EXCLUSIVE, &lock);
        if (error != RDLM_OK) {
            fprintf(stderr, "counter: %s: %s\n", rdlm_strerror(error), rdlm_last_message(client));
            status = 1;
            break;
        }
        status = increment(argv[first]);
        error = rdlm_release(client, lock.url);
        if (error != RDLM_OK) fprintf(stderr, "counter: release: %s\n", rdlm_strerror(error));
        rdlm_lock_clear(&lock);
    }
    rdlm_client_free(client);
    rdlm_global_cleanup();
    return status == 0 ? 0 : 1;
}
