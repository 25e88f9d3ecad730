/* Tests rdlm.h against a live rdlmd.
 * Usage: test_rdlm [BASE_URL]   (default $RDLM_URL, else http://127.0.0.1:8888; a trailing
 * slash is fine). Some tests use a one-shot fake server on 127.0.0.1 instead.
 * The daemon must accept admin requests without credentials (--admin-userpass-file yes).
 * With RDLM_AUTH_URL, RDLM_AUTH_USER and RDLM_AUTH_PASSWORD set, the admin credentials are
 * checked against a daemon that requires them. Last line: "N passed, M failed". */
#define _POSIX_C_SOURCE 200809L
#define RDLM_IMPLEMENTATION
#include "rdlm.h"
#define TEST_TITLE "test_rdlm.c"
#include "test_support.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char *base;  /* as given: the clients get it so, trailing slash and all */
static size_t base_length; /* without trailing slashes, as the lock URLs start */
static char names[32][64];
static int name_count;


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


static int is_lock_url(const char *url, const char *name) {
    size_t prefix = base_length + strlen("/locks/") + strlen(name) + 1, i;
    if (strncmp(url, base, base_length) != 0 || strlen(url) != prefix + 32 ||
        strncmp(url + base_length, "/locks/", 7) != 0 || strncmp(url + base_length + 7, name, strlen(name)) != 0)
        return 0;
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
    check("try-lock answers at once (not after a wait)", now() - started < 3.0, NULL);
    check("a wait timeout carries the server's message", rdlm_last_message(client)[0] != '\0', NULL);
    check("a failed acquire leaves the lock empty", other.url == NULL, NULL);
    started = now();
    error = rdlm_acquire(client, name, 30, 0.3, RDLM_EXCLUSIVE, &other);
    check("a fractional wait runs out with a wait timeout", error == RDLM_ERR_WAIT_TIMEOUT, rdlm_strerror(error));
    check("the wait lasts about as long as asked", now() - started >= 0.25 && now() - started < 5.0, NULL);
    rdlm_release(client, held.url);
    rdlm_lock_clear(&held);
}

