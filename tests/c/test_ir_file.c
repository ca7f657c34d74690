/* Tests of the binary graph file format: exact round trips (text and constant bytes), files on disk and
 * I/O errors, malformed input (every truncation, random byte changes, bad headers) refused cleanly, and
 * allocation-failure sweeps over save and load. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "ds_test.h"
#include "ir/irio.h"
#include "ir_samples.h"

/* print(load(save(g))) == print(g), constants identical, the loaded graph verifies, and saving it
 * again gives the same bytes. */
static bool file_round_trip(const ds_graph *g) {
    void *data = NULL, *again = NULL;
    size_t n = 0, n2 = 0;
    ds_graph *h = NULL;
    char *a = print_or_null(g), *b = NULL;
    bool ok = a && ds_graph_save_buffer(g, &data, &n) == DS_OK && ds_graph_load_buffer(data, n, &h) == DS_OK &&
              ds_graph_verify(h) == DS_OK && (b = print_or_null(h)) && !strcmp(a, b) && same_constants(g, h) &&
              ds_graph_save_buffer(h, &again, &n2) == DS_OK && n2 == n && !memcmp(data, again, n);
    if (!ok) printf("  file round trip failed: %s\n", ds_error_message());
    ds_free(a);
    ds_free(b);
    ds_free(data);
    ds_free(again);
    ds_graph_release(h);
    return ok;
}

DS_TEST(round_trip_every_node_kind) {
    ds_graph *g = sample_kitchen_sink(), *d = sample_dense(), *t = sample_token_only();
    CHECK(g && d && t);
    if (g) CHECK(file_round_trip(g));
    if (d) CHECK(file_round_trip(d));
    if (t) CHECK(file_round_trip(t));
    ds_graph_release(g);
    ds_graph_release(d);
    ds_graph_release(t);
}

DS_TEST(header_layout) {
    ds_graph *g = sample_dense();
    void *data = NULL;
    size_t n = 0;
    CHECK_OK(ds_graph_save_buffer(g, &data, &n));
    const unsigned char *p = data;
    CHECK(n > 12 && !memcmp(p, "DSGR", 4));
    CHECK(p[4] == 1 && p[5] == 0 && p[6] == 0 && p[7] == 0); /* version 1, little-endian */
    CHECK(p[8] == 1 && p[9] == 0);                           /* one graph */
    ds_free(data);
    ds_graph_release(g);
}

DS_TEST(loaded_graph_runs_like_the_original) {
    ds_graph *g = sample_dense(), *h = NULL;
    void *data = NULL;
    size_t n = 0;
    CHECK_OK(ds_graph_save_buffer(g, &data, &n));
    CHECK_OK(ds_graph_load_buffer(data, n, &h));
    if (!h) return;
    int64_t xs[2] = {2, 4}, ws[2] = {4, 3}, bs[1] = {3};
    float xv[8], wv[12], bv[3] = {-1, 0, 1};
    for (int i = 0; i < 8; i++) xv[i] = (float)i - 3.5f;
    for (int i = 0; i < 12; i++) wv[i] = (float)(i % 5) * 0.25f;
    ds_tensor *in[3], *o1 = NULL, *o2 = NULL;
    CHECK_OK(ds_tensor_from_data(DS_FLOAT32, 2, xs, xv, &in[0]));
    CHECK_OK(ds_tensor_from_data(DS_FLOAT32, 2, ws, wv, &in[1]));
    CHECK_OK(ds_tensor_from_data(DS_FLOAT32, 1, bs, bv, &in[2]));
    CHECK_OK(ds_graph_eval(g, 3, in, 1, &o1, NULL));
    CHECK_OK(ds_graph_eval(h, 3, in, 1, &o2, NULL));
    CHECK(o1 && o2 && !memcmp(ds_tensor_data(o1), ds_tensor_data(o2), 6 * sizeof(float)));
    ds_tensor_release(o1);
    ds_tensor_release(o2);
    for (int i = 0; i < 3; i++) ds_tensor_release(in[i]);
    ds_free(data);
    ds_graph_release(g);
    ds_graph_release(h);
}

