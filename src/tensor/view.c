/* Views: new headers over the same storage (no data is copied). */
#include <string.h>

#include "base/status.h"
#include "tensor/tensor.h"

ds_status ds_tensor_permute(ds_tensor *t, const int *perm, ds_tensor **out) {
    int64_t shape[DS_MAX_DIMS], strides[DS_MAX_DIMS];
    bool seen[DS_MAX_DIMS] = {false};
    for (int i = 0; i < t->ndim; i++) {
        int p = perm[i] < 0 ? perm[i] + t->ndim : perm[i];
        if (p < 0 || p >= t->ndim || seen[p])
            return ds_errorf(DS_ERR_VALUE, "permutation is not valid for a tensor of dimension %d "
                             "(entry %d is %d)", t->ndim, i, perm[i]);
        seen[p] = true;
        shape[i] = t->shape[p];
        strides[i] = t->strides[p];
    }
    return ds_tensor_view(t, t->ndim, shape, strides, 0, out);
}

ds_status ds_tensor_expand(ds_tensor *t, int ndim, const int64_t *shape, ds_tensor **out) {
    int64_t strides[DS_MAX_DIMS], sh[DS_MAX_DIMS];
    if (ndim < t->ndim || ndim > DS_MAX_DIMS) goto bad;
    for (int d = 0; d < ndim; d++) {
        int td = d - (ndim - t->ndim);
        int64_t want = shape[d];
        if (td < 0) {
            if (want < 0) goto bad;
            strides[d] = 0;
            sh[d] = want;
        } else if (want == -1 || want == t->shape[td]) {
            sh[d] = t->shape[td];
            strides[d] = t->strides[td];
        } else if (t->shape[td] == 1 && want >= 0) {
            sh[d] = want;
            strides[d] = 0;
        } else goto bad;
    }
    return ds_tensor_view(t, ndim, sh, strides, 0, out);
bad : {
    char a[DS_SHAPE_STR_MAX], b[DS_SHAPE_STR_MAX];
    return ds_errorf(DS_ERR_SHAPE, "cannot broadcast shape %s to %s",
                     ds_shape_str(t->ndim, t->shape, a, sizeof a), ds_shape_str(ndim, shape, b, sizeof b));
}
}

ds_status ds_tensor_slice(ds_tensor *t, int dim, int64_t start, int64_t stop, int64_t step,
                          ds_tensor **out) {
    int d;
    ds_status st = ds_axis_normalize(dim, t->ndim, "dimension", &d);
    if (st) return st;
    if (step == 0) return ds_errorf(DS_ERR_VALUE, "slice step cannot be zero");
    int64_t n = t->shape[d];
    /* Python's slice.indices() */
    if (step > 0) {
        if (start < 0) start = start + n < 0 ? 0 : start + n;
        else if (start > n) start = n;
        if (stop < 0) stop = stop + n < 0 ? 0 : stop + n;
        else if (stop > n) stop = n;
    } else {
        if (start < 0) start = start + n < 0 ? -1 : start + n;
        else if (start >= n) start = n - 1;
        if (stop < 0) stop = stop + n < 0 ? -1 : stop + n;
        else if (stop >= n) stop = n - 1;
    }
    int64_t len = 0;
    if (step > 0 && stop > start) len = (stop - start + step - 1) / step;
    if (step < 0 && start > stop) len = (start - stop + (-step) - 1) / (-step);
    int64_t shape[DS_MAX_DIMS], strides[DS_MAX_DIMS];
    memcpy(shape, t->shape, sizeof shape);
    memcpy(strides, t->strides, sizeof strides);
    shape[d] = len;
    strides[d] = t->strides[d] * step;
    int64_t off = len > 0 ? start * t->strides[d] : 0;
    return ds_tensor_view(t, t->ndim, shape, strides, off, out);
}

