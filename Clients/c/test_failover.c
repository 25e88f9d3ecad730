/* Tests rdlm.h with several servers: failover when a server gives no answer, never after an
 * answer, and the RDLM-Request-Id that makes a retried acquire the same request.
 * Usage: test_failover BASE_URL   (a live rdlmd with --admin-userpass-file yes). Dead
 * servers are closed ports; servers that lose answers or say 503 are scripted here.
 * Last line: "N passed, M failed". */
#define _POSIX_C_SOURCE 200809L
#define RDLM_IMPLEMENTATION
#include "rdlm.h"
#define TEST_TITLE "test_failover.c"
#include "test_support.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static char live[256]; /* the daemon's base URL, without a trailing slash */


static const char *resource(const char *what) {
    static char names[16][64];
    static int count;
    char *name = names[count++ % 16];
    snprintf(name, sizeof names[0], "f%ld%s", (long)getpid(), what);
    return name;
}

/* A listening socket on a free port of 127.0.0.1; its port in *port. */
static int listen_on_free_port(int *port) {
    struct sockaddr_in address;
    socklen_t length = sizeof address;
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    memset(&address, 0, sizeof address);
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (listener < 0) return -1;
    if (bind(listener, (struct sockaddr *)&address, sizeof address) != 0 || listen(listener, 16) != 0 ||
        getsockname(listener, (struct sockaddr *)&address, &length) != 0) {
        close(listener);
        return -1;
    }
    *port = ntohs(address.sin_port);
    return listener;
}

/* The URL of a port nothing listens on: bound, then closed. */
static void dead_url(char *url, size_t size) {
    int port = 0, listener = listen_on_free_port(&port);
    if (listener < 0) exit(2);
    close(listener);
    snprintf(url, size, "http://127.0.0.1:%d", port);
}

/* A server on 127.0.0.1 that reads each request and sends `answer`, or, when answer is
 * NULL, closes without a word: the answer is lost. Keeps the first request's head. */
typedef struct scripted {
    int listener;
    char url[64];
    const char *answer;
    pthread_t thread;
    pthread_mutex_t mutex;
    int requests;
    char first[2048];
} scripted;

static void *scripted_serve(void *context) {
    scripted *s = (scripted *)context;
    for (;;) {
        char request[2048];
        size_t length = 0;
        const char *head_end = NULL, *declared;
        int fd = accept(s->listener, NULL, NULL);
        if (fd < 0) return NULL;
        /* The head, then as much body as Content-Length says. */
        while (length < sizeof request - 1) {
            ssize_t n = recv(fd, request + length, sizeof request - 1 - length, 0);
            if (n <= 0) break;
            length += (size_t)n;
            request[length] = '\0';
            head_end = strstr(request, "\r\n\r\n");
            if (!head_end) continue;
            declared = strstr(request, "Content-Length: ");
            if ((size_t)(request + length - (head_end + 4)) >= (declared ? (size_t)atol(declared + 16) : 0)) break;
        }
        request[length] = '\0';
        pthread_mutex_lock(&s->mutex);
        if (s->requests++ == 0) memcpy(s->first, request, length + 1);
        pthread_mutex_unlock(&s->mutex);
        if (s->answer) {
            ssize_t ignored = send(fd, s->answer, strlen(s->answer), 0);
            (void)ignored;
        }
        close(fd);
    }
}

static void scripted_start(scripted *s, const char *answer) {
    int port = 0;
    memset(s, 0, sizeof *s);
    s->answer = answer;
    pthread_mutex_init(&s->mutex, NULL);
    s->listener = listen_on_free_port(&port);
    if (s->listener < 0 || pthread_create(&s->thread, NULL, scripted_serve, s) != 0) exit(2);
    snprintf(s->url, sizeof s->url, "http://127.0.0.1:%d", port);
}

static int scripted_requests(scripted *s) {
    int count;
    pthread_mutex_lock(&s->mutex);
    count = s->requests;
    pthread_mutex_unlock(&s->mutex);
    return count;
}

static void scripted_stop(scripted *s) {
    shutdown(s->listener, SHUT_RDWR); /* ends the accept */
    pthread_join(s->thread, NULL);
    close(s->listener);
    pthread_mutex_destroy(&s->mutex);
}


/* "first,second" */
static void list2(char *out, size_t size, const char *first, const char *second) {
    snprintf(out, size, "%s,%s", first, second);
}

/* A client of a dead server (its URL in dead) and then the live daemon. */
static rdlm_client *dead_then_live(char *dead, size_t size) {
    char servers[512];
    dead_url(dead, size);
    list2(servers, sizeof servers, dead, live);
    return new_client(servers);
}

