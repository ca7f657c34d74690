/* Checks shared by the fuzz targets: what must hold for every graph that loads or parses. */
#ifndef DS_FUZZ_COMMON_H
#define DS_FUZZ_COMMON_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dynastat.h"
#include "ir/irio.h"

#define FUZZ_REQUIRE(cond, what)                                                                   \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz: %s (%s)\n", what, ds_error_message());                          \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Nodes ds_graph_verify visits: it walks a shared subgraph once per use, so a chain of graphs each
 * using the next twice costs 2^depth. Such inputs are valid but would only time the fuzzer out. */
static double fuzz_verify_cost(const ds_graph *g) {
    ds_ptrvec order = {0};
    double total = 1e300;
    if (ds_irio_graph_order(g, &order) == DS_OK) {
        double *cost = malloc(sizeof(double) * (size_t)(order.n + 1));
        for (int i = 0; cost && i < order.n; i++) {
            const ds_graph *h = order.items[i];
            cost[i] = 1 + h->nodes.n;
            for (int k = 0; k < h->nodes.n; k++) {
                const ds_node *n = h->nodes.items[k];
                for (int s = 0; s < n->n_sub; s++)
                    for (int j = 0; j < i; j++)
                        if (order.items[j] == n->sub[s]) cost[i] += cost[j];
            }
            if (cost[i] > 1e12) cost[i] = 1e12;
        }
        if (cost && order.n) total = cost[order.n - 1];
        free(cost);
    }
    ds_ptrvec_deinit(&order);
    return total;
}

/* A graph that loaded or parsed must verify, print, parse back to the same text, and save and load
 * back to the same text. (Text may leave its last graph open, without a return: that one neither
 * verifies nor saves.) */
static void fuzz_check_graph(const ds_graph *g) {
    if (g->closed && fuzz_verify_cost(g) < 1e6) FUZZ_REQUIRE(ds_graph_verify(g) == DS_OK, "a loaded graph does not verify");
    char *text = NULL, *again = NULL;
    FUZZ_REQUIRE(ds_graph_print(g, &text) == DS_OK, "print failed");
    ds_graph *h = NULL;
    FUZZ_REQUIRE(ds_graph_parse(text, &h) == DS_OK, "the printed text does not parse");
    FUZZ_REQUIRE(ds_graph_print(h, &again) == DS_OK && strcmp(text, again) == 0, "print(parse(print(g))) != print(g)");
    ds_free(again);
    ds_graph_release(h);
    char *dot = NULL;
    FUZZ_REQUIRE(ds_graph_print_dot(g, &dot) == DS_OK && strncmp(dot, "digraph ", 8) == 0, "print_dot failed");
    ds_free(dot);
    void *data = NULL;
    size_t n = 0;
    if (!g->closed) {
        FUZZ_REQUIRE(ds_graph_save_buffer(g, &data, &n) == DS_ERR_VALUE, "an open graph was saved");
        ds_free(text);
        return;
    }
    FUZZ_REQUIRE(ds_graph_save_buffer(g, &data, &n) == DS_OK, "save failed");
    FUZZ_REQUIRE(ds_graph_load_buffer(data, n, &h) == DS_OK, "a saved graph does not load");
    FUZZ_REQUIRE(ds_graph_print(h, &again) == DS_OK && strcmp(text, again) == 0, "print(load(save(g))) != print(g)");
    ds_free(again);
    ds_free(data);
    ds_free(text);
    ds_graph_release(h);
}
#endif
