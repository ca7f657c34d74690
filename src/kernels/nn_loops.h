/* Template of the nn loops for one float type, included by nn.simd.c once with T = float and once with
 * T = double (no include guard on purpose). Before including, define:
 *   T     the element type              SUF   the name suffix (f32, f64)
 *   L     the number of lanes           EXP, LOG, SQRT  vectorizable exp / log / sqrt of T
 * Row reductions keep L independent double accumulators, so GCC vectorizes them without reassociating:
 * the order of operations is fixed by the source and results do not depend on the thread count. */
#define NN_CAT2(a, b) a##_##b
#define NN_CAT(a, b) NN_CAT2(a, b)
#define F(name) NN_CAT(name, SUF)

/* ---------------------------------------------------------------- row reductions */
/* Sum of the L lanes and a tail, in a fixed order. */
static inline double F(lanes)(double *acc, double tail) {
    for (int w = L / 2; w >= 1; w /= 2)
        for (int l = 0; l < w; l++) acc[l] += acc[l + w];
    return acc[0] + tail;
}

/* max of x[0..n) (-inf if n == 0). NaNs are skipped here; they propagate through the sums. */
static inline T F(row_max)(const T *restrict x, int64_t n) {
    T acc[L];
    for (int l = 0; l < L; l++) acc[l] = -INFINITY;
    int64_t i = 0;
    for (; i + L <= n; i += L) {
#pragma GCC unroll 1 /* a lane loop, not 16 scalar max reductions (which GCC does not vectorize) */
        for (int l = 0; l < L; l++) acc[l] = x[i + l] > acc[l] ? x[i + l] : acc[l];
    }
    T m = -INFINITY;
    for (; i < n; i++) m = x[i] > m ? x[i] : m;
    for (int l = 0; l < L; l++) m = acc[l] > m ? acc[l] : m;
    return m;
}

/* sum of exp(x - m); with y != NULL also y = exp(x - m). */
static inline double F(expsum)(const T *restrict x, T *restrict y, int64_t n, T m) {
    double acc[L] = {0}, tail = 0;
    int64_t i = 0;
    if (y) {
        for (; i + L <= n; i += L)
            for (int l = 0; l < L; l++) {
                T e = EXP(x[i + l] - m);
                y[i + l] = e;
                acc[l] += (double)e;
            }
        for (; i < n; i++) {
            T e = EXP(x[i] - m);
            y[i] = e;
            tail += (double)e;
        }
    } else {
        for (; i + L <= n; i += L)
            for (int l = 0; l < L; l++) acc[l] += (double)EXP(x[i + l] - m);
        for (; i < n; i++) tail += (double)EXP(x[i] - m);
    }
    return F(lanes)(acc, tail);
}

/* sum of a */
static inline double F(sum)(const T *restrict a, int64_t n) {
    double acc[L] = {0}, tail = 0;
    int64_t i = 0;
    for (; i + L <= n; i += L)
        for (int l = 0; l < L; l++) acc[l] += (double)a[i + l];
    for (; i < n; i++) tail += (double)a[i];
    return F(lanes)(acc, tail);
}

/* sum of a - m */
static inline double F(sum_dev)(const T *restrict a, int64_t n, T m) {
    double acc[L] = {0}, tail = 0;
    int64_t i = 0;
    for (; i + L <= n; i += L)
        for (int l = 0; l < L; l++) acc[l] += (double)a[i + l] - (double)m;
    for (; i < n; i++) tail += (double)a[i] - (double)m;
    return F(lanes)(acc, tail);
}

/* sum of a * b */
static inline double F(dot)(const T *restrict a, const T *restrict b, int64_t n) {
    double acc[L] = {0}, tail = 0;
    int64_t i = 0;
    for (; i + L <= n; i += L)
        for (int l = 0; l < L; l++) acc[l] += (double)a[i + l] * (double)b[i + l];
    for (; i < n; i++) tail += (double)a[i] * (double)b[i];
    return F(lanes)(acc, tail);
}

/* sum of a * (b - m) */
static inline double F(dot_dev)(const T *restrict a, const T *restrict b, int64_t n, T m) {
    double acc[L] = {0}, tail = 0;
    int64_t i = 0;
    for (; i + L <= n; i += L)
        for (int l = 0; l < L; l++) acc[l] += (double)a[i + l] * ((double)b[i + l] - (double)m);
    for (; i < n; i++) tail += (double)a[i] * ((double)b[i] - (double)m);
    return F(lanes)(acc, tail);
}

