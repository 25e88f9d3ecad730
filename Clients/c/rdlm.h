/* rdlm.h - a header-only C client for rdlmd, the RESTful distributed lock manager.
 * MIT license, see LICENSE at the top of the repository. Depends on libc and libcurl only.
 *
 * USE
 *   In exactly one C or C++ file, before the include:
 *       #define RDLM_IMPLEMENTATION
 *       #include "rdlm.h"
 *   Everywhere else just #include "rdlm.h". Link with -lcurl.
 *   Optional, before the implementing include: RDLM_MALLOC(size) and RDLM_FREE(ptr) (both or
 *   neither) to use your allocator for the client's own memory (libcurl keeps its own; use
 *   curl_global_init_mem instead of rdlm_global_init to route that too); RDLM_STATIC to make
 *   every function static; RDLM_MAX_RESPONSE_BYTES (default 16 MiB) to bound a response body.
 *
 *   rdlm_global_init();
 *   rdlm_options options; rdlm_options_init(&options);
 *   options.base_url = "http://127.0.0.1:8888";
 *   rdlm_client *client; rdlm_lock lock;
 *   if (rdlm_client_new(&options, &client) == RDLM_OK) {
 *       rdlm_error err = rdlm_acquire(client, "backup", 300, 20, RDLM_EXCLUSIVE, &lock);
 *       if (err == RDLM_OK) { ... write with lock.fencing_token ...; rdlm_release(client, lock.url); rdlm_lock_clear(&lock); }
 *       else fprintf(stderr, "%s: %s\n", rdlm_strerror(err), rdlm_last_message(client));
 *       rdlm_client_free(client);
 *   }
 *   rdlm_global_cleanup();
 *
 * THREADS
 *   Call rdlm_global_init() once before any other thread exists (it runs curl_global_init,
 *   which is not thread-safe on every libcurl build), and rdlm_global_cleanup() once at the
 *   end, after every client is freed. A client keeps one libcurl handle (so its connection is
 *   reused) and the last request's status and message, so a client must be used by one
 *   thread at a time; use one client per thread. Different clients are independent and may
 *   be used concurrently. No function touches signals (CURLOPT_NOSIGNAL is set), and
 *   rdlm_strerror returns static strings.
 *
 * ERRORS
 *   Every request returns RDLM_OK or an rdlm_error; rdlm_last_status() gives the HTTP status
 *   (0 when no answer came) and rdlm_last_message() the server's error text or libcurl's.
 *     RDLM_ERR_WAIT_TIMEOUT  408: the wait ran out (at once for wait 0 on a held resource)
 *     RDLM_ERR_DELETED       409 on acquire: an admin deleted the resource while we waited
 *     RDLM_ERR_NOT_FOUND     404 on a lock URL (expired, released, never existed) or on a
 *                            resource that has no locks (rdlm_delete_resource)
 *     RDLM_ERR_BAD_REQUEST   400 or 413: the server rejected the parameters (a name longer
 *                            than it allows, say); also 404 on acquire, which means the
 *                            server refused the name
 *     RDLM_ERR_AUTH          401 or 403 on admin requests
 *     RDLM_ERR_UNAVAILABLE   503: too many waiters or locks, or the daemon is shutting down
 *     RDLM_ERR_SERVER        any other 5xx
 *     RDLM_ERR_PROTOCOL      an answer the protocol does not allow (e.g. 201 without
 *                            Location, 409 on refresh of a lock that is still waiting)
 *     RDLM_ERR_TRANSPORT     no answer: connection refused, DNS, TLS, or the request timeout
 *     RDLM_ERR_BAD_ARGUMENT  NULL or empty argument, a resource name that is not
 *                            [a-zA-Z0-9]+ (checked before sending, so "." or ".." never
 *                            reach the server as a path), a URL that is not http(s):// with
 *                            a host, seconds that are NaN or infinite, an unknown mode
 *     RDLM_ERR_NO_MEMORY     an allocation failed
 *     RDLM_ERR_NO_RANDOM     rdlm_acquire could not read RDLM_RANDOM_SOURCE (default
 *                            /dev/urandom) for its request id
 *   A 404 from acquire is reported as a bad request rather than "not found" because there
 *   is nothing to find: resources exist on demand, and only the name can be wrong. A release
 *   succeeds on 204 or 200. request_timeout_ms 0 means no limit on any request, acquire
 *   included. These rules are the same in every client of this repository: see "Behaviour
 *   shared by every client" in Clients/README.md.
 *   If the server grants a lock (201) but the transfer then fails (a timeout or reset before
 *   the answer ends, a body over RDLM_MAX_RESPONSE_BYTES), rdlm_acquire releases that lock
 *   at once, best effort, before returning the error: no lock is left held for nobody. The
 *   message then ends with what became of it.
 *
 * SEVERAL SERVERS
 *   base_url may list daemons that share one lock space: "http://a:8888,http://b:8888".
 *   A request goes to the server that answered last (the first at the start); only when a
 *   server gives no HTTP answer at all (curl: could not resolve 6, could not connect 7,
 *   empty reply 52, send 55 or receive 56 error, or a timeout 28 before anything was sent)
 *   does it go to the next, round-robin, each server at most once per request. Any answer,
 *   503 included, is the answer. When every server failed, the error and message are the
 *   last server's. A lock URL's own server is asked first, then the list with the URL's
 *   path (/locks/R/uid). A release that may have reached a server whose answer was then
 *   lost and that gets 404 from the next is RDLM_OK: the lock is gone either way.
 *   Every acquire sends "RDLM-Request-Id: <32 hex digits>" from RDLM_RANDOM_SOURCE, the
 *   same to every server it tries; the daemon makes it the lock's uid, so a retry after a
 *   lost answer is the same request. If a server answers 503 because that id still waits
 *   on an earlier attempt's connection, the acquire is sent there again after a pause
 *   (0.1 s doubling to 1 s; with libcurl before 7.66 without pause) until wait plus
 *   request_timeout_ms, counted from the first attempt, have passed.
 */
#ifndef RDLM_H
#define RDLM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifdef RDLM_STATIC
#if defined(__GNUC__)
#define RDLM_DEF static __attribute__((unused))
#else
#define RDLM_DEF static
#endif
#else
#define RDLM_DEF extern
#endif

#define RDLM_VERSION "1.0.0"

/* Pass as a lifetime or wait to use the client's default. */
#define RDLM_DEFAULT (-1.0)

typedef enum rdlm_error {
    RDLM_OK = 0,
    RDLM_ERR_WAIT_TIMEOUT,
    RDLM_ERR_DELETED,
    RDLM_ERR_NOT_FOUND,
    RDLM_ERR_BAD_REQUEST,
    RDLM_ERR_AUTH,
    RDLM_ERR_UNAVAILABLE,
    RDLM_ERR_SERVER,
    RDLM_ERR_PROTOCOL,
    RDLM_ERR_TRANSPORT,
    RDLM_ERR_BAD_ARGUMENT,
    RDLM_ERR_NO_MEMORY,
    RDLM_ERR_NO_RANDOM
} rdlm_error;

typedef enum rdlm_mode {
    RDLM_EXCLUSIVE = 0, /* one holder at a time (the original protocol) */
    RDLM_SHARED = 1     /* any number of shared holders, never with an exclusive one */
} rdlm_mode;

