/* Writes the fuzz seed corpus: the sample graphs of tests/c/ir_samples.h (every node kind, attribute
 * kind and constant dtype) and their subgraphs, each as a binary file (<dir>/load/) and as text
 * (<dir>/parse/). Usage: gen_seeds <dir> (the two subdirectories must exist). */
#include <stdio.h>

#include "ir/irio.h"
#include "ir_samples.h"

static int write_file(const char *dir, const char *sub, const char *name, const void *data, size_t n) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s/%s", dir, sub, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n) {
        fprintf(stderr, "gen_seeds: cannot write %s\n", path);
        if (f) fclose(f);
        return 1;
    }
    return fclose(f) != 0;
}

/* Writes g and every graph it uses. */
static int write_seeds(const char *dir, const char *name, ds_graph *g) {
    ds_ptrvec order = {0};
    int bad = !g || ds_irio_graph_order(g, &order) != DS_OK;
    for (int i = 0; !bad && i < order.n; i++) {
        void *data = NULL;
        size_t n = 0;
        char *text = NULL, file[256];
        bad |= ds_graph_save_buffer(order.items[i], &data, &n) != DS_OK || ds_graph_print(order.items[i], &text) != DS_OK;
        snprintf(file, sizeof file, "%s_%d.dsgr", name, i);
        if (!bad) bad |= write_file(dir, "load", file, data, n);
        snprintf(file, sizeof file, "%s_%d.ir", name, i);
        if (!bad) bad |= write_file(dir, "parse", file, text, strlen(text));
        ds_free(data);
        ds_free(text);
    }
    if (bad) fprintf(stderr, "gen_seeds: %s: %s\n", name, ds_error_message());
    ds_ptrvec_deinit(&order);
    ds_graph_release(g);
    return bad;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: gen_seeds <dir>\n");
        return 2;
    }
    int bad = write_seeds(argv[1], "sink", sample_kitchen_sink());
    bad |= write_seeds(argv[1], "dense", sample_dense());
    bad |= write_seeds(argv[1], "token_only", sample_token_only());
    return bad;
}