static void test_refresh_extends_the_lease(rdlm_client *client) {
    const char *name = resource("refresh");
    rdlm_lock lock;
    rdlm_lock_info info;
    rdlm_error error;
    /* The refresh must come within the first lifetime, 3 s: ample even under valgrind on a
     * loaded machine. The pause then outlasts that lifetime. */
    if (rdlm_acquire(client, name, 3, 0, RDLM_EXCLUSIVE, &lock) != RDLM_OK) {
        check("acquire for refresh", 0, rdlm_last_message(client));
        return;
    }
    error = rdlm_refresh(client, lock.url, 30);
    check("refresh answers OK", error == RDLM_OK, rdlm_last_message(client));
    pause_seconds(3.5);
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
    for (i = 0; i < 500; i++) { /* up to 10 s */
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
    char url[512], long_name[301];
    static const char *const bad_names[] = {"not valid!", "a/b", ".", "..", "%41", "a.b", "caf\xC3\xA9"};
    size_t i;
    for (i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++) {
        char what[96];
        snprintf(what, sizeof what, "acquire of the name '%s' is a bad argument, caught before sending", bad_names[i]);
        error = rdlm_acquire(client, bad_names[i], 30, 0, RDLM_EXCLUSIVE, &lock);
        check(what, error == RDLM_ERR_BAD_ARGUMENT && rdlm_last_status(client) == 0 && lock.url == NULL,
              rdlm_strerror(error));
    }
    check("a bad name's message says what a name is", strstr(rdlm_last_message(client), "[a-zA-Z0-9]+") != NULL,
          rdlm_last_message(client));
    error = rdlm_get_resource(client, "..", NULL);
    check("get_resource(\"..\") is a bad argument (not GET /)", error == RDLM_ERR_BAD_ARGUMENT &&
          rdlm_last_status(client) == 0, rdlm_strerror(error));
    error = rdlm_delete_resource(client, ".");
    check("delete_resource(\".\") is a bad argument (not DELETE /resources)", error == RDLM_ERR_BAD_ARGUMENT &&
          rdlm_last_status(client) == 0, rdlm_strerror(error));
    memset(long_name, 'n', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    error = rdlm_acquire(client, long_name, 30, 0, RDLM_EXCLUSIVE, &lock);
    check("a name the server refuses (too long) is a bad request", error == RDLM_ERR_BAD_REQUEST &&
          (rdlm_last_status(client) == 400 || rdlm_last_status(client) == 404), rdlm_strerror(error));
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
    snprintf(url, sizeof url, "%.*s/locks/%s/00000000000000000000000000000000", (int)base_length, base,
             resource("nolock"));
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
    {
        static const char *const bad[] = {"http://", "http:///", "https:///locks", "http://:8888",
                                          "http://user@/", "http://[]:1", "http://h/?q", "http://h/#f",
                                          "http://a b"};
        static const char *const good[] = {"http://h", "HTTPS://h:1/", "http://[::1]:8888",
                                           "http://user:pw@h:1", "http://h:1/prefix"};
        for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            char what[96];
            snprintf(what, sizeof what, "the base URL '%s' is a bad argument", bad[i]);
            options.base_url = bad[i];
            check(what, rdlm_client_new(&options, &other) == RDLM_ERR_BAD_ARGUMENT && other == NULL, NULL);
        }
        for (i = 0; i < sizeof good / sizeof good[0]; i++) {
            char what[96];
            snprintf(what, sizeof what, "the base URL '%s' is accepted", good[i]);
            options.base_url = good[i];
            check(what, rdlm_client_new(&options, &other) == RDLM_OK && other != NULL, NULL);
            rdlm_client_free(other);
            other = NULL;
        }
    }
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

/* rdlm__json_string is the header's own (static) JSON string reader: test it directly. */
static int json_string_is(const char *json, size_t size, const char *expected) {
    char out[300];
    rdlm__json_string(json, json + strlen(json), out, size);
    return strcmp(out, expected) == 0;
}

static void test_json_strings(void) {
    check("a \\u surrogate pair decodes to one 4-byte UTF-8 character",
          json_string_is("\"<\\ud83d\\ude00>\"", 300, "<\xF0\x9F\x98\x80>"), NULL);
    check("upper-case hex in a surrogate pair", json_string_is("\"\\uD83D\\uDE00\"", 300, "\xF0\x9F\x98\x80"), NULL);
    check("a lone high surrogate is U+FFFD", json_string_is("\"a\\ud83db\"", 300, "a\xEF\xBF\xBD" "b"), NULL);
    check("a lone low surrogate is U+FFFD", json_string_is("\"\\ude00\"", 300, "\xEF\xBF\xBD"), NULL);
    check("a high surrogate before a non-surrogate escape",
          json_string_is("\"\\ud83d\\u0041\"", 300, "\xEF\xBF\xBD" "A"), NULL);
    check("\\u escapes of 2 and 3 bytes", json_string_is("\"\\u00e9\\u20ac\"", 300, "\xC3\xA9\xE2\x82\xAC"), NULL);
    check("truncation keeps whole 2-byte characters",
          json_string_is("\"a\xC3\xA9\xC3\xA9\"", 5, "a\xC3\xA9"), NULL);
    check("truncation keeps whole 3-byte characters",
          json_string_is("\"ab\xE2\x82\xAC\"", 5, "ab"), NULL);
    check("truncation keeps whole 4-byte characters from a surrogate pair",
          json_string_is("\"abc\\ud83d\\ude00\"", 6, "abc"), NULL);
    check("truncation of ASCII is unchanged", json_string_is("\"abcdef\"", 4, "abc"), NULL);
}

/* A title longer than rdlm_lock_info.title, of 2-byte characters: the copy ends on a
 * character boundary (254 bytes, not 255 with half a character). */
static void test_long_title_is_cut_between_characters(void) {
    rdlm_options options;
    rdlm_client *client = NULL;
    rdlm_lock lock;
    rdlm_lock_info info;
    char title[401];
    int i;
    for (i = 0; i < 200; i++) { title[2 * i] = '\xC3'; title[2 * i + 1] = '\xA9'; }
    title[400] = '\0';
    rdlm_options_init(&options);
    options.base_url = base;
    options.title = title;
    if (rdlm_client_new(&options, &client) != RDLM_OK) { check("client with a long title", 0, NULL); return; }
    if (rdlm_acquire(client, resource("longtitle"), 30, 0, RDLM_EXCLUSIVE, &lock) != RDLM_OK) {
        check("acquire with a long title", 0, rdlm_last_message(client));
    } else {
        check("a long title is cut at a character boundary", rdlm_get(client, lock.url, &info, NULL) == RDLM_OK &&
              strlen(info.title) == 254 && strncmp(info.title, title, 254) == 0, info.title);
        rdlm_release(client, lock.url);
    }
    rdlm_lock_clear(&lock);
    rdlm_client_free(client);
}

/* A one-shot HTTP server on 127.0.0.1 that sends a fixed answer to the first request. */
typedef struct fake_server {
    int listener;
    int port;
    double delay;      /* seconds between the connection and the answer */
    char answer[1024];
} fake_server;

static void *fake_serve_once(void *context) {
    fake_server *f = (fake_server *)context;
    char buffer[4096];
    struct timeval timeout;
    size_t sent = 0, length = strlen(f->answer);
    int fd = accept(f->listener, NULL, NULL);
    if (fd < 0) return NULL;
    timeout.tv_sec = 10;
    timeout.tv_usec = 0;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    if (f->delay > 0) pause_seconds(f->delay);
    while (sent < length) {
        ssize_t n = send(fd, f->answer + sent, length - sent, 0);
        if (n <= 0) break;
        sent += (size_t)n;
    }
    shutdown(fd, SHUT_WR); /* the end of the answer, however short of its Content-Length */
    while (recv(fd, buffer, sizeof buffer, 0) > 0) {} /* read the request: close without RST */
    close(fd);
    return NULL;
}

static int fake_server_start(fake_server *f, pthread_t *thread, double delay) {
    struct sockaddr_in address;
    socklen_t length = sizeof address;
    f->delay = delay;
    memset(&address, 0, sizeof address);
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    f->listener = socket(AF_INET, SOCK_STREAM, 0);
    if (f->listener < 0) return -1;
    if (bind(f->listener, (struct sockaddr *)&address, sizeof address) != 0 || listen(f->listener, 1) != 0 ||
        getsockname(f->listener, (struct sockaddr *)&address, &length) != 0 ||
        pthread_create(thread, NULL, fake_serve_once, f) != 0) {
        close(f->listener);
        return -1;
    }
    f->port = ntohs(address.sin_port);
    return 0;
}

static void fake_server_stop(fake_server *f, pthread_t thread) {
    pthread_join(thread, NULL);
    close(f->listener);
}

/* The server grants (201 with the Location of a real lock) but the answer is cut short: the
 * acquire fails, and must release the lock it was granted rather than leave it held. */
static void test_grant_cut_short_is_released(rdlm_client *client) {
    fake_server fake;
    pthread_t thread;
    rdlm_client *cut;
    rdlm_lock real, got;
    rdlm_error error;
    char url[64];
    if (rdlm_acquire(client, resource("cut"), 60, 0, RDLM_EXCLUSIVE, &real) != RDLM_OK) {
        check("acquire for the cut-short grant", 0, rdlm_last_message(client));
        return;
    }
    snprintf(fake.answer, sizeof fake.answer,
             "HTTP/1.1 201 Created\r\nLocation: %s\r\nRDLM-Fencing-Token: 7\r\nContent-Length: 1000\r\n"
             "Connection: close\r\n\r\n<html>201: lock acq", real.url);
    if (fake_server_start(&fake, &thread, 0) != 0) {
        check("a fake server starts", 0, NULL);
        rdlm_release(client, real.url);
        rdlm_lock_clear(&real);
        return;
    }
    snprintf(url, sizeof url, "http://127.0.0.1:%d", fake.port);
    cut = new_client(url);
    error = rdlm_acquire(cut, "cut", 60, 0, RDLM_EXCLUSIVE, &got);
    fake_server_stop(&fake, thread);
    check("a 201 cut short is a transport error", error == RDLM_ERR_TRANSPORT && got.url == NULL, rdlm_strerror(error));
    check("whose message says the granted lock is released",
          strstr(rdlm_last_message(cut), "it is released") != NULL, rdlm_last_message(cut));
    error = rdlm_get(client, real.url, NULL, NULL);
    check("the lock granted by the cut-short answer is released", error == RDLM_ERR_NOT_FOUND, rdlm_strerror(error));
    if (error == RDLM_OK) rdlm_release(client, real.url);
    rdlm_client_free(cut);
    rdlm_lock_clear(&real);
}

/* A relative Location takes the base URL's scheme and authority. */
static void test_relative_location(void) {
    fake_server fake;
    pthread_t thread;
    rdlm_client *client;
    rdlm_lock lock;
    rdlm_error error;
    char url[64], expected[160];
    strcpy(fake.answer, "HTTP/1.1 201 Created\r\nLocation: /locks/rel/0123456789abcdef0123456789abcdef\r\n"
                        "RDLM-Fencing-Token: 12\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    if (fake_server_start(&fake, &thread, 0) != 0) { check("a fake server starts", 0, NULL); return; }
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", fake.port);
    client = new_client(url);
    error = rdlm_acquire(client, "rel", 60, 0, RDLM_EXCLUSIVE, &lock);
    fake_server_stop(&fake, thread);
    snprintf(expected, sizeof expected, "http://127.0.0.1:%d/locks/rel/0123456789abcdef0123456789abcdef", fake.port);
    check("a relative Location is made absolute with the base URL",
          error == RDLM_OK && strcmp(lock.url, expected) == 0 && lock.fencing_token == 12,
          error == RDLM_OK ? lock.url : rdlm_strerror(error));
    rdlm_lock_clear(&lock);
    rdlm_client_free(client);
}

/* Sends one request to a fake server that gives `answer` after `delay` seconds. */
typedef enum fake_call { FAKE_ACQUIRE, FAKE_RELEASE } fake_call;

static rdlm_error call_fake(fake_call call, const char *answer, double delay, long request_timeout_ms,
                            double wait) {
    fake_server fake;
    pthread_t thread;
    rdlm_options options;
    rdlm_client *client = NULL;
    rdlm_lock lock;
    rdlm_error error;
    char url[128];
    snprintf(fake.answer, sizeof fake.answer, "%s", answer);
    if (fake_server_start(&fake, &thread, delay) != 0) return RDLM_ERR_NO_MEMORY;
    snprintf(url, sizeof url, "http://127.0.0.1:%d", fake.port);
    rdlm_options_init(&options);
    options.base_url = url;
    options.request_timeout_ms = request_timeout_ms;
    if (rdlm_client_new(&options, &client) != RDLM_OK) exit(2);
    if (call == FAKE_ACQUIRE) {
        error = rdlm_acquire(client, "fake", 60, wait, RDLM_EXCLUSIVE, &lock);
        rdlm_lock_clear(&lock);
    } else {
        snprintf(url, sizeof url, "http://127.0.0.1:%d/locks/fake/0123456789abcdef0123456789abcdef", fake.port);
        error = rdlm_release(client, url);
    }
    fake_server_stop(&fake, thread);
    rdlm_client_free(client);
    return error;
}

/* The rules every client shares (Clients/README.md), for answers rdlmd never gives. */
static void test_shared_client_rules(void) {
    static const char granted[] = "HTTP/1.1 201 Created\r\nLocation: /locks/fake/0123456789abcdef0123456789abcdef\r\n"
                                  "Content-Length: 0\r\nConnection: close\r\n\r\n";
    rdlm_error error;
    error = call_fake(FAKE_RELEASE, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", 0, 10000, 0);
    check("a release answered 200 succeeds (as 204 does)", error == RDLM_OK, rdlm_strerror(error));
    error = call_fake(FAKE_RELEASE, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", 0, 10000, 0);
    check("a release answered 404 is not found: the lock is gone", error == RDLM_ERR_NOT_FOUND, rdlm_strerror(error));
    error = call_fake(FAKE_ACQUIRE, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", 0, 10000, 0);
    check("an acquire answered 404 is a bad request: the server refused the name", error == RDLM_ERR_BAD_REQUEST,
          rdlm_strerror(error));
    /* wait 0.2 s, answer after 1.5 s: a limit of wait + request timeout (0) would cut it */
    error = call_fake(FAKE_ACQUIRE, granted, 1.5, 0, 0.2);
    check("request_timeout_ms 0: an acquire has no time limit, not even its wait", error == RDLM_OK,
          rdlm_strerror(error));
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
    admin = NULL;
    options.admin_password = "wrong-password";
    if (rdlm_client_new(&options, &admin) != RDLM_OK) { check("admin client", 0, NULL); return; }
    error = rdlm_get_resource(admin, "anything", NULL);
    check("an admin request with a wrong password is an auth error",
          error == RDLM_ERR_AUTH && rdlm_last_status(admin) == 401, rdlm_strerror(error));
    rdlm_client_free(admin);
}

int main(int argc, char **argv) {
    rdlm_client *client;
    base = argc > 1 ? argv[1] : getenv("RDLM_URL") ? getenv("RDLM_URL") : "http://127.0.0.1:8888";
    for (base_length = strlen(base); base_length > 0 && base[base_length - 1] == '/'; base_length--) {}
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
    test_json_strings();
    test_long_title_is_cut_between_characters();
    test_grant_cut_short_is_released(client);
    test_relative_location();
    test_shared_client_rules();
    test_admin_credentials();
    rdlm_client_free(client);
    rdlm_global_cleanup();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