typedef struct rdlm_options {
    const char *base_url;     /* "http://host:port", or a comma-separated list of daemons
                                 sharing one lock space; default "http://127.0.0.1:8888" */
    const char *title;        /* sent with every acquire; default "rdlm.h" */
    double lifetime;          /* default lifetime in seconds; default 300 */
    double wait;              /* default wait in seconds; default 10 */
    long connect_timeout_ms;  /* default 5000; 0: libcurl's default */
    long request_timeout_ms;  /* default 10000; an acquire may take wait + this; 0: no limit */
    const char *admin_user;   /* HTTP Basic credentials for the admin requests; NULL: none */
    const char *admin_password;
    const char *ca_bundle;    /* PEM file of the CAs that sign the daemons' certificates, for
                                 https:// URLs (CURLOPT_CAINFO); NULL: the system's CAs */
    const char *client_cert;  /* PEM client certificate, for a daemon with mutual TLS
                                 (CURLOPT_SSLCERT); NULL: none */
    const char *client_key;   /* PEM unencrypted key of client_cert (CURLOPT_SSLKEY); NULL:
                                 none, or in client_cert's file */
} rdlm_options;

typedef struct rdlm_client rdlm_client;

/* A granted lock. The url is owned by the struct: free it with rdlm_lock_clear. */
typedef struct rdlm_lock {
    char *url;                        /* absolute lock URL, e.g. http://h:p/locks/foo/<uid> */
    unsigned long long fencing_token; /* 0 when the server sent none (the original RDLM) */
} rdlm_lock;

/* The essentials of GET {lock URL}; strings are truncated to fit. */
typedef struct rdlm_lock_info {
    char uid[33];
    char title[256];
    int active;                       /* 1 held, 0 still waiting */
    int shared;                       /* 1 for "mode": "shared" */
    double lifetime;
    double wait;
    unsigned long long fencing_token; /* 0 while waiting */
    char since[40];                   /* active_since, or wait_since while waiting */
    char expires[40];                 /* active_expires, or wait_expires while waiting */
} rdlm_lock_info;

RDLM_DEF rdlm_error rdlm_global_init(void);
RDLM_DEF void rdlm_global_cleanup(void);

RDLM_DEF void rdlm_options_init(rdlm_options *options);
/* Copies every string in options; options may be NULL for all defaults. */
RDLM_DEF rdlm_error rdlm_client_new(const rdlm_options *options, rdlm_client **client);
RDLM_DEF void rdlm_client_free(rdlm_client *client);

/* Blocks up to wait seconds. lifetime or wait RDLM_DEFAULT (any negative): the client's.
 * On RDLM_OK, *lock holds the lock URL and token; on error *lock is zeroed. */
RDLM_DEF rdlm_error rdlm_acquire(rdlm_client *client, const char *resource, double lifetime,
                                 double wait, rdlm_mode mode, rdlm_lock *lock);
RDLM_DEF rdlm_error rdlm_release(rdlm_client *client, const char *lock_url);
/* The lock's expiry becomes now + lifetime; RDLM_DEFAULT keeps the lock's own lifetime.
 * A refresh never re-acquires a lost lock: RDLM_ERR_NOT_FOUND means it is gone. */
RDLM_DEF rdlm_error rdlm_refresh(rdlm_client *client, const char *lock_url, double lifetime);
/* Either out-parameter may be NULL. *json is NUL-terminated; free it with rdlm_free. */
RDLM_DEF rdlm_error rdlm_get(rdlm_client *client, const char *lock_url, rdlm_lock_info *info,
                             char **json);

/* Admin requests (sent with the admin credentials, if any). */
RDLM_DEF rdlm_error rdlm_get_resource(rdlm_client *client, const char *resource, char **json);
RDLM_DEF rdlm_error rdlm_delete_resource(rdlm_client *client, const char *resource);

RDLM_DEF void rdlm_lock_clear(rdlm_lock *lock);
RDLM_DEF void rdlm_free(void *memory);
RDLM_DEF const char *rdlm_strerror(rdlm_error error);
RDLM_DEF long rdlm_last_status(const rdlm_client *client);
RDLM_DEF const char *rdlm_last_message(const rdlm_client *client);

#ifdef __cplusplus
}
#endif

#endif /* RDLM_H */

#ifdef RDLM_IMPLEMENTATION
#ifndef RDLM_IMPLEMENTATION_DONE
#define RDLM_IMPLEMENTATION_DONE

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#if defined(RDLM_MALLOC) != defined(RDLM_FREE)
#error "rdlm.h: define both RDLM_MALLOC and RDLM_FREE, or neither"
#endif
#ifndef RDLM_MALLOC
#include <stdlib.h>
#define RDLM_MALLOC(size) malloc(size)
#define RDLM_FREE(ptr) free(ptr)
#endif
#ifndef RDLM_MAX_RESPONSE_BYTES
#define RDLM_MAX_RESPONSE_BYTES (16u * 1024u * 1024u)
#endif
#ifndef RDLM_RANDOM_SOURCE
#define RDLM_RANDOM_SOURCE "/dev/urandom"
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rdlm__buffer {
    char *data;
    size_t length;
    size_t capacity;
    int overflowed; /* 1: out of memory, 2: larger than RDLM_MAX_RESPONSE_BYTES */
} rdlm__buffer;

struct rdlm_client {
    CURL *curl;
    struct curl_slist *headers;      /* Accept and no Expect: for every request */
    struct curl_slist *body_headers; /* the same plus Content-Type, for requests with a body */
    char **servers;                  /* the base URLs, without trailing slashes */
    size_t server_count;
    size_t current;                  /* the server that answered last: requests start there */
    const char *base_url;            /* the server being asked: one of servers, or a lock
                                        URL's own (for a relative Location) */
    struct curl_slist *acquire_headers; /* body_headers plus this acquire's request id */
    int no_answer;                   /* the last transfer's RDLM__NOT_SENT or RDLM__ANSWER_LOST */
    char *title_json;                /* the title, escaped for a JSON string */
    char *admin_user;
    char *admin_password;
    char *tls_files[3];              /* ca_bundle, client_cert, client_key (copies, or NULL) */
    double lifetime;
    double wait;
    long connect_timeout_ms;
    long request_timeout_ms;
    long last_status;
    char message[256];
    char curl_error[CURL_ERROR_SIZE];
    rdlm__buffer body;
    char *location;
    unsigned long long token;
};

static char *rdlm__strdup(const char *text) {
    size_t length = strlen(text);
    char *copy = (char *)RDLM_MALLOC(length + 1);
    if (copy) memcpy(copy, text, length + 1);
    return copy;
}

static int rdlm__lower(int c) { return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c; }

static int rdlm__starts_with_nocase(const char *text, size_t length, const char *prefix) {
    size_t i, n = strlen(prefix);
    if (length < n) return 0;
    for (i = 0; i < n; i++)
        if (rdlm__lower((unsigned char)text[i]) != prefix[i]) return 0;
    return 1;
}

static void rdlm__set_message(rdlm_client *client, const char *text, size_t length) {
    if (length >= sizeof client->message) length = sizeof client->message - 1;
    memcpy(client->message, text, length);
    client->message[length] = '\0';
}