static int starts_with(const char *text, const char *prefix) { return strncmp(text, prefix, strlen(prefix)) == 0; }

static void test_acquire_skips_a_dead_server(void) {
    char dead[64];
    rdlm_client *client = dead_then_live(dead, sizeof dead), *direct = new_client(live);
    rdlm_lock lock;
    rdlm_error error;
    error = rdlm_acquire(client, resource("skip"), 60, 0, RDLM_EXCLUSIVE, &lock);
    check("acquire with the first server dead", error == RDLM_OK, rdlm_last_message(client));
    if (error == RDLM_OK) {
        check("the lock is the live server's", starts_with(lock.url, live), lock.url);
        check("it is held there", rdlm_get(direct, lock.url, NULL, NULL) == RDLM_OK, rdlm_last_message(direct));
        check("release through the list", rdlm_release(client, lock.url) == RDLM_OK, rdlm_last_message(client));
        rdlm_lock_clear(&lock);
    }
    rdlm_client_free(client);
    rdlm_client_free(direct);
}

static void test_lock_url_of_a_dead_server_goes_to_the_others(void) {
    char dead[64], on_dead[512];
    rdlm_client *client = dead_then_live(dead, sizeof dead), *direct = new_client(live);
    rdlm_lock lock;
    rdlm_lock_info info;
    if (rdlm_acquire(direct, resource("moved"), 60, 0, RDLM_EXCLUSIVE, &lock) != RDLM_OK) {
        check("acquire on the live server", 0, rdlm_last_message(direct));
        rdlm_client_free(client);
        rdlm_client_free(direct);
        return;
    }
    snprintf(on_dead, sizeof on_dead, "%s%s", dead, strstr(lock.url, "/locks/"));
    check("get of a URL on a dead server", rdlm_get(client, on_dead, &info, NULL) == RDLM_OK && info.active,
          rdlm_last_message(client));
    check("refresh of a URL on a dead server", rdlm_refresh(client, on_dead, 90) == RDLM_OK, rdlm_last_message(client));
    check("the refresh reached the lock", rdlm_get(direct, lock.url, &info, NULL) == RDLM_OK && info.lifetime == 90, NULL);
    check("release of a URL on a dead server", rdlm_release(client, on_dead) == RDLM_OK, rdlm_last_message(client));
    check("the lock is gone", rdlm_get(direct, lock.url, NULL, NULL) == RDLM_ERR_NOT_FOUND, rdlm_last_message(direct));
    rdlm_lock_clear(&lock);
    rdlm_client_free(client);
    rdlm_client_free(direct);
}

static int is_hex32(const char *text, size_t length) {
    size_t i;
    if (length != 32) return 0;
    for (i = 0; i < 32; i++)
        if (!strchr("0123456789abcdef", text[i]) || !text[i]) return 0;
    return 1;
}

/* The first server loses the answer; the second, the real daemon, must get the same id
 * and make it the uid. A second acquire starts at the server that answered. */
static void test_request_id_is_kept_across_servers(void) {
    scripted silent;
    char servers[512];
    const char *id, *uid;
    rdlm_client *client;
    rdlm_lock lock, second;
    scripted_start(&silent, NULL);
    list2(servers, sizeof servers, silent.url, live);
    client = new_client(servers);
    if (rdlm_acquire(client, resource("named"), 60, 0, RDLM_EXCLUSIVE, &lock) != RDLM_OK) {
        check("acquire after a lost answer", 0, rdlm_last_message(client));
    } else {
        id = strstr(silent.first, "RDLM-Request-Id: ");
        uid = strrchr(lock.url, '/') + 1;
        check("the lost attempt carried a request id", id != NULL, silent.first);
        if (id) {
            id += strlen("RDLM-Request-Id: ");
            check("the id is 32 lowercase hex digits", is_hex32(id, strcspn(id, "\r")), id);
            check("the next server got the same id (it is the uid)", strncmp(id, uid, 32) == 0 && strlen(uid) == 32, uid);
        }
        check("second acquire", rdlm_acquire(client, resource("named2"), 60, 0, RDLM_EXCLUSIVE, &second) == RDLM_OK,
              rdlm_last_message(client));
        check("it started at the server that answered", scripted_requests(&silent) == 1, NULL);
        check("its id differs", strcmp(strrchr(second.url, '/'), strrchr(lock.url, '/')) != 0, second.url);
        rdlm_release(client, second.url);
        rdlm_lock_clear(&second);
        rdlm_release(client, lock.url);
        rdlm_lock_clear(&lock);
    }
    rdlm_client_free(client);
    scripted_stop(&silent);
}

