/* A growable, NUL-terminated string buffer on the library allocator.
 *
 * Errors are sticky: after an allocation fails, every later append is a no-op that returns the same
 * status, so a producer can append freely and check once (ds_strbuf_finish or sb->status). */
#ifndef DS_BASE_STRBUF_H
#define DS_BASE_STRBUF_H
#include <stddef.h>

#include "dynastat.h"

typedef struct ds_strbuf {
    char *data;       /* NUL-terminated when cap > 0; NULL before the first append */
    size_t len;       /* bytes used, not counting the NUL */
    size_t cap;       /* bytes allocated */
    ds_status status; /* DS_OK, or the first failure */
} ds_strbuf;

/* Makes `sb` an empty buffer (allocates nothing). */
void ds_strbuf_init(ds_strbuf *sb);
/* Frees the buffer's memory; `sb` is left empty and reusable. */
void ds_strbuf_deinit(ds_strbuf *sb);
/* Ensures room for `extra` more bytes (plus the NUL). */
ds_status ds_strbuf_reserve(ds_strbuf *sb, size_t extra);
/* Appends `n` bytes of `s`. */
ds_status ds_strbuf_append(ds_strbuf *sb, const char *s, size_t n);
/* Appends a NUL-terminated string. */
ds_status ds_strbuf_puts(ds_strbuf *sb, const char *s);
/* Appends one character. */
ds_status ds_strbuf_putc(ds_strbuf *sb, char c);
/* Appends `n` copies of `c`. */
ds_status ds_strbuf_fill(ds_strbuf *sb, char c, size_t n);
/* Appends printf-style formatted text. */
ds_status ds_strbuf_printf(ds_strbuf *sb, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Shortens the contents to `len` bytes (no-op if already shorter). */
void ds_strbuf_truncate(ds_strbuf *sb, size_t len);
/* On success hands the NUL-terminated contents to *out (free with ds_free; "" if nothing was
 * appended) and leaves `sb` empty. On a sticky failure frees the buffer, leaves *out untouched and
 * returns the failure. */
ds_status ds_strbuf_finish(ds_strbuf *sb, char **out);
#endif