/* ---- JSON: just enough to read the lock document and error bodies ---------------------- */

static const char *rdlm__json_ws(const char *p, const char *end) {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    return p;
}

static const char *rdlm__json_skip_string(const char *p, const char *end) {
    for (p++; p < end; p++) {
        if (*p == '\\') p++;
        else if (*p == '"') return p + 1;
    }
    return NULL;
}

static const char *rdlm__json_skip_value(const char *p, const char *end) {
    int depth = 0;
    if (p >= end) return NULL;
    if (*p == '"') return rdlm__json_skip_string(p, end);
    if (*p != '{' && *p != '[') {
        while (p < end && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\t' &&
               *p != '\n' && *p != '\r')
            p++;
        return p;
    }
    while (p < end) {
        if (*p == '"') {
            p = rdlm__json_skip_string(p, end);
            if (!p) return NULL;
            continue;
        }
        if (*p == '{' || *p == '[') depth++;
        else if (*p == '}' || *p == ']') {
            if (--depth == 0) return p + 1;
        }
        p++;
    }
    return NULL;
}

typedef void (*rdlm__json_field)(void *context, const char *key, size_t key_length,
                                 const char *value, const char *value_end);

/* Calls field for each member of the top-level object; returns 0, or -1 when malformed. */
static int rdlm__json_each(const char *p, const char *end, rdlm__json_field field, void *context) {
    p = rdlm__json_ws(p, end);
    if (p >= end || *p != '{') return -1;
    p = rdlm__json_ws(p + 1, end);
    if (p < end && *p == '}') return 0;
    while (p < end) {
        const char *key = p, *key_end, *value, *value_end;
        if (*p != '"') return -1;
        key_end = rdlm__json_skip_string(p, end);
        if (!key_end) return -1;
        p = rdlm__json_ws(key_end, end);
        if (p >= end || *p != ':') return -1;
        value = rdlm__json_ws(p + 1, end);
        value_end = rdlm__json_skip_value(value, end);
        if (!value_end || value_end == value) return -1;
        field(context, key + 1, (size_t)(key_end - key - 2), value, value_end);
        p = rdlm__json_ws(value_end, end);
        if (p < end && *p == '}') return 0;
        if (p >= end || *p != ',') return -1;
        p = rdlm__json_ws(p + 1, end);
    }
    return -1;
}

static int rdlm__key_is(const char *key, size_t length, const char *name) {
    return strlen(name) == length && memcmp(key, name, length) == 0;
}

static int rdlm__hex(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    c = rdlm__lower(c);
    return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

/* The four hex digits after "\u" at p (which points at the 'u'); -1 when there are not four. */
static int rdlm__json_hex4(const char *p, const char *end, unsigned long *code) {
    int i;
    *code = 0;
    if (end - p < 5) return -1;
    for (i = 1; i <= 4; i++) {
        int digit = rdlm__hex((unsigned char)p[i]);
        if (digit < 0) return -1;
        *code = *code * 16 + (unsigned long)digit;
    }
    return 0;
}

/* Writes code point code as UTF-8 into unit (4 bytes); returns the length. */
static size_t rdlm__utf8(char *unit, unsigned long code) {
    if (code < 0x80) { unit[0] = (char)code; return 1; }
    if (code < 0x800) {
        unit[0] = (char)(0xC0 | (code >> 6));
        unit[1] = (char)(0x80 | (code & 0x3F));
        return 2;
    }
    if (code < 0x10000) {
        unit[0] = (char)(0xE0 | (code >> 12));
        unit[1] = (char)(0x80 | ((code >> 6) & 0x3F));
        unit[2] = (char)(0x80 | (code & 0x3F));
        return 3;
    }
    unit[0] = (char)(0xF0 | (code >> 18));
    unit[1] = (char)(0x80 | ((code >> 12) & 0x3F));
    unit[2] = (char)(0x80 | ((code >> 6) & 0x3F));
    unit[3] = (char)(0x80 | (code & 0x3F));
    return 4;
}

/* Copies a JSON string value, unescaped and truncated to fit; "" when it is not a string.
 * \u escapes become UTF-8, a surrogate pair one 4-byte character, a lone surrogate U+FFFD.
 * Truncation cuts before a whole UTF-8 character, never inside one. */
static void rdlm__json_string(const char *p, const char *end, char *out, size_t size) {
    size_t n = 0;
    int truncated = 0;
    out[0] = '\0';
    if (p >= end || *p != '"') return;
    for (p++; p < end && *p != '"'; p++) {
        char unit[4];
        size_t k = 1;
        unsigned long code, low;
        unit[0] = *p;
        if (*p == '\\' && ++p < end) {
            switch (*p) {
            case 'b': unit[0] = '\b'; break;
            case 'f': unit[0] = '\f'; break;
            case 'n': unit[0] = '\n'; break;
            case 'r': unit[0] = '\r'; break;
            case 't': unit[0] = '\t'; break;
            case 'u':
                if (rdlm__json_hex4(p, end, &code) != 0) { unit[0] = '?'; break; }
                p += 4; /* the last hex digit */
                if (code >= 0xD800 && code <= 0xDBFF && end - p >= 7 && p[1] == '\\' && p[2] == 'u' &&
                    rdlm__json_hex4(p + 2, end, &low) == 0 && low >= 0xDC00 && low <= 0xDFFF) {
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
                    p += 6;
                } else if (code >= 0xD800 && code <= 0xDFFF) {
                    code = 0xFFFD;
                }
                k = rdlm__utf8(unit, code);
                break;
            default: unit[0] = *p; break; /* \" \\ \/ */
            }
        }
        if (n + k >= size) { truncated = 1; break; }
        memcpy(out + n, unit, k);
        n += k;
    }
    if (truncated && n > 0) { /* drop a last character cut short */
        size_t start = n, need;
        unsigned char lead;
        while (start > 0 && ((unsigned char)out[start - 1] & 0xC0) == 0x80) start--;
        if (start > 0) {
            lead = (unsigned char)out[start - 1];
            need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
            if (n - (start - 1) < need) n = start - 1;
        }
    }
    out[n] = '\0';
}

/* A locale-independent reading of a JSON number (strtod would honour LC_NUMERIC). */
static double rdlm__json_number(const char *p, const char *end) {
    double value = 0, scale = 1;
    int negative = 0, exponent = 0, exponent_negative = 0;
    if (p < end && *p == '-') { negative = 1; p++; }
    for (; p < end && *p >= '0' && *p <= '9'; p++) value = value * 10 + (*p - '0');
    if (p < end && *p == '.')
        for (p++; p < end && *p >= '0' && *p <= '9'; p++) { scale /= 10; value += (*p - '0') * scale; }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-')) exponent_negative = *p++ == '-';
        for (; p < end && *p >= '0' && *p <= '9' && exponent < 400; p++) exponent = exponent * 10 + (*p - '0');
        while (exponent-- > 0) value = exponent_negative ? value / 10 : value * 10;
    }
    return negative ? -value : value;
}

