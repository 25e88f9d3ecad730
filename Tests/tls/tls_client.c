/* tls_client.c: rdlm.h over HTTPS, for Tests/tls/test_tls.py.
 *   tls_client URL RESOURCE [admin]
 * Takes its TLS files from RDLM_CACERT, RDLM_CERT and RDLM_KEY (ca_bundle, client_cert,
 * client_key; unset: NULL). Acquires RESOURCE, prints the lock URL and token, reads the lock
 * back, releases it; with "admin", also reads /resources/RESOURCE (no Basic credentials).
 * Exit 0 on success; otherwise prints "FAIL step: error (HTTP status): message" and exits 1. */
#define RDLM_IMPLEMENTATION
#include "rdlm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(rdlm_client *client, const char *step, rdlm_error error) {
    printf("FAIL %s: %s (HTTP %ld): %s\n", step, rdlm_strerror(error), rdlm_last_status(client),
           rdlm_last_message(client));
    return 1;
}

static int run(rdlm_client *client, const char *resource, int admin) {
    rdlm_lock lock;
    rdlm_lock_info info;
    rdlm_error error = rdlm_acquire(client, resource, 30, 5, RDLM_EXCLUSIVE, &lock);
    if (error != RDLM_OK) return fail(client, "acquire", error);
    printf("lock %s token %llu\n", lock.url, lock.fencing_token);
    if ((error = rdlm_get(client, lock.url, &info, NULL)) != RDLM_OK) return fail(client, "get", error);
    if (admin) {
        char *json = NULL;
        if ((error = rdlm_get_resource(client, resource, &json)) != RDLM_OK) return fail(client, "admin", error);
        printf("admin %s\n", json);
        rdlm_free(json);
    }
    if ((error = rdlm_release(client, lock.url)) != RDLM_OK) return fail(client, "release", error);
    rdlm_lock_clear(&lock);
    printf("released\n");
    return 0;
}

int main(int argc, char **argv) {
    rdlm_options options;
    rdlm_client *client;
    rdlm_error error;
    int status;
    if (argc < 3) {
        fprintf(stderr, "usage: tls_client URL RESOURCE [admin]\n");
        return 2;
    }
    if (rdlm_global_init() != RDLM_OK) return 2;
    rdlm_options_init(&options);
    options.base_url = argv[1];
    options.ca_bundle = getenv("RDLM_CACERT");
    options.client_cert = getenv("RDLM_CERT");
    options.client_key = getenv("RDLM_KEY");
    if ((error = rdlm_client_new(&options, &client)) != RDLM_OK) {
        printf("FAIL client: %s\n", rdlm_strerror(error));
        return 1;
    }
    status = run(client, argv[2], argc > 3 && strcmp(argv[3], "admin") == 0);
    rdlm_client_free(client);
    rdlm_global_cleanup();
    return status;
}