DS_TEST(files_on_disk) {
    char path[256];
    const char *dir = getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/ds_test_graph_%d with space.dsgr", dir && *dir ? dir : "/tmp", (int)getpid());
    ds_graph *g = sample_kitchen_sink(), *h = NULL;
    CHECK_OK(ds_graph_save(g, path));
    CHECK_OK(ds_graph_load(path, &h));
    char *a = print_or_null(g), *b = h ? print_or_null(h) : NULL;
    CHECK(a && b && !strcmp(a, b));
    CHECK(h && ds_graph_node(h, ds_graph_num_nodes(h) - 1)->fn == NULL); /* the callback is not saved */
    /* a corrupt file names the path */
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite("DSGR\7\0\0\0", 1, 8, f);
        fclose(f);
    }
    ds_graph *bad = NULL;
    CHECK_ERR(ds_graph_load(path, &bad), DS_ERR_VALUE, "with space.dsgr': unsupported version 7");
    remove(path);
    CHECK_ERR(ds_graph_load(path, &bad), DS_ERR_VALUE, "No such file or directory");
    CHECK_ERR(ds_graph_save(g, "/nonexistent-dir/x.dsgr"), DS_ERR_VALUE, "graph file '/nonexistent-dir/x.dsgr': No such file or directory");
    CHECK(bad == NULL);
    ds_free(a);
    ds_free(b);
    ds_graph_release(g);
    ds_graph_release(h);
}

DS_TEST(save_refuses_open_graphs) {
    ds_graph *g;
    ds_value *x;
    void *data = NULL;
    size_t n = 0;
    CHECK_OK(ds_graph_new("open", &g));
    CHECK_OK(ds_graph_add_param(g, "x", DS_FLOAT32, 0, NULL, false, &x));
    CHECK_ERR(ds_graph_save_buffer(g, &data, &n), DS_ERR_VALUE, "graph 'open' has no outputs set");
    CHECK(data == NULL);
    ds_graph_release(g);
}

DS_TEST(bad_headers) {
    static const unsigned char v7[] = {'D', 'S', 'G', 'R', 7, 0, 0, 0, 1, 0, 0, 0};
    static const unsigned char none[] = {'D', 'S', 'G', 'R', 1, 0, 0, 0, 0, 0, 0, 0};
    ds_graph *g = NULL;
    CHECK_ERR(ds_graph_load_buffer("", 0, &g), DS_ERR_VALUE, "graph file: truncated at byte 0");
    CHECK_ERR(ds_graph_load_buffer("DS", 2, &g), DS_ERR_VALUE, "graph file: truncated at byte 2");
    CHECK_ERR(ds_graph_load_buffer("PK\3\4xxxxxxxx", 12, &g), DS_ERR_VALUE, "graph file: not a dynastat graph file");
    CHECK_ERR(ds_graph_load_buffer(v7, sizeof v7, &g), DS_ERR_VALUE, "graph file: unsupported version 7 (this build reads version 1)");
    CHECK_ERR(ds_graph_load_buffer(none, sizeof none, &g), DS_ERR_VALUE, "graph file: no graphs at byte 12");
    CHECK(g == NULL);
    /* trailing bytes */
    ds_graph *d = sample_dense();
    void *data = NULL;
    size_t n = 0;
    CHECK_OK(ds_graph_save_buffer(d, &data, &n));
    unsigned char *more = malloc(n + 3);
    memcpy(more, data, n);
    memset(more + n, 0, 3);
    CHECK_ERR(ds_graph_load_buffer(more, n + 3, &g), DS_ERR_VALUE, "unexpected bytes after the graphs");
    /* a count far beyond the data is refused before anything is allocated for it */
    memcpy(more, data, n);
    more[8] = 0xff, more[9] = 0xff, more[10] = 0xff, more[11] = 0x7f;
    CHECK_ERR(ds_graph_load_buffer(more, n, &g), DS_ERR_VALUE, "graph file: a count larger than the data at byte 8");
    free(more);
    ds_free(data);
    ds_graph_release(d);
}

