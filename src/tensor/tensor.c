/* Tensor lifetime, layout helpers and element access. Views live in view.c, copies in copy.c. */
#include "tensor/tensor.h"

#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/status.h"
#include "tensor/dtype.h"

int64_t ds_shape_numel(int ndim, const int64_t *shape) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    return n;
}

void ds_shape_contiguous_strides(int ndim, const int64_t *shape, int64_t *strides) {
    int64_t s = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        strides[i] = s;
        s *= shape[i] > 0 ? shape[i] : 1;
    }
}

bool ds_shape_equal(int na, const int64_t *a, int nb, const int64_t *b) {
    if (na != nb) return false;
    for (int i = 0; i < na; i++)
        if (a[i] != b[i]) return false;
    return true;
}

char *ds_shape_str(int ndim, const int64_t *shape, char *buf, size_t n) {
    size_t pos = 0;
    pos += (size_t)snprintf(buf + pos, n - pos, "[");
    for (int i = 0; i < ndim && pos < n; i++)
        pos += (size_t)snprintf(buf + pos, n - pos, i ? ", %lld" : "%lld", (long long)shape[i]);
    if (pos < n) snprintf(buf + pos, n - pos, "]");
    return buf;
}

ds_status ds_shape_broadcast(int na, const int64_t *a, int nb, const int64_t *b, int *out_ndim,
                             int64_t *out) {
    int n = na > nb ? na : nb;
    int64_t res[DS_MAX_DIMS];
    for (int i = 0; i < n; i++) {
        int64_t da = i < n - na ? 1 : a[i - (n - na)];
        int64_t db = i < n - nb ? 1 : b[i - (n - nb)];
        if (da == db || db == 1) res[i] = da;
        else if (da == 1) res[i] = db;
        else {
            char sa[DS_SHAPE_STR_MAX], sb[DS_SHAPE_STR_MAX];
            return ds_errorf(DS_ERR_SHAPE, "shapes %s and %s cannot be broadcast together",
                             ds_shape_str(na, a, sa, sizeof sa), ds_shape_str(nb, b, sb, sizeof sb));
        }
    }
    memcpy(out, res, sizeof(int64_t) * (size_t)n);
    *out_ndim = n;
    return DS_OK;
}

ds_status ds_axis_normalize(int64_t axis, int ndim, const char *what, int *out) {
    int64_t lim = ndim > 0 ? ndim : 1;
    if (axis < -lim || axis >= lim)
        return ds_errorf(DS_ERR_AXIS, "%s %lld is out of bounds for tensor of dimension %d", what,
                         (long long)axis, ndim);
    *out = (int)(axis < 0 ? axis + lim : axis);
    return DS_OK;
}

void ds_tensor_update_layout(ds_tensor *t) {
    t->numel = ds_shape_numel(t->ndim, t->shape);
    int64_t expect = 1;
    bool c = true;
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (t->shape[i] != 1 && t->strides[i] != expect) c = false;
        expect *= t->shape[i];
    }
    t->contiguous = c || t->numel == 0;
}

static ds_status check_shape(int ndim, const int64_t *shape) {
    if (ndim < 0 || ndim > DS_MAX_DIMS)
        return ds_errorf(DS_ERR_SHAPE, "a tensor has at most %d dims, got %d", DS_MAX_DIMS, ndim);
    /* every partial product of dims (strides, element and byte counts) must fit in int64 */
    const int64_t limit = INT64_MAX / 16;
    int64_t prod = 1;
    for (int i = 0; i < ndim; i++) {
        char s[DS_SHAPE_STR_MAX];
        if (shape[i] < 0)
            return ds_errorf(DS_ERR_SHAPE, "negative dimension in shape %s", ds_shape_str(ndim, shape, s, sizeof s));
        int64_t d = shape[i] > 1 ? shape[i] : 1;
        if (prod > limit / d)
            return ds_errorf(DS_ERR_SHAPE, "shape %s is too large", ds_shape_str(ndim, shape, s, sizeof s));
        prod *= d;
    }
    return DS_OK;
}

/* One block holds the header, the storage record and the data, so a new tensor costs one allocation. */
typedef struct tensor_block {
    ds_tensor t;
    ds_storage s;
} tensor_block;

