/* Tests rdlm.h against a live rdlmd.
 * Usage: test_rdlm [BASE_URL]   (default $RDLM_URL, else http://127.0.0.1:8888)
 * The daemon must accept admin requests without credentials (--admin-userpass-file yes).
 * With RDLM_AUTH_URL, RDLM_AUTH_USER and RDLM_AUTH_PASSWORD set, the admin credentials are
 * checked against a daemon that requires them. Last line: "N passed, M failed". */
#define _POSIX_C_SOURCE 200809L
#define RDLM_IMPLEMENTATION
#include "rdlm.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int passed, failed;
static const char *base;
static char names[32][64];
static int name_count;

static void check(const char *name, int ok, const char *detail) {
    if (ok) passed++;
    else {
        failed++;
        fprintf(stderr, "FAIL: %s%s%s\n", name, detail && *detail ? ": " : "", detail ? detail : "");
    }
}

/* A resource name unique to this run, so reruns and parallel runs never collide. */
static const char *resource(const char *what) {
    char *name = names[name_count++ % 32];
    snprintf(name, sizeof names[0], "c%ld%s", (long)getpid(), what);
    return name;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void pause_seconds(double seconds) {
    struct timespec t;
    t.tv_sec = (time_t)seconds;
    t.tv_nsec = (long)((seconds - (double)t.tv_sec) * 1e9);
    nanosleep(&t, NULL);
}

static rdlm_client *new_client(const char *url) {
    rdlm_options options;
    rdlm_client *client = NULL;
    rdlm_options_init(&options);
    options.base_url = url;
    options.title = "test_rdlm.c";
    options.connect_timeout_ms = 2000;
    if (rdlm_client_new(&options, &client) != RDLM_OK) {
        fprintf(stderr, "cannot create a client for %s\n", url);
        exit(2);
    }
    return client;
}

static int is_lock_url(const char *url, const char *name) {
    size_t prefix = strlen(base) + strlen("/locks/") + strlen(name) + 1, i;
    if (strncmp(url, base, strlen(base)) != 0 || strlen(url) != prefix + 32) return 0;
    for (i = prefix; i < prefix + 32; i++)
        if (!strchr("0123456789abcdef", url[i])) return 0;
    return 1;
}

static void test_acquire_then_release(rdlm_client *client) {
    const char *name = resource("acquire");
    rdlm_lock lock;
    rdlm_lock_info info;
    rdlm_error error = rdlm_acquire(client, name, 30, 5, RDLM_EXCLUSIVE, &lock);
    check("acquire answers OK", error == RDLM_OK, rdlm_last_message(client));
    if (error != RDLM_OK) return;
    check("acquire gives an absolute lock URL with a 32-hex uid", is_lock_url(lock.url, name), lock.url);
    check("acquire gives a fencing token", lock.fencing_token > 0, NULL);
    error = rdlm_get(client, lock.url, &info, NULL);
    check("get answers OK", error == RDLM_OK, rdlm_strerror(error));
    check("get shows the lock active", info.active == 1, NULL);
    check("get shows the lock's uid", strcmp(info.uid, lock.url + strlen(lock.url) - 32) == 0, info.uid);
    check("get shows the title", strcmp(info.title, "test_rdlm.c") == 0, info.title);
    check("get shows the lifetime", info.lifetime == 30 && info.wait == 5, NULL);
    check("get shows the fencing token", info.fencing_token == lock.fencing_token, NULL);
    check("get shows exclusive mode", info.shared == 0, NULL);
    check("get shows the expiry", strlen(info.expires) >= 19, info.expires);
    error = rdlm_release(client, lock.url);
    check("release answers OK", error == RDLM_OK, rdlm_strerror(error));
    error = rdlm_release(client, lock.url);
    check("release twice is not found", error == RDLM_ERR_NOT_FOUND && rdlm_last_status(client) == 404,
          rdlm_strerror(error));
    error = rdlm_get(client, lock.url, &info, NULL);
    check("get after release is not found", error == RDLM_ERR_NOT_FOUND, rdlm_strerror(error));
    rdlm_lock_clear(&lock);
    check("lock_clear frees and zeroes", lock.url == NULL && lock.fencing_token == 0, NULL);
}

static void test_get_returns_json(rdlm_client *client) {
    const char *name = resource("json");
    rdlm_lock lock;
    char *json = NULL;
    if (rdlm_acquire(client, name, 30, 0, RDLM_EXCLUSIVE, &lock) != RDLM_OK) {
        check("acquire for get-json", 0, rdlm_last_message(client));
        return;
    }
    check("get returns the JSON text", rdlm_get(client, lock.url, NULL, &json) == RDLM_OK && json &&
          strstr(json, "\"_links\"") && strstr(json, "\"active\":true"), json);
    rdlm_free(json);
    rdlm_release(client, lock.url);
    rdlm_lock_clear(&lock);
}

static void test_try_lock_on_held_resource_times_out(rdlm_client *client) {
    const char *name = resource("trylock");
    rdlm_lock held, other;
    double started;
    rdlm_error error;
    if (rdlm_acquire(client, name, 30, 0, RDLM_EXCLUSIVE, &held) != RDLM_OK) {
        check("acquire for try-lock", 0, rdlm_last_message(client));
        return;
    }
    started = now();
    error = rdlm_acquire(client, name, 30, 0, RDLM_EXCLUSIVE, &other);
    check("try-lock (wait 0) on a held resource is a wait timeout",
          error == RDLM_ERR_WAIT_TIMEOUT && rdlm_last_status(client) == 408, rdlm_strerror(error));
    check("try-lock answers at once", now() - started < 1.0, NULL);
    check("a wait timeout carries the server's message", rdlm_last_message(client)[0] != '\0', NULL);
    check("a failed acquire leaves the lock empty", other.url == NULL, NULL);
    started = now();
    error = rdlm_acquire(client, name, 30, 0.3, RDLM_EXCLUSIVE, &other);
    check("a fractional wait runs out with a wait timeout", error == RDLM_ERR_WAIT_TIMEOUT, rdlm_strerror(error));
    check("the wait lasts about as long as asked", now() - started >= 0.25 && now() - started < 2.0, NULL);
    rdlm_release(client, held.url);
    rdlm_lock_clear(&held);
}

static void test_refresh_extends_the_lease(rdlm_client *client) {
    const char *name = resource("refresh");
    rdlm_lock lock;
    rdlm_lock_info info;
    rdlm_error error;
    if (rdlm_acquire(client, name, 1, 0, RDLM_EXCLUSIVE, &lock) != RDLM_OK) {
        check("acquire for refresh", 0, rdlm_last_message(client));
        return;
    }
    error = rdlm_refresh(client, lock.url, 30);
    check("refresh answers OK", error == RDLM_OK, rdlm_last_message(client));
    pause_seconds(1.3);
    error = rdlm_get(client, lock.url, &info, NULL);
    check("a refreshed lock outlives its first lifetime", error == RDLM_OK && info.active, rdlm_strerror(error));
    error = rdlm_refresh(client, lock.url, RDLM_DEFAULT);
    check("refresh without a lifetime answers OK", error == RDLM_OK, rdlm_last_message(client));
    rdlm_release(client, lock.url);
    error = rdlm_refresh(client, lock.url, 30);
    check("refresh of a released lock is not found", error == RDLM_ERR_NOT_FOUND, rdlm_strerror(error));
    rdlm_lock_clear(&lock);
}

static void test_expired_lock_is_gone(rdlm_client *client) {
    const char *name = resource("expiry");
    rdlm_lock lock;
    rdlm_error error;
    if (rdlm_acquire(client, name, 0.3, 0, RDLM_EXCLUSIVE, &lock) != RDLM_OK) {
        check("acquire for expiry", 0, rdlm_last_message(client));
        return;
    }
    pause_seconds(0.7);
    error = rdlm_refresh(client, lock.url, 30);
    check("refresh never re-acquires an expired lock", error == RDLM_ERR_NOT_FOUND, rdlm_strerror(error));
    error = rdlm_release(client, lock.url);
    check("release of an expired lock is not found", error == RDLM_ERR_NOT_FOUND, rdlm_strerror(error));
    rdlm_lock_clear(&lock);
}

static void test_fencing_tokens_increase(rdlm_client *client) {
    const char *name = resource("fencing");
    unsigned long long last = 0;
    int i, increasing = 1, acquired = 1;
    for (i = 0; i < 5; i++) {
        rdlm_lock lock;
        if (rdlm_acquire(client, name, 30, 5, RDLM_EXCLUSIVE, &lock) != RDLM_OK) { acquired = 0; break; }
        if (lock.fencing_token <= last) increasing = 0;
        last = lock.fencing_token;
        rdlm_release(client, lock.url);
        rdlm_lock_clear(&lock);
    }
    check("five acquisitions in a row succeed", acquired, rdlm_last_message(client));
    check("fencing tokens strictly increase across acquisitions", increasing, NULL);
}

static void test_shared_locks(rdlm_client *client) {
    const char *name = resource("shared");
    rdlm_lock first, second, exclusive;
    rdlm_lock_info info;
    rdlm_error a = rdlm_acquire(client, name, 30, 0, RDLM_SHARED, &first);
    rdlm_error b = rdlm_acquire(client, name, 30, 0, RDLM_SHARED, &second);
    check("two shared holders at once", a == RDLM_OK && b == RDLM_OK, rdlm_last_message(client));
    check("get shows shared mode", a == RDLM_OK && rdlm_get(client, first.url, &info, NULL) == RDLM_OK &&
          info.shared == 1, NULL);
    check("an exclusive try-lock waits for shared holders",
          rdlm_acquire(client, name, 30, 0, RDLM_EXCLUSIVE, &exclusive) == RDLM_ERR_WAIT_TIMEOUT, NULL);
    rdlm_lock_clear(&exclusive);
    if (a == RDLM_OK) rdlm_release(client, first.url);
    if (b == RDLM_OK) rdlm_release(client, second.url);
    rdlm_lock_clear(&first);
    rdlm_lock_clear(&second);
}

typedef struct waiter {
    const char *name;
    double wait;
    rdlm_error error;
    rdlm_lock lock;
} waiter;

/* One client per thread, as the header's thread-safety contract asks. */
static void *wait_for_lock(void *context) {
    waiter *w = (waiter *)context;
    rdlm_client *client = new_client(base);
    w->error = rdlm_acquire(client, w->name, 30, w->wait, RDLM_EXCLUSIVE, &w->lock);
    rdlm_client_free(client);
    return NULL;
}

/* Polls the admin view until the resource has a waiting (inactive) lock. */
static int waiter_is_queued(rdlm_client *client, const char *name) {
    int i;
    for (i = 0; i < 200; i++) {
        char *json = NULL;
        int queued = rdlm_get_resource(client, name, &json) == RDLM_OK && strstr(json, "\"active\":false");
        rdlm_free(json);
        if (queued) return 1;
        pause_seconds(0.02);
    }
    return 0;
}

static void test_release_hands_over_to_waiter(rdlm_client *client) {
    waiter w;
    pthread_t thread;
    rdlm_lock held;
    w.name = resource("handover");
    w.wait = 10;
    if (rdlm_acquire(client, w.name, 30, 0, RDLM_EXCLUSIVE, &held) != RDLM_OK) {
        check("acquire for hand-over", 0, rdlm_last_message(client));
        return;
    }
    pthread_create(&thread, NULL, wait_for_lock, &w);
    check("the second acquirer is queued", waiter_is_queued(client, w.name), NULL);
    rdlm_release(client, held.url);
    pthread_join(thread, NULL);
    check("release hands the lock to the waiter", w.error == RDLM_OK, rdlm_strerror(w.error));
    check("the waiter's token is greater", w.error == RDLM_OK && w.lock.fencing_token > held.fencing_token, NULL);
    if (w.error == RDLM_OK) rdlm_release(client, w.lock.url);
    rdlm_lock_clear(&w.lock);
    rdlm_lock_clear(&held);
}

static void test_admin_delete_gives_waiter_deleted(rdlm_client *client) {
    waiter w;
    pthread_t thread;
    rdlm_lock held;
    rdlm_error error;
    w.name = resource("deleted");
    w.wait = 10;
    if (rdlm_acquire(client, w.name, 30, 0, RDLM_EXCLUSIVE, &held) != RDLM_OK) {
        check("acquire for admin delete", 0, rdlm_last_message(client));
        return;
    }
    pthread_create(&thread, NULL, wait_for_lock, &w);
    check("the waiter is queued before the delete", waiter_is_queued(client, w.name), NULL);
    error = rdlm_delete_resource(client, w.name);
    check("admin delete of a resource answers OK", error == RDLM_OK, rdlm_last_message(client));
    pthread_join(thread, NULL);
    check("a waiter deleted by an admin gets deleted (409)", w.error == RDLM_ERR_DELETED, rdlm_strerror(w.error));
    check("the deleted holder's lock is gone", rdlm_release(client, held.url) == RDLM_ERR_NOT_FOUND, NULL);
    check("admin delete of a resource without locks is not found",
          rdlm_delete_resource(client, w.name) == RDLM_ERR_NOT_FOUND, NULL);
    rdlm_lock_clear(&w.lock);
    rdlm_lock_clear(&held);
}

static void test_bad_arguments_and_names(rdlm_client *client) {
    rdlm_lock lock;
    rdlm_client *other = NULL;
    rdlm_options options;
    rdlm_error error;
    char url[512];
    error = rdlm_acquire(client, "not valid!", 30, 0, RDLM_EXCLUSIVE, &lock);
    check("a name outside [a-zA-Z0-9]+ is a bad request (server's 404)",
          error == RDLM_ERR_BAD_REQUEST && rdlm_last_status(client) == 404, rdlm_strerror(error));
    error = rdlm_acquire(client, "a/b", 30, 0, RDLM_EXCLUSIVE, &lock);
    check("a name with a slash stays one segment and is a bad request", error == RDLM_ERR_BAD_REQUEST,
          rdlm_strerror(error));
    rdlm_lock_clear(&lock);
    check("an empty name is a bad argument",
          rdlm_acquire(client, "", 30, 0, RDLM_EXCLUSIVE, &lock) == RDLM_ERR_BAD_ARGUMENT, NULL);
    check("a NULL name is a bad argument",
          rdlm_acquire(client, NULL, 30, 0, RDLM_EXCLUSIVE, &lock) == RDLM_ERR_BAD_ARGUMENT, NULL);
    error = rdlm_acquire(client, resource("zero"), 0, 0, RDLM_EXCLUSIVE, &lock);
    check("lifetime 0 is a bad request (400) with a message",
          error == RDLM_ERR_BAD_REQUEST && rdlm_last_status(client) == 400 && rdlm_last_message(client)[0],
          rdlm_last_message(client));
    rdlm_lock_clear(&lock);
    check("a NaN wait is a bad argument",
          rdlm_acquire(client, resource("nan"), 30, strtod("nan", NULL), RDLM_EXCLUSIVE, &lock) ==
              RDLM_ERR_BAD_ARGUMENT, NULL);
    check("a NULL lock URL is a bad argument", rdlm_release(client, NULL) == RDLM_ERR_BAD_ARGUMENT, NULL);
    snprintf(url, sizeof url, "%s/locks/%s/00000000000000000000000000000000", base, resource("nolock"));
    check("release of an unknown lock URL is not found", rdlm_release(client, url) == RDLM_ERR_NOT_FOUND, NULL);
    check("refresh of an unknown lock URL is not found", rdlm_refresh(client, url, 5) == RDLM_ERR_NOT_FOUND, NULL);
    check("a lock URL that is not http(s) is a bad argument",
          rdlm_release(client, "ftp://127.0.0.1/locks/x/00000000000000000000000000000000") == RDLM_ERR_BAD_ARGUMENT, NULL);
    rdlm_options_init(&options);
    options.base_url = "ftp://127.0.0.1:21";
    check("a base URL that is not http(s) is a bad argument",
          rdlm_client_new(&options, &other) == RDLM_ERR_BAD_ARGUMENT && other == NULL, NULL);
    options.base_url = "127.0.0.1:8888";
    check("a base URL without a scheme is a bad argument",
          rdlm_client_new(&options, &other) == RDLM_ERR_BAD_ARGUMENT, NULL);
}

static void test_unreachable_server_is_transport_error(void) {
    rdlm_client *client = new_client("http://127.0.0.1:1");
    rdlm_lock lock;
    rdlm_error error = rdlm_acquire(client, "anything", 30, 0, RDLM_EXCLUSIVE, &lock);
    check("an unreachable server is a transport error", error == RDLM_ERR_TRANSPORT, rdlm_strerror(error));
    check("a transport error has no HTTP status", rdlm_last_status(client) == 0, NULL);
    check("a transport error says why", rdlm_last_message(client)[0] != '\0', NULL);
    check("release on an unreachable server is a transport error",
          rdlm_release(client, "http://127.0.0.1:1/locks/x/00000000000000000000000000000000") ==
              RDLM_ERR_TRANSPORT, NULL);
    rdlm_client_free(client);
}

static void test_title_is_escaped(void) {
    rdlm_options options;
    rdlm_client *client = NULL;
    rdlm_lock lock;
    rdlm_lock_info info;
    const char *title = "quote \" backslash \\ newline \n tab \t é";
    rdlm_options_init(&options);
    options.base_url = base;
    options.title = title;
    if (rdlm_client_new(&options, &client) != RDLM_OK) { check("client with a tricky title", 0, NULL); return; }
    check("a title with quotes and control characters is accepted",
          rdlm_acquire(client, resource("title"), 30, 0, RDLM_EXCLUSIVE, &lock) == RDLM_OK, rdlm_last_message(client));
    if (lock.url) {
        check("the title round-trips", rdlm_get(client, lock.url, &info, NULL) == RDLM_OK &&
              strcmp(info.title, title) == 0, info.title);
        rdlm_release(client, lock.url);
    }
    rdlm_lock_clear(&lock);
    rdlm_client_free(client);
}

static void test_admin_credentials(void) {
    const char *url = getenv("RDLM_AUTH_URL"), *user = getenv("RDLM_AUTH_USER"), *password = getenv("RDLM_AUTH_PASSWORD");
    rdlm_options options;
    rdlm_client *anonymous, *admin = NULL;
    rdlm_error error;
    if (!url || !user || !password) return;
    anonymous = new_client(url);
    error = rdlm_get_resource(anonymous, "anything", NULL);
    check("an admin request without credentials is an auth error",
          error == RDLM_ERR_AUTH && rdlm_last_status(anonymous) == 401, rdlm_strerror(error));
    rdlm_client_free(anonymous);
    rdlm_options_init(&options);
    options.base_url = url;
    options.admin_user = user;
    options.admin_password = password;
    if (rdlm_client_new(&options, &admin) != RDLM_OK) { check("admin client", 0, NULL); return; }
    error = rdlm_get_resource(admin, "anything", NULL);
    check("an admin request with the credentials answers OK", error == RDLM_OK, rdlm_strerror(error));
    rdlm_client_free(admin);
}

int main(int argc, char **argv) {
    rdlm_client *client;
    base = argc > 1 ? argv[1] : getenv("RDLM_URL") ? getenv("RDLM_URL") : "http://127.0.0.1:8888";
    if (rdlm_global_init() != RDLM_OK) return 2;
    client = new_client(base);
    test_acquire_then_release(client);
    test_get_returns_json(client);
    test_try_lock_on_held_resource_times_out(client);
    test_refresh_extends_the_lease(client);
    test_expired_lock_is_gone(client);
    test_fencing_tokens_increase(client);
    test_shared_locks(client);
    test_release_hands_over_to_waiter(client);
    test_admin_delete_gives_waiter_deleted(client);
    test_bad_arguments_and_names(client);
    test_unreachable_server_is_transport_error();
    test_title_is_escaped();
    test_admin_credentials();
    rdlm_client_free(client);
    rdlm_global_cleanup();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