static unsigned long long rdlm__parse_token(const char *p, const char *end) {
    unsigned long long value = 0;
    for (; p < end && *p >= '0' && *p <= '9'; p++) {
        unsigned digit = (unsigned)(*p - '0');
        if (value > (~0ULL - digit) / 10) return 0; /* overflow: not a token we can hold */
        value = value * 10 + digit;
    }
    return value;
}

static void rdlm__lock_info_field(void *context, const char *key, size_t length,
                                  const char *value, const char *end) {
    rdlm_lock_info *info = (rdlm_lock_info *)context;
    char mode[16];
    if (rdlm__key_is(key, length, "uid")) rdlm__json_string(value, end, info->uid, sizeof info->uid);
    else if (rdlm__key_is(key, length, "title")) rdlm__json_string(value, end, info->title, sizeof info->title);
    else if (rdlm__key_is(key, length, "active")) info->active = *value == 't';
    else if (rdlm__key_is(key, length, "lifetime")) info->lifetime = rdlm__json_number(value, end);
    else if (rdlm__key_is(key, length, "wait")) info->wait = rdlm__json_number(value, end);
    else if (rdlm__key_is(key, length, "fencing_token")) info->fencing_token = rdlm__parse_token(value, end);
    else if (rdlm__key_is(key, length, "mode")) {
        rdlm__json_string(value, end, mode, sizeof mode);
        info->shared = strcmp(mode, "shared") == 0;
    } else if (rdlm__key_is(key, length, "active_since") || rdlm__key_is(key, length, "wait_since"))
        rdlm__json_string(value, end, info->since, sizeof info->since);
    else if (rdlm__key_is(key, length, "active_expires") || rdlm__key_is(key, length, "wait_expires"))
        rdlm__json_string(value, end, info->expires, sizeof info->expires);
}

static void rdlm__error_field(void *context, const char *key, size_t length, const char *value,
                              const char *end) {
    rdlm_client *client = (rdlm_client *)context;
    if (rdlm__key_is(key, length, "error"))
        rdlm__json_string(value, end, client->message, sizeof client->message);
}

/* ---- request building ------------------------------------------------------------------ */

static char *rdlm__json_escape(const char *text) {
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;
    const unsigned char *p;
    char *out = (char *)RDLM_MALLOC(strlen(text) * 6 + 1);
    if (!out) return NULL;
    for (p = (const unsigned char *)text; *p; p++) {
        if (*p == '"' || *p == '\\') { out[n++] = '\\'; out[n++] = (char)*p; }
        else if (*p < 0x20) {
            memcpy(out + n, "\\u00", 4);
            out[n + 4] = hex[*p >> 4];
            out[n + 5] = hex[*p & 15];
            n += 6;
        } else out[n++] = (char)*p;
    }
    out[n] = '\0';
    return out;
}

/* Seconds as a JSON number with at most microsecond digits, whatever the C locale. */
static int rdlm__seconds(char *out, size_t size, double seconds) {
    unsigned long long whole;
    unsigned long micros;
    int n;
    if (!(seconds >= 0 && seconds < 1e12)) return -1; /* also rejects NaN */
    whole = (unsigned long long)seconds;
    micros = (unsigned long)((seconds - (double)whole) * 1e6 + 0.5);
    if (micros >= 1000000UL) { whole++; micros -= 1000000UL; }
    if (micros == 0) return snprintf(out, size, "%llu", whole) < (int)size ? 0 : -1;
    n = snprintf(out, size, "%llu.%06lu", whole, micros);
    if (n < 0 || (size_t)n >= size) return -1;
    while (out[n - 1] == '0') out[--n] = '\0';
    return 0;
}

static char *rdlm__join(const char *a, const char *b, const char *c) {
    size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
    char *out = (char *)RDLM_MALLOC(la + lb + lc + 1);
    if (!out) return NULL;
    memcpy(out, a, la);
    memcpy(out + la, b, lb);
    memcpy(out + la + lb, c, lc + 1);
    return out;
}

/* A resource name is [a-zA-Z0-9]+. Checked here because anything else would change the
 * URL: "." and ".." are dot segments that curl resolves away (GET /resources/.. is GET /). */
static int rdlm__valid_name(const char *name) {
    if (!name || !*name) return 0;
    for (; *name; name++)
        if (!((*name >= 'a' && *name <= 'z') || (*name >= 'A' && *name <= 'Z') || (*name >= '0' && *name <= '9')))
            return 0;
    return 1;
}

/* prefix + the resource name: the path of a request, sent to each server in turn. */
static rdlm_error rdlm__resource_path(rdlm_client *client, const char *prefix, const char *resource,
                                      char **url) {
    static const char bad_name[] = "a resource name is letters and digits: [a-zA-Z0-9]+";
    *url = NULL;
    if (!rdlm__valid_name(resource)) {
        rdlm__set_message(client, bad_name, sizeof bad_name - 1);
        return RDLM_ERR_BAD_ARGUMENT;
    }
    *url = rdlm__join("", prefix, resource);
    return *url ? RDLM_OK : RDLM_ERR_NO_MEMORY;
}

/* An http:// or https:// URL with a host, and no query or fragment (paths are appended). */
static int rdlm__valid_base_url(const char *url) {
    size_t length = strlen(url);
    const char *authority, *end, *host, *p;
    if (rdlm__starts_with_nocase(url, length, "http://")) authority = url + 7;
    else if (rdlm__starts_with_nocase(url, length, "https://")) authority = url + 8;
    else return 0;
    for (p = url; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == '?' || *p == '#') return 0;
    end = authority + strcspn(authority, "/");
    for (host = end; host > authority && host[-1] != '@'; host--) {} /* after any user info */
    if (host == end) return 0;
    if (*host == '[') { /* an IPv6 literal */
        const char *close = (const char *)memchr(host, ']', (size_t)(end - host));
        return close && close > host + 1;
    }
    return *host != ':';
}

/* ---- the transfer ---------------------------------------------------------------------- */

static size_t rdlm__on_body(char *data, size_t size, size_t count, void *context) {
    rdlm__buffer *buffer = (rdlm__buffer *)context;
    size_t length = size * count;
    if (length > RDLM_MAX_RESPONSE_BYTES - buffer->length) { buffer->overflowed = 2; return 0; }
    if (buffer->length + length + 1 > buffer->capacity) {
        size_t capacity = buffer->capacity ? buffer->capacity : 1024;
        char *grown;
        while (capacity < buffer->length + length + 1) capacity *= 2;
        grown = (char *)RDLM_MALLOC(capacity);
        if (!grown) { buffer->overflowed = 1; return 0; }
        if (buffer->data) {
            memcpy(grown, buffer->data, buffer->length);
            RDLM_FREE(buffer->data);
        }
        buffer->data = grown;
        buffer->capacity = capacity;
    }
    memcpy(buffer->data + buffer->length, data, length);
    buffer->length += length;
    buffer->data[buffer->length] = '\0';
    return length;
}

static void rdlm__trim(const char **start, const char **end) {
    while (*start < *end && (**start == ' ' || **start == '\t')) (*start)++;
    while (*end > *start && ((*end)[-1] == '\r' || (*end)[-1] == '\n' || (*end)[-1] == ' ')) (*end)--;
}