static const char not_found[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

static void test_retried_release_that_finds_the_lock_gone_succeeds(void) {
    scripted silent, gone;
    char servers[512], url[512], dead[64];
    rdlm_client *client;
    scripted_start(&silent, NULL);
    scripted_start(&gone, not_found);
    list2(servers, sizeof servers, silent.url, gone.url);
    snprintf(url, sizeof url, "%s/locks/lost/00112233445566778899aabbccddeeff", silent.url);
    client = new_client(servers);
    check("a lost release, then 404: success", rdlm_release(client, url) == RDLM_OK, rdlm_last_message(client));
    check("both servers were asked", scripted_requests(&silent) == 1 && scripted_requests(&gone) == 1, NULL);
    rdlm_client_free(client);
    /* Never sent (refused): a 404 from the next server is the lock's real state. */
    dead_url(dead, sizeof dead);
    list2(servers, sizeof servers, dead, gone.url);
    snprintf(url, sizeof url, "%s/locks/lost/00112233445566778899aabbccddeeff", dead);
    client = new_client(servers);
    check("a refused release, then 404: not found", rdlm_release(client, url) == RDLM_ERR_NOT_FOUND,
          rdlm_last_message(client));
    rdlm_client_free(client);
    scripted_stop(&silent);
    scripted_stop(&gone);
}

static void test_a_503_is_an_answer(void) {
    scripted unavailable;
    char servers[512];
    rdlm_client *client, *direct = new_client(live);
    rdlm_lock lock;
    char *json = NULL;
    const char *name = resource("quorum");
    scripted_start(&unavailable, "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    list2(servers, sizeof servers, unavailable.url, live);
    client = new_client(servers);
    check("503: unavailable, not failed over", rdlm_acquire(client, name, 60, 0, RDLM_EXCLUSIVE, &lock) == RDLM_ERR_UNAVAILABLE,
          rdlm_last_message(client));
    check("the live server has no lock", rdlm_get_resource(direct, name, &json) == RDLM_OK && json && !strstr(json, "\"uid\""), json);
    rdlm_free(json);
    rdlm_client_free(client);
    rdlm_client_free(direct);
    scripted_stop(&unavailable);
}

static void test_every_server_dead_names_the_last(void) {
    char first[64], last[64], servers[256];
    rdlm_client *client;
    rdlm_lock lock;
    dead_url(first, sizeof first);
    dead_url(last, sizeof last);
    list2(servers, sizeof servers, first, last);
    client = new_client(servers);
    check("every server dead: transport error", rdlm_acquire(client, resource("nowhere"), 60, 0, RDLM_EXCLUSIVE, &lock) ==
          RDLM_ERR_TRANSPORT, rdlm_last_message(client));
    check("the message is the last server's", strstr(rdlm_last_message(client), strrchr(last, ':') + 1) != NULL,
          rdlm_last_message(client));
    rdlm_client_free(client);
}

static void test_server_lists_are_checked(void) {
    rdlm_options options;
    rdlm_client *client = NULL;
    char servers[512];
    rdlm_options_init(&options);
    snprintf(servers, sizeof servers, "http://127.0.0.1:1/,%s//", live);
    options.base_url = servers;
    check("trailing slashes per URL are fine", rdlm_client_new(&options, &client) == RDLM_OK, NULL);
    rdlm_client_free(client);
    client = NULL;
    options.base_url = "http://127.0.0.1:1,ftp://nowhere";
    check("a bad URL in the list is a bad argument", rdlm_client_new(&options, &client) == RDLM_ERR_BAD_ARGUMENT && !client, NULL);
    options.base_url = "http://127.0.0.1:1,";
    check("an empty item is a bad argument", rdlm_client_new(&options, &client) == RDLM_ERR_BAD_ARGUMENT && !client, NULL);
}

int main(int argc, char **argv) {
    size_t length;
    if (argc < 2) {
        fprintf(stderr, "usage: test_failover BASE_URL\n");
        return 2;
    }
    snprintf(live, sizeof live, "%s", argv[1]);
    for (length = strlen(live); length > 0 && live[length - 1] == '/'; length--) live[length - 1] = '\0';
    if (rdlm_global_init() != RDLM_OK) return 2;
    test_acquire_skips_a_dead_server();
    test_lock_url_of_a_dead_server_goes_to_the_others();
    test_request_id_is_kept_across_servers();
    test_retried_release_that_finds_the_lock_gone_succeeds();
    test_a_503_is_an_answer();
    test_every_server_dead_names_the_last();
    test_server_lists_are_checked();
    rdlm_global_cleanup();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
