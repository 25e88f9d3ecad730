/* What the C client's test programs share: pass/fail counting and a client of one URL (or
 * a comma-separated list). Include after rdlm.h; define TEST_TITLE (the lock title) first. */
#ifndef RDLM_TEST_SUPPORT_H
#define RDLM_TEST_SUPPORT_H

#include <stdio.h>
#include <stdlib.h>

static int passed, failed;

static void check(const char *name, int ok, const char *detail) {
    if (ok) passed++;
    else {
        failed++;
        fprintf(stderr, "FAIL: %s%s%s\n", name, detail && *detail ? ": " : "", detail ? detail : "");
    }
}

static rdlm_client *new_client(const char *url) {
    rdlm_options options;
    rdlm_client *client = NULL;
    rdlm_options_init(&options);
    options.base_url = url;
    options.title = TEST_TITLE;
    options.connect_timeout_ms = 2000;
    if (rdlm_client_new(&options, &client) != RDLM_OK) {
        fprintf(stderr, "cannot create a client for %s\n", url);
        exit(2);
    }
    return client;
}

#endif
