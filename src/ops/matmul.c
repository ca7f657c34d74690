/* MATMUL(a, b; transpose_a, transpose_b) with NumPy matmul semantics: a 1-D a is a row [1, k] and a
 * 1-D b a column [k, 1], the added dim being removed from the result; leading (batch) dims broadcast;
 * the transposes apply to the last two dims of operands with 2 or more dims. The result dtype is the
 * promoted input dtype: float32/float64 go through ds_gemm_*, float16/bfloat16 through float32, and
 * integers and bool through an exact int64 loop (integers wrap like NumPy; bool gives "any a & b").
 * Operands are used in place when their last two dims are row- or column-major (any batch strides,
 * broadcast included); otherwise they are copied. */
#include <stdatomic.h>
#include <string.h>

#include "base/alloc.h"
#include "base/status.h"
#include "base/threadpool.h"
#include "kernels/gemm.h"
#include "ops/op.h"

/* The problem after 1-D promotion: op(a) is m x k, op(b) is k x n, over a batch. */
typedef struct mm_dims {
    int64_t m, k, kb, n;
    int nb; /* batch dims of the result */
    int64_t batch[DS_MAX_DIMS];
} mm_dims;

static ds_status shape_error(const ds_meta *a, const ds_meta *b, bool ta, bool tb, const char *what) {
    char sa[DS_SHAPE_STR_MAX], sb[DS_SHAPE_STR_MAX];
    ds_shape_str(a->ndim, a->shape, sa, sizeof sa);
    ds_shape_str(b->ndim, b->shape, sb, sizeof sb);
    return ds_errorf(DS_ERR_SHAPE, "%s: a is %s%s, b is %s%s", what, sa,
                     ta && a->ndim >= 2 ? " (transposed)" : "", sb,
                     tb && b->ndim >= 2 ? " (transposed)" : "");
}

static ds_status mm_dims_of(const ds_meta *a, const ds_meta *b, bool ta, bool tb, mm_dims *d) {
    if (a->ndim == 0 || b->ndim == 0)
        return ds_errorf(DS_ERR_SHAPE, "operand %s is 0-d; matmul needs at least 1 dimension",
                         a->ndim == 0 ? "a" : "b");
    if (a->ndim == 1) d->m = 1, d->k = a->shape[0];
    else {
        int64_t r = a->shape[a->ndim - 2], c = a->shape[a->ndim - 1];
        d->m = ta ? c : r;
        d->k = ta ? r : c;
    }
    if (b->ndim == 1) d->kb = b->shape[0], d->n = 1;
    else {
        int64_t r = b->shape[b->ndim - 2], c = b->shape[b->ndim - 1];
        d->kb = tb ? c : r;
        d->n = tb ? r : c;
    }
    if (d->k >= 0 && d->kb >= 0 && d->k != d->kb) {
        char sa[DS_SHAPE_STR_MAX], sb[DS_SHAPE_STR_MAX];
        ds_shape_str(a->ndim, a->shape, sa, sizeof sa);
        ds_shape_str(b->ndim, b->shape, sb, sizeof sb);
        return ds_errorf(DS_ERR_SHAPE, "inner dimensions differ: a is %s%s, b is %s%s (%lld vs %lld)",
                         sa, ta && a->ndim >= 2 ? " (transposed)" : "", sb,
                         tb && b->ndim >= 2 ? " (transposed)" : "", (long long)d->k,
                         (long long)d->kb);
    }
    int na = a->ndim > 2 ? a->ndim - 2 : 0, nb = b->ndim > 2 ? b->ndim - 2 : 0;
    d->nb = na > nb ? na : nb;
    for (int i = 0; i < d->nb; i++) {
        int ia = i - (d->nb - na), ib = i - (d->nb - nb);
        int64_t x = ia >= 0 ? a->shape[ia] : 1, y = ib >= 0 ? b->shape[ib] : 1;
        if (x == y || y == 1) d->batch[i] = x;
        else if (x == 1) d->batch[i] = y;
        else if (x < 0 || y < 0) d->batch[i] = -1;
        else return shape_error(a, b, ta, tb, "batch dimensions do not broadcast");
    }
    return DS_OK;
}

static ds_status matmul_infer(ds_op_id op, int n_in, const ds_meta *in, const ds_attr *attrs,
                              ds_meta *out, int *n_out) {
    mm_dims d;
    bool ta = attrs[0].v.b, tb = attrs[1].v.b;
    ds_status st = mm_dims_of(&in[0], &in[1], ta, tb, &d);
    if (st) return st;
    out->dtype = ds_dtype_promote(in[0].dtype, in[1].dtype);
    out->ndim = d.nb;
    memcpy(out->shape, d.batch, sizeof(int64_t) * (size_t)d.nb);
    if (in[0].ndim >= 2) out->shape[out->ndim++] = d.m;
    if (in[1].ndim >= 2) out->shape[out->ndim++] = d.n;
    *n_out = 1;
    return DS_OK;
}