/* ---------------------------------------------------------------- softmax, log_softmax */
static void F(softmax_rows)(const void *xv, void *yv, int64_t rows, int64_t n, int lg) {
    for (int64_t r = 0; r < rows; r++) {
        const T *restrict x = (const T *)xv + r * n;
        T *restrict y = (T *)yv + r * n;
        T m = F(row_max)(x, n);
        if (!lg) {
            T inv = (T)(1.0 / F(expsum)(x, y, n, m));
            for (int64_t i = 0; i < n; i++) y[i] *= inv;
        } else {
            T ls = (T)log(F(expsum)(x, NULL, n, m));
            for (int64_t i = 0; i < n; i++) y[i] = (x[i] - m) - ls;
        }
    }
}

/* One block of w <= DS_NN_COLS columns of an [n, w] slice with row stride ld. */
static void F(softmax_cols)(const void *xv, void *yv, int64_t n, int64_t ld, int64_t w, int lg) {
    const T *restrict x = xv;
    T *restrict y = yv;
    T m[DS_NN_COLS], f[DS_NN_COLS];
    double s[DS_NN_COLS];
    for (int64_t j = 0; j < w; j++) m[j] = -INFINITY, s[j] = 0;
    for (int64_t k = 0; k < n; k++)
        for (int64_t j = 0; j < w; j++) m[j] = x[k * ld + j] > m[j] ? x[k * ld + j] : m[j];
    if (!lg) {
        for (int64_t k = 0; k < n; k++)
            for (int64_t j = 0; j < w; j++) {
                T e = EXP(x[k * ld + j] - m[j]);
                y[k * ld + j] = e;
                s[j] += (double)e;
            }
        for (int64_t j = 0; j < w; j++) f[j] = (T)(1.0 / s[j]);
        for (int64_t k = 0; k < n; k++)
            for (int64_t j = 0; j < w; j++) y[k * ld + j] *= f[j];
    } else {
        for (int64_t k = 0; k < n; k++)
            for (int64_t j = 0; j < w; j++) s[j] += (double)EXP(x[k * ld + j] - m[j]);
        for (int64_t j = 0; j < w; j++) f[j] = (T)log(s[j]);
        for (int64_t k = 0; k < n; k++)
            for (int64_t j = 0; j < w; j++) y[k * ld + j] = (x[k * ld + j] - m[j]) - f[j];
    }
}

/* softmax: dx = y (g - sum(g y)); log_softmax: dx = g - exp(y) sum(g). */
static void F(grad_rows)(const void *yv, const void *gv, void *dxv, int64_t rows, int64_t n, int lg) {
    for (int64_t r = 0; r < rows; r++) {
        const T *restrict y = (const T *)yv + r * n, *restrict g = (const T *)gv + r * n;
        T *restrict dx = (T *)dxv + r * n;
        T s = (T)(lg ? F(sum)(g, n) : F(dot)(g, y, n));
        if (!lg)
            for (int64_t i = 0; i < n; i++) dx[i] = y[i] * (g[i] - s);
        else
            for (int64_t i = 0; i < n; i++) dx[i] = g[i] - EXP(y[i]) * s;
    }
}

static void F(grad_cols)(const void *yv, const void *gv, void *dxv, int64_t n, int64_t ld, int64_t w, int lg) {
    const T *restrict y = yv, *restrict g = gv;
    T *restrict dx = dxv;
    double s[DS_NN_COLS];
    T f[DS_NN_COLS];
    for (int64_t j = 0; j < w; j++) s[j] = 0;
    if (!lg) {
        for (int64_t k = 0; k < n; k++)
            for (int64_t j = 0; j < w; j++) s[j] += (double)g[k * ld + j] * (double)y[k * ld + j];
        for (int64_t j = 0; j < w; j++) f[j] = (T)s[j];
        for (int64_t k = 0; k < n; k++)
            for (int64_t j = 0; j < w; j++) dx[k * ld + j] = y[k * ld + j] * (g[k * ld + j] - f[j]);
    } else {
        for (int64_t k = 0; k < n; k++)
            for (int64_t j = 0; j < w; j++) s[j] += (double)g[k * ld + j];
        for (int64_t j = 0; j < w; j++) f[j] = (T)s[j];
        for (int64_t k = 0; k < n; k++)
            for (int64_t j = 0; j < w; j++) dx[k * ld + j] = g[k * ld + j] - EXP(y[k * ld + j]) * f[j];
    }
}