/* Every truncation of a valid file is refused with DS_ERR_VALUE, leaking nothing. */
DS_TEST(every_prefix_is_refused) {
    ds_graph *g = sample_kitchen_sink();
    void *data = NULL;
    size_t n = 0;
    CHECK_OK(ds_graph_save_buffer(g, &data, &n));
    unsigned char *copy = malloc(n);
    int64_t base = ds_alloc_live_blocks();
    for (size_t len = 0; len < n; len++) {
        memcpy(copy, data, len); /* a separate buffer, so reading past len is caught by sanitizers */
        ds_graph *h = NULL;
        ds_status st = ds_graph_load_buffer(len ? copy : NULL, len, &h);
        if (st != DS_ERR_VALUE || strncmp(ds_error_message(), "graph file: ", 12) != 0) {
            printf("  prefix %zu: %d %s\n", len, (int)st, ds_error_message());
            *ds_failed_ = 1;
            ds_graph_release(h);
            break;
        }
    }
    CHECK(ds_alloc_live_blocks() == base);
    free(copy);
    ds_free(data);
    ds_graph_release(g);
}

/* Random byte changes: loaded (and then the graph verifies and prints) or refused, never a crash. */
DS_TEST(random_corruption_is_refused_or_verifies) {
    ds_graph *g = sample_kitchen_sink();
    void *data = NULL;
    size_t n = 0;
    CHECK_OK(ds_graph_save_buffer(g, &data, &n));
    unsigned char *copy = malloc(n);
    int64_t base = ds_alloc_live_blocks();
    uint64_t seed = 0x243f6a8885a308d3ull;
    int loaded = 0;
    for (int it = 0; it < 4000; it++) {
        memcpy(copy, data, n);
        for (int k = 0; k < 1 + it % 4; k++) {
            seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
            size_t at = (size_t)(seed % n);
            copy[at] = it % 2 ? (unsigned char)(seed >> 40) : copy[at] ^ (unsigned char)(1u << ((seed >> 40) % 8));
        }
        ds_graph *h = NULL;
        ds_status st = ds_graph_load_buffer(copy, n, &h);
        CHECK(st == DS_OK || st == DS_ERR_VALUE);
        if (st == DS_OK) {
            loaded++;
            CHECK_OK(ds_graph_verify(h));
            char *s = print_or_null(h);
            CHECK(s != NULL);
            ds_free(s);
            ds_graph_release(h);
        }
    }
    CHECK(loaded > 0); /* changes inside constant data or names still load */
    CHECK(ds_alloc_live_blocks() == base);
    free(copy);
    ds_free(data);
    ds_graph_release(g);
}

DS_TEST(alloc_failure_sweep_save) {
    ds_graph *g = sample_kitchen_sink();
    void *want = NULL;
    size_t wn = 0;
    CHECK_OK(ds_graph_save_buffer(g, &want, &wn));
    for (int64_t k = 1; want; k++) {
        int64_t base = ds_alloc_live_blocks();
        void *data = NULL;
        size_t n = 0;
        ds_alloc_debug_begin(k);
        ds_status st = ds_graph_save_buffer(g, &data, &n);
        int64_t used = ds_alloc_debug_count();
        ds_alloc_debug_begin(0);
        CHECK(st == DS_OK || st == DS_ERR_NOMEM);
        CHECK(st != DS_OK || (n == wn && !memcmp(data, want, n)));
        CHECK(st == DS_OK || data == NULL);
        ds_free(data);
        CHECK(ds_alloc_live_blocks() == base);
        if (st == DS_OK && used < k) break;
    }
    ds_free(want);
    ds_graph_release(g);
}

DS_TEST(alloc_failure_sweep_load) {
    ds_graph *g = sample_kitchen_sink();
    void *data = NULL;
    size_t n = 0;
    CHECK_OK(ds_graph_save_buffer(g, &data, &n));
    char *want = print_or_null(g);
    for (int64_t k = 1; data && want; k++) {
        int64_t base = ds_alloc_live_blocks();
        ds_graph *h = NULL;
        ds_alloc_debug_begin(k);
        ds_status st = ds_graph_load_buffer(data, n, &h);
        int64_t used = ds_alloc_debug_count();
        ds_alloc_debug_begin(0);
        CHECK(st == DS_OK || st == DS_ERR_NOMEM);
        if (st == DS_OK) {
            char *s = print_or_null(h);
            CHECK(s && !strcmp(s, want));
            ds_free(s);
        }
        ds_graph_release(h);
        CHECK(ds_alloc_live_blocks() == base);
        if (st == DS_OK && used < k) break;
    }
    ds_free(want);
    ds_free(data);
    ds_graph_release(g);
}

DS_TEST_MAIN()
