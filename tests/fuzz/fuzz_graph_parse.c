/* libFuzzer target for the IR text format: ds_graph_parse on arbitrary text must refuse it with
 * DS_ERR_VALUE ("line L, column C: ...") or build a graph that verifies, prints and round-trips
 * (fuzz_common.h), and never crash or leak. Run by `run_fuzz.sh <seconds> graph_parse`. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    ds_graph *g = NULL;
    ds_status st = ds_graph_parse(text, &g);
    FUZZ_REQUIRE(st == DS_OK || st == DS_ERR_VALUE, "parse failed with a status other than DS_ERR_VALUE");
    FUZZ_REQUIRE(st == DS_OK || strncmp(ds_error_message(), "line ", 5) == 0, "a parse error without its line");
    if (st == DS_OK) {
        fuzz_check_graph(g);
        ds_graph_release(g);
    }
    free(text);
    return 0;
}
