#include "base/strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"

void ds_strbuf_init(ds_strbuf *sb) {
    sb->data = NULL;
    sb->len = 0;
    sb->cap = 0;
    sb->status = DS_OK;
}

void ds_strbuf_deinit(ds_strbuf *sb) {
    ds_free(sb->data);
    ds_strbuf_init(sb);
}

ds_status ds_strbuf_reserve(ds_strbuf *sb, size_t extra) {
    if (sb->status != DS_OK) return sb->status;
    if (extra > ((size_t)-1) / 2 - sb->len) {
        sb->status = ds_errorf(DS_ERR_NOMEM, "string buffer: size overflow");
        return sb->status;
    }
    size_t need = sb->len + extra + 1;
    if (need <= sb->cap) return DS_OK;
    size_t cap = sb->cap ? sb->cap : 64;
    while (cap < need) cap *= 2;
    char *p = ds_malloc(cap);
    if (!p) {
        sb->status = DS_ERR_NOMEM; /* ds_malloc set the message */
        return sb->status;
    }
    if (sb->data) memcpy(p, sb->data, sb->len);
    p[sb->len] = '\0';
    ds_free(sb->data);
    sb->data = p;
    sb->cap = cap;
    return DS_OK;
}

ds_status ds_strbuf_append(ds_strbuf *sb, const char *s, size_t n) {
    if (ds_strbuf_reserve(sb, n) != DS_OK) return sb->status;
    if (n) memcpy(sb->data + sb->len, s, n);
    sb->len += n;
    sb->data[sb->len] = '\0';
    return DS_OK;
}

ds_status ds_strbuf_puts(ds_strbuf *sb, const char *s) {
    return ds_strbuf_append(sb, s, strlen(s));
}

ds_status ds_strbuf_putc(ds_strbuf *sb, char c) { return ds_strbuf_append(sb, &c, 1); }

ds_status ds_strbuf_fill(ds_strbuf *sb, char c, size_t n) {
    if (ds_strbuf_reserve(sb, n) != DS_OK) return sb->status;
    memset(sb->data + sb->len, c, n);
    sb->len += n;
    sb->data[sb->len] = '\0';
    return DS_OK;
}

ds_status ds_strbuf_printf(ds_strbuf *sb, const char *fmt, ...) {
    if (sb->status != DS_OK) return sb->status;
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        sb->status = ds_errorf(DS_ERR_VALUE, "string buffer: bad format \"%s\"", fmt);
        return sb->status;
    }
    if ((size_t)n < sizeof small) return ds_strbuf_append(sb, small, (size_t)n);
    if (ds_strbuf_reserve(sb, (size_t)n) != DS_OK) return sb->status;
    va_start(ap, fmt);
    vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb->len += (size_t)n;
    return DS_OK;
}

void ds_strbuf_truncate(ds_strbuf *sb, size_t len) {
    if (len < sb->len) {
        sb->len = len;
        sb->data[len] = '\0';
    }
}

ds_status ds_strbuf_finish(ds_strbuf *sb, char **out) {
    if (sb->status == DS_OK && !sb->data) ds_strbuf_reserve(sb, 0);
    ds_status st = sb->status;
    if (st != DS_OK) {
        ds_strbuf_deinit(sb);
        return st;
    }
    *out = sb->data;
    ds_strbuf_init(sb);
    return DS_OK;
}