static size_t rdlm__on_header(char *data, size_t size, size_t count, void *context) {
    rdlm_client *client = (rdlm_client *)context;
    size_t length = size * count;
    const char *value, *end = data + length;
    if (rdlm__starts_with_nocase(data, length, "http/")) { /* a new response: forget the last */
        RDLM_FREE(client->location);
        client->location = NULL;
        client->token = 0;
    } else if (rdlm__starts_with_nocase(data, length, "location:")) {
        size_t prefix = 0, n;
        value = data + 9;
        rdlm__trim(&value, &end);
        n = (size_t)(end - value);
        if (n > 0 && *value == '/') { /* relative: keep the base URL's scheme and authority */
            const char *scheme_end = strstr(client->base_url, "://");
            if (scheme_end) {
                const char *slash = strchr(scheme_end + 3, '/');
                prefix = slash ? (size_t)(slash - client->base_url) : strlen(client->base_url);
            }
        }
        RDLM_FREE(client->location);
        client->location = (char *)RDLM_MALLOC(prefix + n + 1);
        if (!client->location) { client->body.overflowed = 1; return 0; }
        memcpy(client->location, client->base_url, prefix);
        memcpy(client->location + prefix, value, n);
        client->location[prefix + n] = '\0';
    } else if (rdlm__starts_with_nocase(data, length, "rdlm-fencing-token:")) {
        value = data + 19;
        rdlm__trim(&value, &end);
        client->token = rdlm__parse_token(value, end);
    }
    return length;
}

static void rdlm__reset(rdlm_client *client) {
    client->last_status = 0;
    client->message[0] = '\0';
    client->curl_error[0] = '\0';
    client->body.length = 0;
    client->body.overflowed = 0;
    if (client->body.data) client->body.data[0] = '\0';
    RDLM_FREE(client->location);
    client->location = NULL;
    client->token = 0;
}

enum { RDLM__NOT_SENT = 1, RDLM__ANSWER_LOST = 2 };

/* Whether a failed transfer is a reason to ask the next server, and how far it got: 0 when
 * an answer had begun (its status line came), for a timeout after the request went out
 * (the request's own time is spent), and for TLS, URL or memory errors, which every server
 * would meet; RDLM__NOT_SENT when no server saw the request; RDLM__ANSWER_LOST when it
 * went out (or may have) and the connection broke without a word. */
static int rdlm__no_answer(CURL *curl, CURLcode code) {
    long status = 0, sent = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(curl, CURLINFO_REQUEST_SIZE, &sent);
    if (status != 0) return 0;
    switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST: case CURLE_COULDNT_CONNECT: return RDLM__NOT_SENT;
    case CURLE_OPERATION_TIMEDOUT: return sent == 0 ? RDLM__NOT_SENT : 0;
    case CURLE_GOT_NOTHING: case CURLE_SEND_ERROR: case CURLE_RECV_ERROR: return RDLM__ANSWER_LOST;
    default: return 0;
    }
}

/* Sends one request. RDLM_OK means an HTTP answer came (any status); its body is in
 * client->body and an error body's text in client->message. */
static rdlm_error rdlm__perform(rdlm_client *client, const char *method, const char *url,
                                const char *body, long timeout_ms, int admin) {
    CURL *curl = client->curl;
    CURLcode code;
    rdlm__reset(client);
    client->no_answer = 0;
    curl_easy_reset(curl);
    curl_easy_setopt(curl, CURLOPT_URL, url);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "rdlm.h/" RDLM_VERSION);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, client->curl_error);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, client->connect_timeout_ms);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, rdlm__on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, (void *)&client->body);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, rdlm__on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, (void *)client);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, client->acquire_headers ? client->acquire_headers
                                                : body ? client->body_headers : client->headers);
    if (strcmp(method, "GET") != 0) curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    if (client->tls_files[0]) curl_easy_setopt(curl, CURLOPT_CAINFO, client->tls_files[0]);
    if (client->tls_files[1]) curl_easy_setopt(curl, CURLOPT_SSLCERT, client->tls_files[1]);
    if (client->tls_files[2]) curl_easy_setopt(curl, CURLOPT_SSLKEY, client->tls_files[2]);
    if (admin && client->admin_user) {
        curl_easy_setopt(curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(curl, CURLOPT_USERNAME, client->admin_user);
        curl_easy_setopt(curl, CURLOPT_PASSWORD, client->admin_password ? client->admin_password : "");
    }
    code = curl_easy_perform(curl);
    if (code != CURLE_OK) {
        if (client->body.overflowed == 1) return RDLM_ERR_NO_MEMORY;
        if (client->body.overflowed == 2) {
            strcpy(client->message, "response larger than RDLM_MAX_RESPONSE_BYTES");
            return RDLM_ERR_PROTOCOL;
        }
        if (code == CURLE_OUT_OF_MEMORY) return RDLM_ERR_NO_MEMORY;
        if (code == CURLE_URL_MALFORMAT || code == CURLE_UNSUPPORTED_PROTOCOL) {
            rdlm__set_message(client, "not an http:// or https:// URL", 30);
            return RDLM_ERR_BAD_ARGUMENT;
        }
        if (client->curl_error[0]) rdlm__set_message(client, client->curl_error, strlen(client->curl_error));
        else rdlm__set_message(client, curl_easy_strerror(code), strlen(curl_easy_strerror(code)));
        client->no_answer = rdlm__no_answer(curl, code);
        return RDLM_ERR_TRANSPORT;
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &client->last_status);
    if (client->last_status >= 400 && client->body.length > 0) {
        const char *text = client->body.data, *end = text + client->body.length;
        if (rdlm__json_each(text, end, rdlm__error_field, client) != 0 || !client->message[0]) {
            rdlm__trim(&text, &end);
            rdlm__set_message(client, text, (size_t)(end - text));
        }
    }
    return RDLM_OK;
}

typedef enum rdlm__operation { RDLM__ACQUIRE, RDLM__LOCK_URL, RDLM__ADMIN } rdlm__operation;

/* Maps an answer that is not the expected success to an error. */
static rdlm_error rdlm__status_error(rdlm_client *client, rdlm__operation operation) {
    long status = client->last_status;
    if (!client->message[0]) {
        char text[48];
        int n = snprintf(text, sizeof text, "unexpected HTTP status %ld", status);
        rdlm__set_message(client, text, n > 0 ? (size_t)n : 0);
    }
    switch (status) {
    case 400: case 413: case 414: case 431: return RDLM_ERR_BAD_REQUEST;
    case 401: case 403: return RDLM_ERR_AUTH;
    case 404: return operation == RDLM__ACQUIRE ? RDLM_ERR_BAD_REQUEST : RDLM_ERR_NOT_FOUND;
    case 408: return RDLM_ERR_WAIT_TIMEOUT;
    case 409: return operation == RDLM__ACQUIRE ? RDLM_ERR_DELETED : RDLM_ERR_PROTOCOL;
    case 503: return RDLM_ERR_UNAVAILABLE;
    default: return (status >= 500 && status <= 599) ? RDLM_ERR_SERVER : RDLM_ERR_PROTOCOL;
    }
}

/* A DELETE of a lock succeeded: rdlmd answers 204, other servers of the protocol 200. */
static int rdlm__release_succeeded(long status) { return status == 204 || status == 200; }

