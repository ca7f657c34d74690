#include "base/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define DS_ERRMSG_MAX 1024

static _Thread_local char tl_message[DS_ERRMSG_MAX];
static _Thread_local ds_status tl_status;

const char *ds_error_message(void) { return tl_message; }

ds_status ds_error_status(void) { return tl_status; }

ds_status ds_errorf(ds_status code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tl_message, sizeof tl_message, fmt, ap);
    va_end(ap);
    tl_status = code;
    return code;
}

void ds_error_prefix(const char *prefix) {
    char tmp[DS_ERRMSG_MAX];
    size_t plen = strlen(prefix);
    if (plen > 0 && strncmp(tl_message, prefix, plen) == 0 && tl_message[plen] == ':') return;
    snprintf(tmp, sizeof tmp, "%s: %s", prefix, tl_message);
    memcpy(tl_message, tmp, sizeof tmp);
}

void ds_error_clear(void) {
    tl_message[0] = '\0';
    tl_status = DS_OK;
}
