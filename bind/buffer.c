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

typedef struct export_block {
    DLManagedTensor m;
    int64_t dims[2 * DS_MAX_DIMS];
} export_block;

static void export_deleter(DLManagedTensor *m) {
    ds_tensor_release((ds_tensor *)m->manager_ctx);
    PyMem_RawFree(m);
}

static void capsule_destructor(PyObject *cap) {
    if (PyCapsule_IsValid(cap, "dltensor")) { /* never consumed */
        DLManagedTensor *m = PyCapsule_GetPointer(cap, "dltensor");
        if (m && m->deleter) m->deleter(m);
    }
    PyErr_Clear();
}

PyObject *ds_py_dlpack(PyObject *self, PyObject *args, PyObject *kwargs) {
    ds_tensor *t = ((TensorObject *)self)->t;
    if (!t->data && t->numel != 0) {
        PyErr_SetString(PyExc_BufferError, "a declared-only tensor has no data");
        return NULL;
    }
    export_block *b = PyMem_RawMalloc(sizeof(export_block));
    if (!b) return PyErr_NoMemory();
    memcpy(b->dims, t->shape, sizeof(int64_t) * (size_t)t->ndim);
    memcpy(b->dims + DS_MAX_DIMS, t->strides, sizeof(int64_t) * (size_t)t->ndim);
    b->m.dl_tensor = (DLTensor){t->data, {DL_CPU, 0}, t->ndim, dl_dtype(t->dtype), b->dims, b->dims + DS_MAX_DIMS, 0};
    b->m.manager_ctx = ds_tensor_retain(t);
    b->m.deleter = export_deleter;
    PyObject *cap = PyCapsule_New(&b->m, "dltensor", capsule_destructor);
    if (!cap) export_deleter(&b->m);
    return cap;
}

PyObject *ds_py_dlpack_device(PyObject *self, PyObject *unused) { return Py_BuildValue("(ii)", DL_CPU, 0); }

static void import_release(void *ctx) {
    DLManagedTensor *m = ctx;
    if (m->deleter) m->deleter(m);
}

PyObject *ds_py_from_dlpack(PyObject *module, PyObject *obj) {
    PyObject *cap = PyObject_CallMethod(obj, "__dlpack__", NULL);
    if (!cap) return NULL;
    DLManagedTensor *m = PyCapsule_GetPointer(cap, "dltensor");
    if (!m) {
        Py_DECREF(cap);
        return NULL;
    }
    DLTensor *d = &m->dl_tensor;
    ds_dtype dt;
    if (d->device.device_type != DL_CPU) {
        PyErr_Format(PyExc_BufferError, "from_dlpack: only CPU tensors are supported (device type %d)",
                     d->device.device_type);
        goto fail;
    }
    if (ds_from_dl_dtype(d->dtype, &dt) < 0) {
        PyErr_Format(PyExc_TypeError, "from_dlpack: unsupported DLPack dtype (code %d, %d bits, %d lanes)",
                     d->dtype.code, d->dtype.bits, d->dtype.lanes);
        goto fail;
    }
    if (d->ndim > DS_MAX_DIMS) {
        PyErr_Format(PyExc_ValueError, "from_dlpack: a tensor has at most %d dims", DS_MAX_DIMS);
        goto fail;
    }
    ds_tensor *t;
    ds_status st = ds_tensor_wrap(dt, d->ndim, d->shape, d->strides, (char *)d->data + d->byte_offset,
                                  import_release, m, &t);
    if (st) {
        ds_py_raise(st);
        goto fail;
    }
    PyCapsule_SetName(cap, "used_dltensor");
    Py_DECREF(cap);
    return ds_py_wrap(t);
fail:
    Py_DECREF(cap);
    return NULL;
}