/* Appends text to the message, as much as fits. */
static void rdlm__append_message(rdlm_client *client, const char *text) {
    size_t used = strlen(client->message), length = strlen(text);
    if (used + length >= sizeof client->message) length = sizeof client->message - 1 - used;
    memcpy(client->message + used, text, length);
    client->message[used + length] = '\0';
}

/* The transfer of an acquire failed after its 201 and Location came: the lock is held, but
 * the caller gets an error and no URL. Release it, best effort; keep the error's message
 * and add what became of the lock. */
static void rdlm__release_granted(rdlm_client *client) {
    char message[sizeof client->message];
    char *url = client->location;
    rdlm_error error;
    int released;
    client->location = NULL;
    memcpy(message, client->message, sizeof message);
    error = rdlm__perform(client, "DELETE", url, NULL, client->request_timeout_ms, 0);
    released = error == RDLM_OK && (rdlm__release_succeeded(client->last_status) || client->last_status == 404);
    RDLM_FREE(url);
    rdlm__reset(client);
    memcpy(client->message, message, sizeof message);
    rdlm__append_message(client, released ? " (the lock had been granted; it is released)"
                                          : " (the lock had been granted and could not be released: "
                                            "it expires after its lifetime)");
}

/* Hands the body to the caller as a NUL-terminated string. */
static rdlm_error rdlm__take_body(rdlm_client *client, char **json) {
    char *text = (char *)RDLM_MALLOC(client->body.length + 1);
    if (!text) return RDLM_ERR_NO_MEMORY;
    if (client->body.length) memcpy(text, client->body.data, client->body.length);
    text[client->body.length] = '\0';
    *json = text;
    return RDLM_OK;
}

/* ---- several servers ------------------------------------------------------------------- */

/* Sends method + path to one server after another until one gives an HTTP answer: origin
 * first when given (a lock URL's own server; alone with origin_only), then the list
 * round-robin from the server that answered last, skipping origin. Returns what
 * rdlm__perform returned for the last server tried; *answer_lost (may be NULL) tells
 * whether an earlier server may have received the request before its answer was lost. */
static rdlm_error rdlm__send(rdlm_client *client, const char *method, const char *origin, int origin_only,
                             const char *path, const char *body, long timeout_ms, int admin,
                             int *answer_lost) {
    size_t k, n = origin_only ? 0 : client->server_count, start = client->current;
    rdlm_error error = RDLM_ERR_TRANSPORT;
    int lost = 0;
    for (k = origin ? 0 : 1; k <= n; k++) {
        size_t index = k > 0 ? (start + k - 1) % client->server_count : 0;
        const char *server = k > 0 ? client->servers[index] : origin;
        char *url;
        if (k > 0 && origin && strcmp(server, origin) == 0) continue;
        url = rdlm__join(server, path, "");
        if (!url) return RDLM_ERR_NO_MEMORY;
        client->base_url = server;
        error = rdlm__perform(client, method, url, body, timeout_ms, admin);
        RDLM_FREE(url);
        if (error == RDLM_OK && k > 0) client->current = index;
        if (error != RDLM_ERR_TRANSPORT || !client->no_answer) break;
        if (client->no_answer == RDLM__ANSWER_LOST) lost = 1;
    }
    if (answer_lost) *answer_lost = lost && error == RDLM_OK;
    return error;
}

/* A request about the lock at lock_url: to its own server, then its path (from /locks/ on)
 * to the others. A URL without /locks/ goes to its own server only. */
static rdlm_error rdlm__send_about(rdlm_client *client, const char *method, const char *lock_url,
                                   const char *body, long timeout_ms, int *answer_lost) {
    const char *path = strstr(lock_url, "/locks/");
    char *origin;
    rdlm_error error;
    if (answer_lost) *answer_lost = 0;
    if (!path) return rdlm__send(client, method, lock_url, 1, "", body, timeout_ms, 0, answer_lost);
    origin = (char *)RDLM_MALLOC((size_t)(path - lock_url) + 1);
    if (!origin) return RDLM_ERR_NO_MEMORY;
    memcpy(origin, lock_url, (size_t)(path - lock_url));
    origin[path - lock_url] = '\0';
    error = rdlm__send(client, method, origin, 0, path, body, timeout_ms, 0, answer_lost);
    client->base_url = client->servers[client->current]; /* origin is freed */
    RDLM_FREE(origin);
    return error;
}

/* Splits a comma-separated list of base URLs into client->servers, each checked and
 * without trailing slashes. */
static rdlm_error rdlm__parse_servers(rdlm_client *client, const char *list) {
    size_t count = 1, i;
    const char *p;
    for (p = list; *p; p++) count += *p == ',';
    client->servers = (char **)RDLM_MALLOC(count * sizeof *client->servers);
    if (!client->servers) return RDLM_ERR_NO_MEMORY;
    for (i = 0, p = list; i < count; i++) {
        size_t length = strcspn(p, ",");
        char *server = (char *)RDLM_MALLOC(length + 1);
        if (!server) return RDLM_ERR_NO_MEMORY;
        memcpy(server, p, length);
        server[length] = '\0';
        client->servers[client->server_count++] = server;
        while (length > 0 && server[length - 1] == '/') server[--length] = '\0';
        if (!rdlm__valid_base_url(server)) return RDLM_ERR_BAD_ARGUMENT;
        p += strcspn(p, ",") + 1;
    }
    client->base_url = client->servers[0];
    return RDLM_OK;
}

/* 32 lowercase hex digits from RDLM_RANDOM_SOURCE, unbuffered so only 16 bytes are read. */
static rdlm_error rdlm__request_id(char *out) {
    static const char hex[] = "0123456789abcdef";
    unsigned char bytes[16];
    size_t n = 0, i;
    FILE *source = fopen(RDLM_RANDOM_SOURCE, "rb");
    if (source) {
        setvbuf(source, NULL, _IONBF, 0);
        n = fread(bytes, 1, sizeof bytes, source);
        fclose(source);
    }
    if (n != sizeof bytes) return RDLM_ERR_NO_RANDOM;
    for (i = 0; i < sizeof bytes; i++) {
        out[2 * i] = hex[bytes[i] >> 4];
        out[2 * i + 1] = hex[bytes[i] & 15];
    }
    out[32] = '\0';
    return RDLM_OK;
}

/* The last answer is a 503 saying that this acquire's request id still waits on an earlier
 * attempt's connection (the daemon's message names the header). */
static int rdlm__request_in_progress(const rdlm_client *client) {
    return client->last_status == 503 && client->body.data &&
           (strstr(client->body.data, "RDLM-Request-Id") || strstr(client->body.data, "requestInProgress"));
}

/* Waits milliseconds, with libcurl only (rdlm.h uses no POSIX headers). */
static void rdlm__pause(long milliseconds) {
#if LIBCURL_VERSION_NUM >= 0x074200
    CURLM *multi = curl_multi_init();
    if (multi) {
        curl_multi_poll(multi, NULL, 0, (int)milliseconds, NULL);
        curl_multi_cleanup(multi);
    }
#else
    (void)milliseconds;
#endif
}

/* ---- the public functions -------------------------------------------------------------- */

RDLM_DEF rdlm_error rdlm_global_init(void) {
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? RDLM_OK : RDLM_ERR_NO_MEMORY;
}

