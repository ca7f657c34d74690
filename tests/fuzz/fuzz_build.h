/* Included first in every file of the fuzz build (run_fuzz.sh): the kernels' CPU dispatch always picks
 * the generic (non-SIMD) code. The fuzzers exercise the graph loaders, not the kernels, and clang before
 * 16 rejects some feature names of __builtin_cpu_supports ("f16c"). */
#ifndef DS_FUZZ_BUILD_H
#define DS_FUZZ_BUILD_H
static inline int ds_fuzz_cpu_supports(const char *feature) {
    (void)feature;
    return 0;
}
#define __builtin_cpu_supports(feature) ds_fuzz_cpu_supports(feature)
#endif