/* ---------------------------------------------------------------- cross-entropy */
/* Loss of one row (see ds_nn_ce): with lse = m + log(sum exp(x - m)), sum(T) = S,
 * loss = S log(sum exp(x - m)) - sum(T (x - m)), computed from x - m so that large logits do not cancel. */
static double F(ce_fwd)(const void *xv, int64_t c, int64_t label, const void *tv, double eps) {
    const T *x = xv, *t = tv;
    T m = F(row_max)(x, c);
    double ls = log(F(expsum)(x, NULL, c, m));
    double sdev = eps != 0 ? F(sum_dev)(x, c, m) : 0;
    if (!t) return ls - (1 - eps) * ((double)x[label] - (double)m) - eps / (double)c * sdev;
    double st = F(sum)(t, c), stx = F(dot_dev)(t, x, c, m);
    return ((1 - eps) * st + eps) * ls - (1 - eps) * stx - eps / (double)c * sdev;
}

/* dx = w (softmax(x) S - T). */
static void F(ce_bwd)(const void *xv, int64_t c, int64_t label, const void *tv, double eps, double w, void *dxv) {
    const T *restrict x = xv, *restrict t = tv;
    T *restrict dx = dxv;
    T m = F(row_max)(x, c);
    double s = F(expsum)(x, dx, c, m);
    T b0 = (T)(w * eps / (double)c), b1 = (T)(w * (1 - eps));
    if (!t) {
        T a = (T)(w / s);
        for (int64_t i = 0; i < c; i++) dx[i] = dx[i] * a - b0;
        dx[label] -= b1;
        return;
    }
    T a = (T)(w * ((1 - eps) * F(sum)(t, c) + eps) / s);
    for (int64_t i = 0; i < c; i++) dx[i] = dx[i] * a - (b1 * t[i] + b0);
}

/* ---------------------------------------------------------------- binary cross-entropy */
/* max(x, 0) - x t + log1p(exp(-|x|)), with max(x, 0) - x t written as x (1 - t) or -x t by the sign
 * of x (no cancellation when t is near 0 or 1), and log1p(e) = log(u) e / (u - 1), u = 1 + e. */
static inline T F(bce1)(T x, T t) {
    T ax = x < 0 ? -x : x;
    T e = EXP(-ax);
    T u = (T)1 + e, d = u - (T)1;
    T lp = d == 0 ? e : LOG(u) * (e / d);
    return (x >= 0 ? x * ((T)1 - t) : -x * t) + lp;
}

static double F(bce)(const void *xv, const void *tv, void *outv, int64_t n) {
    const T *restrict x = xv, *restrict t = tv;
    if (outv) {
        T *restrict out = outv;
        for (int64_t i = 0; i < n; i++) out[i] = F(bce1)(x[i], t[i]);
        return 0;
    }
    double acc[L] = {0}, tail = 0;
    int64_t i = 0;
    for (; i + L <= n; i += L)
        for (int l = 0; l < L; l++) acc[l] += (double)F(bce1)(x[i + l], t[i + l]);
    for (; i < n; i++) tail += (double)F(bce1)(x[i], t[i]);
    return F(lanes)(acc, tail);
}

/* ---------------------------------------------------------------- optimizer updates (contiguous) */
/* PyTorch SGD: d = g + wd p; buf = first ? d : momentum buf + (1 - dampening) d;
 * d = nesterov ? d + momentum buf : buf; p -= lr d (without momentum: p -= lr d). */
static void F(sgd_run)(T *restrict p, const T *restrict g, T *restrict b, int64_t n, const ds_nn_opt *o) {
    const T lr = (T)o->lr, wd = (T)o->weight_decay, mom = (T)o->momentum, damp1 = (T)(1.0 - o->dampening);
    const int decay = o->weight_decay != 0, first = o->first, nest = o->nesterov;
    if (o->momentum == 0) {
        for (int64_t i = 0; i < n; i++) {
            T d = decay ? g[i] + wd * p[i] : g[i];
            p[i] = p[i] - lr * d;
        }
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        T d = decay ? g[i] + wd * p[i] : g[i];
        T bi = first ? d : b[i] * mom + damp1 * d;
        b[i] = bi;
        d = nest ? d + mom * bi : bi;
        p[i] = p[i] - lr * d;
    }
}