#define DATA_OFFSET (((sizeof(tensor_block) + DS_ALIGN - 1) / DS_ALIGN) * DS_ALIGN)

ds_status ds_tensor_new(ds_dtype dt, int ndim, const int64_t *shape, ds_tensor **out) {
    ds_status st = check_shape(ndim, shape);
    if (st) return st;
    if ((unsigned)dt >= DS_DTYPE_COUNT) return ds_errorf(DS_ERR_DTYPE, "invalid dtype %d", (int)dt);
    int64_t numel = ds_shape_numel(ndim, shape);
    size_t nbytes = (size_t)numel * ds_dtype_size(dt);
    tensor_block *b = ds_malloc(DATA_OFFSET + nbytes);
    if (!b) return DS_ERR_NOMEM;
    ds_tensor *t = &b->t;
    t->refcount = 1;
    t->dtype = dt;
    t->ndim = ndim;
    t->numel = numel;
    if (ndim) memcpy(t->shape, shape, sizeof(int64_t) * (size_t)ndim);
    ds_shape_contiguous_strides(ndim, shape, t->strides);
    t->contiguous = true;
    t->user = NULL;
    t->symbolic = false;
    b->s.refcount = 1;
    b->s.data = (char *)b + DATA_OFFSET;
    b->s.nbytes = nbytes;
    b->s.release = NULL;
    b->s.ctx = NULL;
    b->s.block = b;
    t->storage = &b->s;
    t->data = b->s.data;
    *out = t;
    return DS_OK;
}

ds_status ds_tensor_new_zeros(ds_dtype dt, int ndim, const int64_t *shape, ds_tensor **out) {
    ds_tensor *t;
    ds_status st = ds_tensor_new(dt, ndim, shape, &t);
    if (st) return st;
    memset(t->data, 0, (size_t)t->numel * ds_dtype_size(dt));
    *out = t;
    return DS_OK;
}

ds_status ds_tensor_from_data(ds_dtype dt, int ndim, const int64_t *shape, const void *data,
                              ds_tensor **out) {
    ds_tensor *t;
    ds_status st = ds_tensor_new(dt, ndim, shape, &t);
    if (st) return st;
    if (t->numel) memcpy(t->data, data, (size_t)t->numel * ds_dtype_size(dt));
    *out = t;
    return DS_OK;
}

/* A header-only tensor (no data block) sharing or owning `storage`. */
static ds_status new_header(ds_dtype dt, int ndim, const int64_t *shape, const int64_t *strides,
                            ds_storage *storage, char *data, ds_tensor **out) {
    ds_tensor *t = ds_malloc(sizeof(ds_tensor));
    if (!t) return DS_ERR_NOMEM;
    t->refcount = 1;
    t->dtype = dt;
    t->ndim = ndim;
    if (ndim) memcpy(t->shape, shape, sizeof(int64_t) * (size_t)ndim);
    if (strides && ndim) memcpy(t->strides, strides, sizeof(int64_t) * (size_t)ndim);
    else ds_shape_contiguous_strides(ndim, shape, t->strides);
    t->storage = storage;
    t->data = data;
    t->user = NULL;
    t->symbolic = false;
    ds_tensor_update_layout(t);
    *out = t;
    return DS_OK;
}

ds_status ds_tensor_wrap(ds_dtype dt, int ndim, const int64_t *shape, const int64_t *strides,
                         void *data, void (*release)(void *ctx), void *ctx, ds_tensor **out) {
    ds_status st = check_shape(ndim, shape);
    if (st) return st;
    if ((unsigned)dt >= DS_DTYPE_COUNT) return ds_errorf(DS_ERR_DTYPE, "invalid dtype %d", (int)dt);
    ds_storage *s = ds_malloc(sizeof(ds_storage));
    if (!s) return DS_ERR_NOMEM;
    s->refcount = 1;
    s->data = data;
    s->nbytes = 0;
    s->release = release;
    s->ctx = ctx;
    s->block = NULL;
    st = new_header(dt, ndim, shape, strides, s, data, out);
    if (st) ds_free(s); /* the caller keeps ownership of data on failure */
    return st;
}

