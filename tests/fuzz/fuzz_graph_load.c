/* libFuzzer target for the binary graph format: ds_graph_load_buffer on arbitrary bytes must refuse
 * them with DS_ERR_VALUE or build a graph that verifies, prints and round-trips (fuzz_common.h); it
 * must never crash, read out of bounds, allocate absurd sizes or leak. Run by run_fuzz.sh. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ds_graph *g = NULL;
    ds_status st = ds_graph_load_buffer(size ? data : NULL, size, &g);
    FUZZ_REQUIRE(st == DS_OK || st == DS_ERR_VALUE, "load failed with a status other than DS_ERR_VALUE");
    FUZZ_REQUIRE(st != DS_OK || g != NULL, "load succeeded without a graph");
    FUZZ_REQUIRE(st == DS_OK || g == NULL, "load failed but wrote its out-param");
    if (st == DS_OK) {
        fuzz_check_graph(g);
        ds_graph_release(g);
    }
    return 0;
}