/* MindSpore ApplyMomentum: g += wd p; a = a momentum + g; p -= nesterov ? g lr + a momentum lr : lr a. */
static void F(momentum_run)(T *restrict p, const T *restrict g, T *restrict a, int64_t n, const ds_nn_opt *o) {
    const T lr = (T)o->lr, wd = (T)o->weight_decay, mom = (T)o->momentum;
    const int decay = o->weight_decay != 0, nest = o->nesterov;
    for (int64_t i = 0; i < n; i++) {
        T d = decay ? g[i] + wd * p[i] : g[i];
        T ai = a[i] * mom + d;
        a[i] = ai;
        p[i] = nest ? p[i] - (d * lr + ai * mom * lr) : p[i] - lr * ai;
    }
}

/* PyTorch Adam / AdamW (see ops/nn_ops.c), with the operation order of its CPU kernels; with amsgrad
 * (ams, a constant at each call site) vm = max(vm, v) replaces v in the denominator. */
static inline void F(adam_body)(T *restrict p, const T *restrict g, T *restrict m, T *restrict v, T *restrict vm,
                                int64_t n, const ds_nn_opt *o, const int ams) {
    const T wd = (T)o->weight_decay, keep = (T)(o->decoupled ? 1.0 - o->lr * o->weight_decay : 1.0);
    const T w1 = (T)(1.0 - o->beta1), w1c = (T)1 - w1, b2 = (T)o->beta2, w2 = (T)(1.0 - o->beta2);
    const T bc2 = (T)o->bc2_sqrt, eps = (T)o->eps, nstep = (T)(-o->step_size);
    const int coupled = !o->decoupled && o->weight_decay != 0, small = fabs(1.0 - o->beta1) < 0.5;
    for (int64_t i = 0; i < n; i++) {
        T gi = coupled ? g[i] + wd * p[i] : g[i];
        T pi = p[i] * keep; /* keep == 1 unless decoupled decay */
        T mi = m[i], diff = gi - mi;
        mi = small ? mi + w1 * diff : gi - diff * w1c; /* lerp(m, g, 1 - beta1) */
        T vi = v[i] * b2 + w2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        if (ams) vi = vm[i] = vm[i] >= vi ? vm[i] : vi;
        T den = SQRT(vi) / bc2 + eps;
        p[i] = pi + nstep * mi / den;
    }
}

static void F(adam_run)(T *p, const T *g, T *m, T *v, T *vm, int64_t n, const ds_nn_opt *o) {
    if (o->amsgrad) F(adam_body)(p, g, m, v, vm, n, o, 1);
    else F(adam_body)(p, g, m, v, NULL, n, o, 0);
}

static inline void F(opt_run)(int kind, T **a, int64_t n, const ds_nn_opt *o) {
    if (kind == DS_NN_SGD) F(sgd_run)(a[0], a[1], a[2], n, o);
    else if (kind == DS_NN_MOMENTUM) F(momentum_run)(a[0], a[1], a[2], n, o);
    else F(adam_run)(a[0], a[1], a[2], a[3], a[4], n, o);
}

#define NN_BLK 256
/* The update over one run: directly when every operand is contiguous, else through gathered blocks. */
static void F(opt_apply)(int kind, char **args, const int64_t *steps, int64_t n, const ds_nn_opt *o) {
    int nop = opt_nop(kind, o);
    bool contig = true;
    T *a[5] = {NULL};
    for (int k = 0; k < nop; k++) {
        contig &= steps[k] == (int64_t)sizeof(T);
        a[k] = (T *)args[k];
    }
    if (contig) {
        F(opt_run)(kind, a, n, o);
        return;
    }
    T buf[5][NN_BLK];
    for (int k = 0; k < nop; k++) a[k] = buf[k];
    for (int64_t i0 = 0; i0 < n; i0 += NN_BLK) {
        int64_t b = n - i0 < NN_BLK ? n - i0 : NN_BLK;
        for (int k = 0; k < nop; k++)
            for (int64_t i = 0; i < b; i++) buf[k][i] = *(const T *)(args[k] + (i0 + i) * steps[k]);
        F(opt_run)(kind, a, b, o);
        for (int k = 0; k < nop; k++)
            if (k != 1)
                for (int64_t i = 0; i < b; i++) *(T *)(args[k] + (i0 + i) * steps[k]) = buf[k][i];
    }
}
#undef NN_BLK
#undef F
#undef NN_CAT
#undef NN_CAT2