ds_status ds_tensor_new_declared(ds_dtype dt, int ndim, const int64_t *shape, ds_tensor **out) {
    if (ndim < 0 || ndim > DS_MAX_DIMS)
        return ds_errorf(DS_ERR_SHAPE, "a tensor has at most %d dims, got %d", DS_MAX_DIMS, ndim);
    ds_status st = new_header(dt, ndim, shape, NULL, NULL, NULL, out);
    if (st) return st;
    for (int i = 0; i < ndim; i++)
        if (shape[i] < 0) (*out)->numel = -1;
    return DS_OK;
}

ds_status ds_tensor_scalar(ds_dtype dt, double value, ds_tensor **out) {
    ds_tensor *t;
    ds_status st = ds_tensor_new(dt, 0, NULL, &t);
    if (st) return st;
    ds_dtype_store_double(dt, t->data, value);
    *out = t;
    return DS_OK;
}

ds_status ds_tensor_scalar_int(ds_dtype dt, int64_t value, ds_tensor **out) {
    ds_tensor *t;
    ds_status st = ds_tensor_new(dt, 0, NULL, &t);
    if (st) return st;
    ds_dtype_store_int(dt, t->data, value);
    *out = t;
    return DS_OK;
}

static void storage_release(ds_storage *s) {
    if (!s || --s->refcount > 0) return;
    if (s->block) ds_free(s->block); /* header + storage + data in one block */
    else {
        if (s->release) s->release(s->ctx);
        ds_free(s);
    }
}

ds_tensor *ds_tensor_retain(ds_tensor *t) {
    if (t) t->refcount++;
    return t;
}

void ds_tensor_release(ds_tensor *t) {
    if (!t || --t->refcount > 0) return;
    ds_storage *s = t->storage;
    bool embedded = s && s->block == (void *)t;
    if (embedded) storage_release(s); /* frees the header too once no view needs the data */
    else {
        storage_release(s);
        ds_free(t);
    }
}

ds_status ds_tensor_view(ds_tensor *t, int ndim, const int64_t *shape, const int64_t *strides,
                         int64_t elem_offset, ds_tensor **out) {
    ds_status st = new_header(t->dtype, ndim, shape, strides, t->storage,
                              t->data ? t->data + elem_offset * (int64_t)ds_dtype_size(t->dtype) : NULL, out);
    if (st) return st;
    if (t->storage) t->storage->refcount++;
    return DS_OK;
}

ds_dtype ds_tensor_dtype(const ds_tensor *t) { return t->dtype; }
int ds_tensor_ndim(const ds_tensor *t) { return t->ndim; }
const int64_t *ds_tensor_shape(const ds_tensor *t) { return t->shape; }
const int64_t *ds_tensor_strides(const ds_tensor *t) { return t->strides; }
int64_t ds_tensor_numel(const ds_tensor *t) { return t->numel; }
void *ds_tensor_data(const ds_tensor *t) { return t->data; }
bool ds_tensor_is_contiguous(const ds_tensor *t) { return t->contiguous; }

bool ds_tensor_shares_storage(const ds_tensor *a, const ds_tensor *b) {
    return a->storage && a->storage == b->storage;
}

/* Address of row-major flat element `index`. */
static const char *element_at(const ds_tensor *t, int64_t index) {
    int64_t off = 0;
    for (int i = t->ndim - 1; i >= 0; i--) {
        int64_t d = t->shape[i];
        off += (index % d) * t->strides[i];
        index /= d;
    }
    return t->data + off * (int64_t)ds_dtype_size(t->dtype);
}

static ds_status check_index(const ds_tensor *t, int64_t index) {
    if (!t->data) return ds_errorf(DS_ERR_VALUE, "tensor has no data (declared only)");
    if (index < 0 || index >= t->numel)
        return ds_errorf(DS_ERR_INDEX, "index %lld is out of bounds for size %lld", (long long)index,
                         (long long)t->numel);
    return DS_OK;
}

ds_status ds_tensor_get_double(const ds_tensor *t, int64_t index, double *out) {
    ds_status st = check_index(t, index);
    if (st) return st;
    *out = ds_dtype_load_double(t->dtype, element_at(t, index));
    return DS_OK;
}

ds_status ds_tensor_get_int(const ds_tensor *t, int64_t index, int64_t *out) {
    ds_status st = check_index(t, index);
    if (st) return st;
    *out = ds_dtype_load_int(t->dtype, element_at(t, index));
    return DS_OK;
}

