/* Zero-copy interchange: the buffer protocol (NumPy, memoryview) and DLPack (v0.x capsules). */
#include <string.h>

#include "bind.h"

/* ---------------------------------------------------------------- buffer protocol */
static const char *buffer_format(ds_dtype dt) {
    static const char *const f[DS_DTYPE_COUNT] = {"?", "b", "B", "h", "i", "q", "e", NULL, "f", "d"};
    return f[dt];
}

static int tensor_getbuffer(PyObject *obj, Py_buffer *view, int flags) {
    ds_tensor *t = ((TensorObject *)obj)->t;
    if (ds_py_check_readable(t, "the buffer protocol") < 0) return -1;
    if (!t->data && t->numel != 0) {
        PyErr_SetString(PyExc_BufferError, "a declared-only tensor has no data");
        return -1;
    }
    const char *fmt = buffer_format(t->dtype);
    if (!fmt) {
        PyErr_SetString(PyExc_BufferError, "bfloat16 has no buffer format; use asnumpy() (float32) instead");
        return -1;
    }
    if ((flags & PyBUF_ANY_CONTIGUOUS) == PyBUF_ANY_CONTIGUOUS || (flags & PyBUF_C_CONTIGUOUS) == PyBUF_C_CONTIGUOUS ||
        (flags & PyBUF_F_CONTIGUOUS) == PyBUF_F_CONTIGUOUS || (flags & PyBUF_STRIDES) != PyBUF_STRIDES) {
        if (!t->contiguous) {
            PyErr_SetString(PyExc_BufferError, "tensor is not contiguous; call contiguous() first");
            return -1;
        }
    }
    Py_ssize_t *arr = PyMem_Malloc(sizeof(Py_ssize_t) * 2 * (size_t)(t->ndim ? t->ndim : 1));
    if (!arr) {
        PyErr_NoMemory();
        return -1;
    }
    int64_t isz = (int64_t)ds_dtype_size(t->dtype);
    for (int i = 0; i < t->ndim; i++) {
        arr[i] = (Py_ssize_t)t->shape[i];
        arr[t->ndim + i] = (Py_ssize_t)(t->strides[i] * isz);
    }
    view->buf = t->data;
    view->obj = Py_NewRef(obj);
    view->len = (Py_ssize_t)(t->numel * isz);
    view->itemsize = (Py_ssize_t)isz;
    view->readonly = 0;
    view->ndim = t->ndim;
    view->format = (flags & PyBUF_FORMAT) ? (char *)fmt : NULL;
    view->shape = (flags & PyBUF_ND) == PyBUF_ND ? arr : NULL;
    view->strides = (flags & PyBUF_STRIDES) == PyBUF_STRIDES ? arr + t->ndim : NULL;
    view->suboffsets = NULL;
    view->internal = arr;
    return 0;
}

static void tensor_releasebuffer(PyObject *obj, Py_buffer *view) { PyMem_Free(view->internal); }

PyBufferProcs ds_py_buffer_procs = {tensor_getbuffer, tensor_releasebuffer};

/* ---------------------------------------------------------------- DLPack (ABI of dlpack.h v0.8) */
typedef struct DLDevice {
    int32_t device_type; /* 1 = CPU */
    int32_t device_id;
} DLDevice;

typedef struct DLDataType {
    uint8_t code; /* 0 int, 1 uint, 2 float, 4 bfloat, 6 bool */
    uint8_t bits;
    uint16_t lanes;
} DLDataType;

typedef struct DLTensor {
    void *data;
    DLDevice device;
    int32_t ndim;
    DLDataType dtype;
    int64_t *shape;
    int64_t *strides; /* in elements */
    uint64_t byte_offset;
} DLTensor;

typedef struct DLManagedTensor {
    DLTensor dl_tensor;
    void *manager_ctx;
    void (*deleter)(struct DLManagedTensor *self);
} DLManagedTensor;

enum { DL_INT = 0, DL_UINT = 1, DL_FLOAT = 2, DL_BFLOAT = 4, DL_BOOL = 6, DL_CPU = 1 };

static DLDataType dl_dtype(ds_dtype dt) {
    uint8_t bits = (uint8_t)(ds_dtype_size(dt) * 8);
    switch (dt) {
    case DS_BOOL: return (DLDataType){DL_BOOL, 8, 1};
    case DS_UINT8: return (DLDataType){DL_UINT, 8, 1};
    case DS_BFLOAT16: return (DLDataType){DL_BFLOAT, 16, 1};
    default: return (DLDataType){ds_dtype_is_float(dt) ? DL_FLOAT : DL_INT, bits, 1};
    }
}