/* ---------------------------------------------------------------- operands */
typedef struct mm_operand {
    ds_tensor *t; /* owned reference: the tensor actually read */
    const char *data;
    bool trans;   /* for the gemm call */
    int64_t ld;
    int64_t bstride[DS_MAX_DIMS]; /* elements, per result batch dim (0 = broadcast) */
} mm_operand;

/* Can the stored rows x cols matrix with strides (sr, sc) be passed to GEMM? col_major tells how. */
static bool gemm_layout(int64_t rows, int64_t cols, int64_t sr, int64_t sc, bool *col_major,
                        int64_t *ld) {
    if (rows <= 1 && cols <= 1) return *col_major = false, *ld = 1, true;
    if (rows == 1) {
        if (sc == 1) return *col_major = false, *ld = cols, true;
        if (sc > 0) return *col_major = true, *ld = sc, true;
        return false;
    }
    if (cols == 1) {
        if (sr >= 1) return *col_major = false, *ld = sr, true;
        return false;
    }
    if (sc == 1 && sr >= cols) return *col_major = false, *ld = sr, true;
    if (sr == 1 && sc >= rows) return *col_major = true, *ld = sc, true;
    return false;
}

/* Prepares x (the `is_b`-th operand) in dtype cdt. transpose = the op's flag for it. */
static ds_status operand_prepare(ds_tensor *x, bool is_b, bool transpose, ds_dtype cdt,
                                 const mm_dims *d, mm_operand *o) {
    ds_status st = DS_OK;
    ds_tensor *t = NULL, *tmp = NULL;
    if (x->dtype != cdt) {
        DS_TRY(ds_tensor_new(cdt, x->ndim, x->shape, &t));
        DS_TRY(ds_tensor_copy_into(t, x));
    } else {
        t = ds_tensor_retain(x);
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        int64_t rows, cols, sr, sc;
        if (t->ndim == 1) { /* a: row [1, k]; b: column [k, 1] */
            rows = is_b ? t->shape[0] : 1;
            cols = is_b ? 1 : t->shape[0];
            sr = is_b ? t->strides[0] : cols;
            sc = is_b ? 1 : t->strides[0];
        } else {
            rows = t->shape[t->ndim - 2];
            cols = t->shape[t->ndim - 1];
            sr = t->strides[t->ndim - 2];
            sc = t->strides[t->ndim - 1];
        }
        bool col_major;
        if (gemm_layout(rows, cols, sr, sc, &col_major, &o->ld)) {
            o->trans = col_major != (transpose && t->ndim >= 2);
            break;
        }
        DS_ASSERT(attempt == 0);
        DS_TRY(ds_tensor_contiguous(t, &tmp));
        ds_tensor_release(t);
        t = tmp;
        tmp = NULL;
    }
    int xb = t->ndim > 2 ? t->ndim - 2 : 0;
    for (int i = 0; i < d->nb; i++) {
        int ix = i - (d->nb - xb);
        o->bstride[i] = ix >= 0 && t->shape[ix] != 1 ? t->strides[ix] : 0;
    }
    o->t = t;
    o->data = (const char *)t->data;
    return DS_OK;
fail:
    ds_tensor_release(t);
    return st;
}

/* ---------------------------------------------------------------- the batch loop */
typedef struct mm_job {
    ds_dtype cdt; /* float32, float64 or int64 */
    const mm_dims *d;
    mm_operand *a, *b;
    char *c; /* contiguous [batch, m, n] of cdt */
    atomic_int failed;
} mm_job;

static void igemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const int64_t *a, int64_t lda,
                  const int64_t *b, int64_t ldb, int64_t *c) {
    for (int64_t i = 0; i < m; i++) {
        uint64_t *cr = (uint64_t *)c + i * n;
        memset(cr, 0, sizeof(int64_t) * (size_t)n);
        for (int64_t p = 0; p < k; p++) {
            uint64_t av = (uint64_t)(ta ? a[p * lda + i] : a[i * lda + p]);
            if (!av) continue;
            if (!tb) {
                const int64_t *br = b + p * ldb;
                for (int64_t j = 0; j < n; j++) cr[j] += av * (uint64_t)br[j];
            } else {
                for (int64_t j = 0; j < n; j++) cr[j] += av * (uint64_t)b[j * ldb + p];
            }
        }
    }
}