RDLM_DEF void rdlm_global_cleanup(void) { curl_global_cleanup(); }

RDLM_DEF void rdlm_options_init(rdlm_options *options) {
    if (!options) return;
    options->base_url = "http://127.0.0.1:8888";
    options->title = "rdlm.h";
    options->lifetime = 300;
    options->wait = 10;
    options->connect_timeout_ms = 5000;
    options->request_timeout_ms = 10000;
    options->admin_user = NULL;
    options->admin_password = NULL;
    options->ca_bundle = NULL;
    options->client_cert = NULL;
    options->client_key = NULL;
}

/* Appends to a header list; on failure the list is left as it was (and is still freed
 * with the client). */
static int rdlm__add_header(struct curl_slist **list, const char *header) {
    struct curl_slist *longer = curl_slist_append(*list, header);
    if (!longer) return -1;
    *list = longer;
    return 0;
}

RDLM_DEF rdlm_error rdlm_client_new(const rdlm_options *options, rdlm_client **out) {
    rdlm_options defaults;
    rdlm_client *client;
    rdlm_error error;
    int headers_ok, tls_ok = 1, i;
    const char *tls_files[3];
    if (!out) return RDLM_ERR_BAD_ARGUMENT;
    *out = NULL;
    rdlm_options_init(&defaults);
    if (!options) options = &defaults;
    if (!options->base_url || !options->title || options->connect_timeout_ms < 0 ||
        options->request_timeout_ms < 0)
        return RDLM_ERR_BAD_ARGUMENT;
    client = (rdlm_client *)RDLM_MALLOC(sizeof *client);
    if (!client) return RDLM_ERR_NO_MEMORY;
    memset(client, 0, sizeof *client);
    client->lifetime = options->lifetime >= 0 ? options->lifetime : defaults.lifetime;
    client->wait = options->wait >= 0 ? options->wait : defaults.wait;
    client->connect_timeout_ms = options->connect_timeout_ms;
    client->request_timeout_ms = options->request_timeout_ms;
    client->curl = curl_easy_init();
    error = rdlm__parse_servers(client, options->base_url);
    if (error != RDLM_OK) {
        rdlm_client_free(client);
        return error;
    }
    client->title_json = rdlm__json_escape(options->title);
    if (options->admin_user) client->admin_user = rdlm__strdup(options->admin_user);
    if (options->admin_password) client->admin_password = rdlm__strdup(options->admin_password);
    tls_files[0] = options->ca_bundle;
    tls_files[1] = options->client_cert;
    tls_files[2] = options->client_key;
    for (i = 0; i < 3; i++) {
        if (!tls_files[i]) continue;
        client->tls_files[i] = rdlm__strdup(tls_files[i]);
        if (!client->tls_files[i]) tls_ok = 0;
    }
    headers_ok = rdlm__add_header(&client->headers, "Accept: application/json") == 0 &&
                 rdlm__add_header(&client->headers, "Expect:") == 0 &&
                 rdlm__add_header(&client->body_headers, "Content-Type: application/json") == 0 &&
                 rdlm__add_header(&client->body_headers, "Accept: application/json") == 0 &&
                 rdlm__add_header(&client->body_headers, "Expect:") == 0;
    if (!client->curl || !client->title_json || !headers_ok || !tls_ok ||
        (options->admin_user && !client->admin_user) ||
        (options->admin_password && !client->admin_password)) {
        rdlm_client_free(client);
        return RDLM_ERR_NO_MEMORY;
    }
    *out = client;
    return RDLM_OK;
}

RDLM_DEF void rdlm_client_free(rdlm_client *client) {
    if (!client) return;
    if (client->curl) curl_easy_cleanup(client->curl);
    curl_slist_free_all(client->headers);
    curl_slist_free_all(client->body_headers);
    while (client->server_count > 0) RDLM_FREE(client->servers[--client->server_count]);
    RDLM_FREE(client->servers);
    RDLM_FREE(client->title_json);
    RDLM_FREE(client->admin_user);
    RDLM_FREE(client->admin_password);
    RDLM_FREE(client->tls_files[0]);
    RDLM_FREE(client->tls_files[1]);
    RDLM_FREE(client->tls_files[2]);
    RDLM_FREE(client->body.data);
    RDLM_FREE(client->location);
    RDLM_FREE(client);
}

RDLM_DEF rdlm_error rdlm_acquire(rdlm_client *client, const char *resource, double lifetime,
                                 double wait, rdlm_mode mode, rdlm_lock *lock) {
    char lifetime_text[32], wait_text[32], id_header[64], *path, *body;
    double timeout_ms;
    size_t size;
    long pause_ms = 100;
    time_t deadline;
    rdlm_error error;
    if (lock) { lock->url = NULL; lock->fencing_token = 0; }
    if (!client || !lock) return RDLM_ERR_BAD_ARGUMENT;
    rdlm__reset(client);
    if (lifetime < 0) lifetime = client->lifetime;
    if (wait < 0) wait = client->wait;
    if (rdlm__seconds(lifetime_text, sizeof lifetime_text, lifetime) != 0 ||
        rdlm__seconds(wait_text, sizeof wait_text, wait) != 0 ||
        (mode != RDLM_EXCLUSIVE && mode != RDLM_SHARED))
        return RDLM_ERR_BAD_ARGUMENT;
    error = rdlm__resource_path(client, "/locks/", resource, &path);
    if (error != RDLM_OK) return error;
    strcpy(id_header, "RDLM-Request-Id: ");
    error = rdlm__request_id(id_header + strlen(id_header));
    if (error != RDLM_OK) {
        RDLM_FREE(path);
        rdlm__set_message(client, "cannot read " RDLM_RANDOM_SOURCE, strlen("cannot read " RDLM_RANDOM_SOURCE));
        return error;
    }
    client->acquire_headers = curl_slist_append(NULL, id_header);
    size = strlen(client->title_json) + 128;
    body = (char *)RDLM_MALLOC(size);
    if (!body || !client->acquire_headers || rdlm__add_header(&client->acquire_headers, "Content-Type: application/json") ||
        rdlm__add_header(&client->acquire_headers, "Accept: application/json") ||
        rdlm__add_header(&client->acquire_headers, "Expect:")) {
        RDLM_FREE(path);
        RDLM_FREE(body);
        curl_slist_free_all(client->acquire_headers);
        client->acquire_headers = NULL;
        return RDLM_ERR_NO_MEMORY;
    }
    snprintf(body, size, "{\"title\": \"%s\", \"lifetime\": %s, \"wait\": %s%s}", client->title_json,
             lifetime_text, wait_text, mode == RDLM_SHARED ? ", \"mode\": \"shared\"" : "");
    /* the server may rightly hold the request for the whole wait */
    timeout_ms = client->request_timeout_ms ? wait * 1000.0 + (double)client->request_timeout_ms : 0;
    if (timeout_ms >= 2e9) timeout_ms = 0;
    deadline = time(NULL) + (time_t)(timeout_ms / 1000.0) + 1;
    for (;;) {
        error = rdlm__send(client, "POST", NULL, 0, path, body, (long)timeout_ms, 0, NULL);
        if (error != RDLM_OK || !rdlm__request_in_progress(client)) break;
        /* Sent again, with the same id, to the server that said so (it answers); each
         * attempt gets what is left of the first one's time, in whole seconds. */
        if (timeout_ms != 0) {
            double left = ((double)(deadline - time(NULL)) - 1) * 1000.0;
            if (left < (double)pause_ms) break;
            timeout_ms = left;
        }
        rdlm__pause(pause_ms);
        pause_ms = pause_ms * 2 < 1000 ? pause_ms * 2 : 1000;
    }
    curl_slist_free_all(client->acquire_headers);
    client->acquire_headers = NULL;
    RDLM_FREE(body);
    RDLM_FREE(path);
    if (error != RDLM_OK) {
        long status = 0;
        curl_easy_getinfo(client->curl, CURLINFO_RESPONSE_CODE, &status);
        if (status == 201 && client->location && *client->location) rdlm__release_granted(client);
        return error;
    }
    if (client->last_status != 201) return rdlm__status_error(client, RDLM__ACQUIRE);
    if (!client->location || !*client->location) {
        rdlm__set_message(client, "201 without a Location header", 29);
        return RDLM_ERR_PROTOCOL;
    }
    lock->url = client->location;
    lock->fencing_token = client->token;
    client->location = NULL;
    return RDLM_OK;
}

