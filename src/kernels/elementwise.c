/* Kernel lookup: the per-ISA tables filled by the ew_*.simd.c files, and the run-time ISA choice. */
#include "kernels/elementwise.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

typedef struct ew_isa {
    const char *name;
    void (*fill_unary)(ds_ew_table *);
    void (*fill_binary)(ds_ew_table *);
    void (*fill_cast)(ds_ew_table *);
} ew_isa;

static const ew_isa k_isas[] = {
#if defined(DS_X86_64)
    {"avx512", ds_ew_fill_unary_avx512, ds_ew_fill_binary_avx512, ds_ew_fill_cast_avx512},
    {"avx2", ds_ew_fill_unary_avx2, ds_ew_fill_binary_avx2, ds_ew_fill_cast_avx2},
#endif
    {"generic", ds_ew_fill_unary_generic, ds_ew_fill_binary_generic, ds_ew_fill_cast_generic},
};
#define EW_NISA ((int)(sizeof k_isas / sizeof k_isas[0]))

static ds_ew_table g_table;
static const char *g_level = "generic";
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

/* Whether this CPU (and OS) can run the variant. */
static bool isa_supported(const char *name) {
#if defined(DS_X86_64)
    __builtin_cpu_init();
    if (!strcmp(name, "avx512"))
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
               __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (!strcmp(name, "avx2"))
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
    return !strcmp(name, "generic");
}

static void use_isa(const ew_isa *isa) {
    memset(&g_table, 0, sizeof g_table);
    isa->fill_unary(&g_table);
    isa->fill_binary(&g_table);
    isa->fill_cast(&g_table);
    g_level = isa->name;
}

/* Picks the widest supported variant, or the one named by the environment variable DS_SIMD
 * ("generic", "avx2", "avx512") when the CPU supports it (for debugging and tests). */
static void init_best(void) {
    const char *want = getenv("DS_SIMD");
    if (want)
        for (int i = 0; i < EW_NISA; i++)
            if (!strcmp(k_isas[i].name, want) && isa_supported(want)) {
                use_isa(&k_isas[i]);
                return;
            }
    for (int i = 0; i < EW_NISA; i++)
        if (isa_supported(k_isas[i].name)) {
            use_isa(&k_isas[i]);
            return;
        }
}

static _Atomic int g_ready; /* set (release) once g_table is filled: lookups skip pthread_once */

static void init_once(void) {
    init_best();
    atomic_store_explicit(&g_ready, 1, memory_order_release);
}

static inline const ds_ew_table *table(void) {
    if (__builtin_expect(!atomic_load_explicit(&g_ready, memory_order_acquire), 0)) pthread_once(&g_once, init_once);
    return &g_table;
}

ds_loop_fn ds_kernel_unary(ds_op_id op, ds_dtype dt) {
    if ((unsigned)op >= DS_OP_COUNT || (unsigned)dt >= DS_DTYPE_COUNT) return NULL;
    return table()->unary[op][dt];
}

ds_loop_fn ds_kernel_binary(ds_op_id op, ds_dtype dt) {
    if ((unsigned)op >= DS_OP_COUNT || (unsigned)dt >= DS_DTYPE_COUNT) return NULL;
    return table()->binary[op][dt];
}

ds_loop_fn ds_kernel_cast(ds_dtype from, ds_dtype to) {
    if ((unsigned)from >= DS_DTYPE_COUNT || (unsigned)to >= DS_DTYPE_COUNT) return NULL;
    return table()->cast[from][to];
}

ds_loop_fn ds_kernel_where(size_t elem_size) {
    switch (elem_size) {
    case 1: return table()->where[0];
    case 2: return table()->where[1];
    case 4: return table()->where[2];
    case 8: return table()->where[3];
    default: return NULL;
    }
}

ds_loop_fn ds_kernel_clip(ds_dtype dt) {
    if ((unsigned)dt >= DS_DTYPE_COUNT) return NULL;
    return table()->clip[dt];
}

bool ds_kernel_set_isa(const char *isa) {
    table(); /* make sure the one-time init has run and will not overwrite our choice */
    if (!isa) {
        init_best();
        return true;
    }
    for (int i = 0; i < EW_NISA; i++)
        if (!strcmp(k_isas[i].name, isa)) {
            if (!isa_supported(isa)) return false;
            use_isa(&k_isas[i]);
            return true;
        }
    return false;
}

const char *ds_simd_level(void) {
    table();
    return g_level;
}