ds_status ds_tensor_select(ds_tensor *t, int dim, int64_t index, ds_tensor **out) {
    int d;
    ds_status st = ds_axis_normalize(dim, t->ndim, "dimension", &d);
    if (st) return st;
    if (t->ndim == 0) return ds_errorf(DS_ERR_INDEX, "cannot index a 0-d tensor");
    int64_t n = t->shape[d];
    if (index < -n || index >= n)
        return ds_errorf(DS_ERR_INDEX, "index %lld is out of bounds for axis %d with size %lld",
                         (long long)index, d, (long long)n);
    if (index < 0) index += n;
    int64_t shape[DS_MAX_DIMS], strides[DS_MAX_DIMS];
    int k = 0;
    for (int i = 0; i < t->ndim; i++) {
        if (i == d) continue;
        shape[k] = t->shape[i];
        strides[k++] = t->strides[i];
    }
    return ds_tensor_view(t, t->ndim - 1, shape, strides, index * t->strides[d], out);
}

ds_status ds_tensor_squeeze(ds_tensor *t, int dim, ds_tensor **out) {
    int64_t shape[DS_MAX_DIMS], strides[DS_MAX_DIMS];
    int k = 0, d = -1;
    if (dim >= 0 || dim < -1) {
        ds_status st = ds_axis_normalize(dim, t->ndim, "dimension", &d);
        if (st) return st;
        if (t->ndim > 0 && t->shape[d] != 1)
            return ds_errorf(DS_ERR_SHAPE, "cannot squeeze dimension %d of size %lld (must be 1)", d,
                             (long long)t->shape[d]);
    }
    for (int i = 0; i < t->ndim; i++) {
        if (t->shape[i] == 1 && (d < 0 || d == i)) continue;
        shape[k] = t->shape[i];
        strides[k++] = t->strides[i];
    }
    return ds_tensor_view(t, k, shape, strides, 0, out);
}

ds_status ds_tensor_unsqueeze(ds_tensor *t, int dim, ds_tensor **out) {
    if (t->ndim >= DS_MAX_DIMS)
        return ds_errorf(DS_ERR_SHAPE, "a tensor has at most %d dims", DS_MAX_DIMS);
    int d;
    ds_status st = ds_axis_normalize(dim, t->ndim + 1, "dimension", &d);
    if (st) return st;
    int64_t shape[DS_MAX_DIMS], strides[DS_MAX_DIMS];
    for (int i = 0, k = 0; i <= t->ndim; i++) {
        if (i == d) {
            shape[i] = 1;
            strides[i] = d < t->ndim ? t->strides[d] * t->shape[d] : 1;
        } else {
            shape[i] = t->shape[k];
            strides[i] = t->strides[k++];
        }
    }
    return ds_tensor_view(t, t->ndim + 1, shape, strides, 0, out);
}

/* Strides for viewing t with a new shape without copying, if possible (PyTorch's computeStride
 * rule: each group of old dims that merges into new dims must be contiguous within itself). */
bool ds_tensor_reshape_strides(const ds_tensor *t, int ndim, const int64_t *shape, int64_t *strides) {
    if (t->contiguous) {
        ds_shape_contiguous_strides(ndim, shape, strides);
        return true;
    }
    if (t->numel == 0) {
        ds_shape_contiguous_strides(ndim, shape, strides);
        return true;
    }
    int view_d = ndim - 1;
    int64_t chunk = 1;
    int64_t base_stride = t->ndim ? t->strides[t->ndim - 1] : 1;
    int64_t tensor_numel = 1, view_numel = 1;
    for (int td = t->ndim - 1; td >= 0; td--) {
        tensor_numel *= t->shape[td];
        if (td == 0 || (t->shape[td - 1] != 1 && t->strides[td - 1] != tensor_numel * base_stride)) {
            while (view_d >= 0 && (view_numel < tensor_numel || shape[view_d] == 1)) {
                strides[view_d] = view_numel * base_stride;
                view_numel *= shape[view_d];
                view_d--;
            }
            if (view_numel != tensor_numel) return false;
            if (td > 0) {
                base_stride = t->strides[td - 1];
                tensor_numel = 1;
                view_numel = 1;
            }
        }
    }
    (void)chunk;
    return view_d == -1;
}