RDLM_DEF rdlm_error rdlm_release(rdlm_client *client, const char *lock_url) {
    rdlm_error error;
    int answer_lost;
    if (!client || !lock_url || !*lock_url) return RDLM_ERR_BAD_ARGUMENT;
    error = rdlm__send_about(client, "DELETE", lock_url, NULL, client->request_timeout_ms, &answer_lost);
    if (error != RDLM_OK) return error;
    /* After a release that may have arrived, a 404 means it did: the lock is gone either way. */
    if (answer_lost && client->last_status == 404) return RDLM_OK;
    return rdlm__release_succeeded(client->last_status) ? RDLM_OK : rdlm__status_error(client, RDLM__LOCK_URL);
}

RDLM_DEF rdlm_error rdlm_refresh(rdlm_client *client, const char *lock_url, double lifetime) {
    char lifetime_text[32], body[64];
    rdlm_error error;
    if (!client || !lock_url || !*lock_url) return RDLM_ERR_BAD_ARGUMENT;
    body[0] = '\0'; /* an empty body keeps the lock's own lifetime */
    if (lifetime >= 0 || lifetime != lifetime) {
        if (rdlm__seconds(lifetime_text, sizeof lifetime_text, lifetime) != 0) return RDLM_ERR_BAD_ARGUMENT;
        snprintf(body, sizeof body, "{\"lifetime\": %s}", lifetime_text);
    }
    error = rdlm__send_about(client, "PATCH", lock_url, body, client->request_timeout_ms, NULL);
    if (error != RDLM_OK) return error;
    return client->last_status == 200 ? RDLM_OK : rdlm__status_error(client, RDLM__LOCK_URL);
}

RDLM_DEF rdlm_error rdlm_get(rdlm_client *client, const char *lock_url, rdlm_lock_info *info,
                             char **json) {
    rdlm_error error;
    if (info) memset(info, 0, sizeof *info);
    if (json) *json = NULL;
    if (!client || !lock_url || !*lock_url) return RDLM_ERR_BAD_ARGUMENT;
    error = rdlm__send_about(client, "GET", lock_url, NULL, client->request_timeout_ms, NULL);
    if (error != RDLM_OK) return error;
    if (client->last_status != 200) return rdlm__status_error(client, RDLM__LOCK_URL);
    if (info && rdlm__json_each(client->body.data, client->body.data + client->body.length,
                                rdlm__lock_info_field, info) != 0) {
        rdlm__set_message(client, "the lock document is not a JSON object", 38);
        return RDLM_ERR_PROTOCOL;
    }
    return json ? rdlm__take_body(client, json) : RDLM_OK;
}

RDLM_DEF rdlm_error rdlm_get_resource(rdlm_client *client, const char *resource, char **json) {
    char *url;
    rdlm_error error;
    if (json) *json = NULL;
    if (!client) return RDLM_ERR_BAD_ARGUMENT;
    rdlm__reset(client);
    error = rdlm__resource_path(client, "/resources/", resource, &url);
    if (error != RDLM_OK) return error;
    error = rdlm__send(client, "GET", NULL, 0, url, NULL, client->request_timeout_ms, 1, NULL);
    RDLM_FREE(url);
    if (error != RDLM_OK) return error;
    if (client->last_status != 200) return rdlm__status_error(client, RDLM__ADMIN);
    return json ? rdlm__take_body(client, json) : RDLM_OK;
}

RDLM_DEF rdlm_error rdlm_delete_resource(rdlm_client *client, const char *resource) {
    char *url;
    rdlm_error error;
    if (!client) return RDLM_ERR_BAD_ARGUMENT;
    rdlm__reset(client);
    error = rdlm__resource_path(client, "/resources/", resource, &url);
    if (error != RDLM_OK) return error;
    error = rdlm__send(client, "DELETE", NULL, 0, url, NULL, client->request_timeout_ms, 1, NULL);
    RDLM_FREE(url);
    if (error != RDLM_OK) return error;
    return client->last_status == 204 ? RDLM_OK : rdlm__status_error(client, RDLM__ADMIN);
}

RDLM_DEF void rdlm_lock_clear(rdlm_lock *lock) {
    if (!lock) return;
    RDLM_FREE(lock->url);
    lock->url = NULL;
    lock->fencing_token = 0;
}

RDLM_DEF void rdlm_free(void *memory) { RDLM_FREE(memory); }

RDLM_DEF const char *rdlm_strerror(rdlm_error error) {
    switch (error) {
    case RDLM_OK: return "success";
    case RDLM_ERR_WAIT_TIMEOUT: return "the wait for the lock ran out (408)";
    case RDLM_ERR_DELETED: return "the waiting request was deleted by an admin (409)";
    case RDLM_ERR_NOT_FOUND: return "not found: the lock is gone (404)";
    case RDLM_ERR_BAD_REQUEST: return "bad request: the server rejected the parameters or name";
    case RDLM_ERR_AUTH: return "admin authentication required or refused (401/403)";
    case RDLM_ERR_UNAVAILABLE: return "server unavailable: full or shutting down (503)";
    case RDLM_ERR_SERVER: return "server error (5xx)";
    case RDLM_ERR_PROTOCOL: return "unexpected answer from the server";
    case RDLM_ERR_TRANSPORT: return "no answer from the server (connection or timeout)";
    case RDLM_ERR_BAD_ARGUMENT: return "bad argument";
    case RDLM_ERR_NO_MEMORY: return "out of memory";
    case RDLM_ERR_NO_RANDOM: return "cannot read random bytes for the request id";
    }
    return "unknown rdlm error";
}

RDLM_DEF long rdlm_last_status(const rdlm_client *client) { return client ? client->last_status : 0; }

RDLM_DEF const char *rdlm_last_message(const rdlm_client *client) {
    return client ? client->message : "";
}

#ifdef __cplusplus
}
#endif

#endif /* RDLM_IMPLEMENTATION_DONE */
#endif /* RDLM_IMPLEMENTATION */