static int ds_from_dl_dtype(DLDataType d, ds_dtype *out) {
    if (d.lanes != 1) return -1;
    for (int i = 0; i < DS_DTYPE_COUNT; i++) {
        DLDataType c = dl_dtype((ds_dtype)i);
        if (c.code == d.code && c.bits == d.bits) {
            *out = (ds_dtype)i;
            return 0;
        }
    }
    if (d.code == DL_UINT && d.bits == 1) return -1;
    return -1;
}

/* DLPack 1.x: versioned capsules ("dltensor_versioned") with flags. */
typedef struct DLPackVersion {
    uint32_t major, minor;
} DLPackVersion;

typedef struct DLManagedTensorVersioned {
    DLPackVersion version;
    void *manager_ctx;
    void (*deleter)(struct DLManagedTensorVersioned *self);
    uint64_t flags; /* bit 0: read-only, bit 1: is a copy */
    DLTensor dl_tensor;
} DLManagedTensorVersioned;

#define DL_FLAG_READ_ONLY 1u

typedef struct export_block {
    DLManagedTensor m;
    DLManagedTensorVersioned mv;
    bool versioned;
    int64_t dims[2 * DS_MAX_DIMS];
} export_block;

static void export_deleter(DLManagedTensor *m) {
    export_block *b = (export_block *)m;
    ds_tensor_release((ds_tensor *)b->m.manager_ctx);
    PyMem_RawFree(b);
}

static void export_deleter_versioned(DLManagedTensorVersioned *mv) {
    export_block *b = (export_block *)((char *)mv - offsetof(export_block, mv));
    export_deleter(&b->m);
}

static void capsule_destructor(PyObject *cap) {
    if (PyCapsule_IsValid(cap, "dltensor")) { /* never consumed */
        DLManagedTensor *m = PyCapsule_GetPointer(cap, "dltensor");
        if (m && m->deleter) m->deleter(m);
    } else if (PyCapsule_IsValid(cap, "dltensor_versioned")) {
        DLManagedTensorVersioned *m = PyCapsule_GetPointer(cap, "dltensor_versioned");
        if (m && m->deleter) m->deleter(m);
    }
    PyErr_Clear();
}

PyObject *ds_py_dlpack(PyObject *self, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"stream", "max_version", "dl_device", "copy", NULL};
    PyObject *stream = Py_None, *max_version = Py_None, *dl_device = Py_None, *copy = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|$OOOO:__dlpack__", kwlist, &stream, &max_version, &dl_device, &copy))
        return NULL;
    ds_tensor *t = ((TensorObject *)self)->t;
    if (ds_py_check_readable(t, "__dlpack__()") < 0) return NULL;
    if (!t->data && t->numel != 0) {
        PyErr_SetString(PyExc_BufferError, "a declared-only tensor has no data");
        return NULL;
    }
    if (copy == Py_True) {
        PyErr_SetString(PyExc_BufferError, "__dlpack__(copy=True) is not supported; export shares memory");
        return NULL;
    }
    bool versioned = false;
    if (max_version != Py_None) {
        PyObject *major = PySequence_GetItem(max_version, 0);
        if (!major) return NULL;
        long mj = PyLong_AsLong(major);
        Py_DECREF(major);
        if (mj == -1 && PyErr_Occurred()) return NULL;
        versioned = mj >= 1;
    }
    export_block *b = PyMem_RawCalloc(1, sizeof(export_block));
    if (!b) return PyErr_NoMemory();
    if (t->ndim) {
        memcpy(b->dims, t->shape, sizeof(int64_t) * (size_t)t->ndim);
        memcpy(b->dims + DS_MAX_DIMS, t->strides, sizeof(int64_t) * (size_t)t->ndim);
    }
    DLTensor dl = {t->data, {DL_CPU, 0}, t->ndim, dl_dtype(t->dtype), b->dims, b->dims + DS_MAX_DIMS, 0};
    b->m.dl_tensor = dl;
    b->m.manager_ctx = ds_tensor_retain(t);
    b->m.deleter = export_deleter;
    b->versioned = versioned;
    PyObject *cap;
    if (versioned) {
        b->mv.version = (DLPackVersion){1, 0};
        b->mv.manager_ctx = b->m.manager_ctx;
        b->mv.deleter = export_deleter_versioned;
        b->mv.flags = 0;
        b->mv.dl_tensor = dl;
        cap = PyCapsule_New(&b->mv, "dltensor_versioned", capsule_destructor);
    } else cap = PyCapsule_New(&b->m, "dltensor", capsule_destructor);
    if (!cap) export_deleter(&b->m);
    return cap;
}