static void mm_batches(void *ctx, int64_t b0, int64_t b1) {
    mm_job *j = (mm_job *)ctx;
    const mm_dims *d = j->d;
    size_t es = ds_dtype_size(j->cdt);
    for (int64_t bi = b0; bi < b1; bi++) {
        int64_t oa = 0, ob = 0, rem = bi;
        for (int i = d->nb - 1; i >= 0; i--) {
            int64_t ix = rem % d->batch[i];
            rem /= d->batch[i];
            oa += ix * j->a->bstride[i];
            ob += ix * j->b->bstride[i];
        }
        const char *pa = j->a->data + oa * (int64_t)es, *pb = j->b->data + ob * (int64_t)es;
        char *pc = j->c + (size_t)(bi * d->m * d->n) * es;
        ds_status st = DS_OK;
        bool tiny = d->m * d->n * d->k <= DS_GEMM_SMALL_WORK;
        if (tiny && j->cdt == DS_FLOAT32)
            ds_gemm_small_f32(j->a->trans, j->b->trans, d->m, d->n, d->k, (const float *)pa, j->a->ld,
                              (const float *)pb, j->b->ld, (float *)pc, d->n);
        else if (tiny && j->cdt == DS_FLOAT64)
            ds_gemm_small_f64(j->a->trans, j->b->trans, d->m, d->n, d->k, (const double *)pa, j->a->ld,
                              (const double *)pb, j->b->ld, (double *)pc, d->n);
        else if (j->cdt == DS_FLOAT32)
            st = ds_gemm_f32(j->a->trans, j->b->trans, d->m, d->n, d->k, 1.0f, (const float *)pa,
                             j->a->ld, (const float *)pb, j->b->ld, 0.0f, (float *)pc, d->n);
        else if (j->cdt == DS_FLOAT64)
            st = ds_gemm_f64(j->a->trans, j->b->trans, d->m, d->n, d->k, 1.0, (const double *)pa,
                             j->a->ld, (const double *)pb, j->b->ld, 0.0, (double *)pc, d->n);
        else
            igemm(j->a->trans, j->b->trans, d->m, d->n, d->k, (const int64_t *)pa, j->a->ld,
                  (const int64_t *)pb, j->b->ld, (int64_t *)pc);
        if (st) atomic_store(&j->failed, 1);
    }
}

static ds_status matmul_run(ds_op_call *c) {
    ds_tensor *x = c->in[0], *w = c->in[1], *y = c->out[0], *acc = NULL;
    bool ta = c->attrs[0].v.b, tb = c->attrs[1].v.b;
    ds_meta ma, mb;
    ds_meta_of(x, &ma);
    ds_meta_of(w, &mb);
    mm_dims d;
    mm_operand oa = {0}, ob = {0};
    ds_status st = DS_OK;
    DS_TRY(mm_dims_of(&ma, &mb, ta, tb, &d));
    int64_t nbatch = 1;
    for (int i = 0; i < d.nb; i++) nbatch *= d.batch[i];
    if (y->numel == 0) return DS_OK;
    if (d.k == 0) {
        memset(y->data, 0, (size_t)y->numel * ds_dtype_size(y->dtype));
        return DS_OK;
    }
    ds_dtype cdt = y->dtype == DS_FLOAT64 ? DS_FLOAT64
                   : ds_dtype_is_float(y->dtype) ? DS_FLOAT32 : DS_INT64;
    DS_TRY(operand_prepare(x, false, ta, cdt, &d, &oa));
    DS_TRY(operand_prepare(w, true, tb, cdt, &d, &ob));
    char *out = y->data;
    if (y->dtype != cdt) {
        DS_TRY(ds_tensor_new(cdt, y->ndim, y->shape, &acc));
        out = acc->data;
    }
    mm_job job = {.cdt = cdt, .d = &d, .a = &oa, .b = &ob, .c = out};
    atomic_init(&job.failed, 0);
    /* Small matrices: one thread per batch element (each GEMM then runs single-threaded). Large
     * ones: one batch element at a time, each GEMM using the whole pool. */
    double work = (double)d.m * (double)d.n * (double)d.k;
    if (nbatch > 1 && work < (double)(1 << 21))
        ds_parallel_for(nbatch, work >= 32768 ? 1 : (int64_t)(32768 / (work + 1)) + 1, mm_batches, &job);
    else
        mm_batches(&job, 0, nbatch);
    if (atomic_load(&job.failed)) {
        st = ds_errorf(DS_ERR_NOMEM, "out of memory in gemm");
        goto fail;
    }
    if (acc) DS_TRY(ds_tensor_copy_into(y, acc));
fail:
    ds_tensor_release(oa.t);
    ds_tensor_release(ob.t);
    ds_tensor_release(acc);
    return st;
}

void ds_ops_register_matmul(ds_op_impl *table) {
    table[DS_OP_MATMUL] = (ds_op_impl){matmul_infer, matmul_run, 0};
}
