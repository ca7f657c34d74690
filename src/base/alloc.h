/* The library allocator: every allocation goes through here so tests can count them and fail the Nth. */
#ifndef DS_BASE_ALLOC_H
#define DS_BASE_ALLOC_H
#include <stddef.h>

#include "dynastat.h"

#define DS_ALIGN 64

/* Allocates `n` bytes aligned to DS_ALIGN; sets DS_ERR_NOMEM and returns NULL on failure. */
void *ds_malloc(size_t n);
/* Like ds_malloc, zero-filled. */
void *ds_calloc(size_t n);
/* Duplicates a NUL-terminated string with ds_malloc. */
char *ds_strdup(const char *s);
/* ds_free(NULL) is a no-op (declared in dynastat.h). */
#endif