PyObject *ds_py_dlpack_device(PyObject *self, PyObject *unused) { return Py_BuildValue("(ii)", DL_CPU, 0); }

typedef struct import_ctx {
    DLManagedTensor *m;
    DLManagedTensorVersioned *mv;
} import_ctx;

static void import_release(void *p) {
    import_ctx *c = p;
    if (c->m && c->m->deleter) c->m->deleter(c->m);
    if (c->mv && c->mv->deleter) c->mv->deleter(c->mv);
    PyMem_RawFree(c);
}

PyObject *ds_py_from_dlpack(PyObject *module, PyObject *obj) {
    PyObject *cap = NULL;
    {
        PyObject *meth = PyObject_GetAttrString(obj, "__dlpack__");
        if (!meth) return NULL;
        PyObject *kw = Py_BuildValue("{s:(ii)}", "max_version", 1, 0);
        PyObject *noargs = PyTuple_New(0);
        if (kw && noargs) cap = PyObject_Call(meth, noargs, kw);
        Py_XDECREF(kw);
        Py_XDECREF(noargs);
        if (!cap && PyErr_ExceptionMatches(PyExc_TypeError)) { /* an exporter without max_version */
            PyErr_Clear();
            cap = PyObject_CallNoArgs(meth);
        }
        Py_DECREF(meth);
        if (!cap) return NULL;
    }
    import_ctx *ctx = PyMem_RawCalloc(1, sizeof(import_ctx));
    if (!ctx) {
        Py_DECREF(cap);
        return PyErr_NoMemory();
    }
    DLTensor *d;
    bool read_only = false;
    const char *used;
    if (PyCapsule_IsValid(cap, "dltensor_versioned")) {
        ctx->mv = PyCapsule_GetPointer(cap, "dltensor_versioned");
        if (ctx->mv->version.major > 1) {
            PyErr_Format(PyExc_BufferError, "from_dlpack: DLPack version %u is newer than supported (1)",
                         ctx->mv->version.major);
            ctx->mv = NULL;
            goto fail;
        }
        d = &ctx->mv->dl_tensor;
        read_only = ctx->mv->flags & DL_FLAG_READ_ONLY;
        used = "used_dltensor_versioned";
    } else {
        ctx->m = PyCapsule_GetPointer(cap, "dltensor");
        if (!ctx->m) goto fail;
        d = &ctx->m->dl_tensor;
        used = "used_dltensor";
    }
    ds_dtype dt;
    if (d->device.device_type != DL_CPU) {
        PyErr_Format(PyExc_BufferError, "from_dlpack: only CPU tensors are supported (device type %d)",
                     d->device.device_type);
        goto fail_unowned;
    }
    if (ds_from_dl_dtype(d->dtype, &dt) < 0) {
        PyErr_Format(PyExc_TypeError, "from_dlpack: unsupported DLPack dtype (code %d, %d bits, %d lanes)",
                     d->dtype.code, d->dtype.bits, d->dtype.lanes);
        goto fail_unowned;
    }
    if (d->ndim > DS_MAX_DIMS) {
        PyErr_Format(PyExc_ValueError, "from_dlpack: a tensor has at most %d dims", DS_MAX_DIMS);
        goto fail_unowned;
    }
    PyCapsule_SetName(cap, used); /* from here on we own the managed tensor */
    Py_DECREF(cap);
    ds_tensor *t;
    ds_status st = ds_tensor_wrap(dt, d->ndim, d->shape, d->strides, (char *)d->data + d->byte_offset, import_release,
                                  ctx, &t);
    if (st) {
        import_release(ctx);
        return ds_py_raise(st);
    }
    if (read_only) { /* we cannot promise not to write: take a copy */
        ds_tensor *c;
        st = ds_op_run1(DS_OP_COPY, 1, &t, NULL, &c);
        ds_tensor_release(t);
        if (st) return ds_py_raise(st);
        t = c;
    }
    return ds_py_wrap(t);
fail_unowned:
fail:
    PyMem_RawFree(ctx);
    Py_DECREF(cap);
    return NULL;
}
