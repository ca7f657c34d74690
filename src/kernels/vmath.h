/* Vectorizable math: branch-free float32/float64 versions of exp, log, tanh, sigmoid, erf, sin, cos
 * and gelu, written as straight-line code (selects, no calls, no data-dependent branches) so that GCC
 * auto-vectorizes a loop that calls them. libm calls do not vectorize.
 *
 * Accuracy (measured by tests/c/test_elementwise.c against libm over wide sweeps):
 *   float32: exp, log, sin, cos <= 1-2 ulp; tanh, sigmoid, erf, gelu <= 2-3 ulp.
 *   float64: exp, log, expm1, tanh, sigmoid ~1-2 ulp.
 * Special values follow libm: NaN propagates, exp(-inf) = 0, exp(+big) = inf, log(0) = -inf,
 * log(<0) = NaN, tanh/erf(+-inf) = +-1, sigmoid(-inf) = 0.
 * ds_vm_sinf/ds_vm_cosf are accurate for |x| <= DS_VM_TRIG_MAX only; callers route larger arguments
 * to libm (see ds_vm_trig_ok). Polynomials: Cephes (expf, logf, sinf, cosf, tanhf), fdlibm (log),
 * and fits of our own made with mpmath (erf). Compile with -fno-math-errno; never with -ffast-math
 * (the rounding tricks below rely on strict IEEE evaluation order). */
#ifndef DS_KERNELS_VMATH_H
#define DS_KERNELS_VMATH_H
#include <math.h>
#include <stdint.h>

/* ---------------------------------------------------------------- bit casts (vectorize fine) */
static inline uint32_t ds_vm_f2u(float f) {
    union { float f; uint32_t u; } c;
    c.f = f;
    return c.u;
}
static inline float ds_vm_u2f(uint32_t u) {
    union { float f; uint32_t u; } c;
    c.u = u;
    return c.f;
}
static inline uint64_t ds_vm_d2u(double d) {
    union { double d; uint64_t u; } c;
    c.d = d;
    return c.u;
}
static inline double ds_vm_u2d(uint64_t u) {
    union { double d; uint64_t u; } c;
    c.u = u;
    return c.d;
}
static inline float ds_vm_copysignf(float mag, float sgn) {
    return ds_vm_u2f((ds_vm_f2u(mag) & 0x7fffffffu) | (ds_vm_f2u(sgn) & 0x80000000u));
}
static inline double ds_vm_copysign(double mag, double sgn) {
    return ds_vm_u2d((ds_vm_d2u(mag) & 0x7fffffffffffffffull) | (ds_vm_d2u(sgn) & 0x8000000000000000ull));
}

/* ---------------------------------------------------------------- float32 */
/* e^x. */
static inline float ds_vm_expf(float x) {
    const float magic = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    x = x > 88.8f ? 88.8f : x;
    x = x < -104.0f ? -104.0f : x; /* NaN passes both (comparisons are false) */
    float kf = x * 1.44269504088896341f + magic;
    int32_t n = (int32_t)(ds_vm_f2u(kf) - ds_vm_f2u(magic));
    kf -= magic;
    float r = x - kf * 0.693359375f;
    r = r - kf * -2.12194440e-4f;
    float z = r * r;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * z + r + 1.0f;
    /* scale by 2^n in two steps so that results in the subnormal range round once */
    int32_t n1 = n >> 1, n2 = n - n1;
    float s1 = ds_vm_u2f((uint32_t)(n1 + 127) << 23), s2 = ds_vm_u2f((uint32_t)(n2 + 127) << 23);
    return p * s1 * s2;
}

/* Natural logarithm. */
static inline float ds_vm_logf(float x) {
    int sub = x < 1.17549435e-38f; /* subnormal (or <= 0: fixed by the selects at the end) */
    float xs = sub ? x * 8388608.0f : x;
    uint32_t u = ds_vm_f2u(xs);
    int32_t e = (int32_t)((u >> 23) & 0xffu) - 126 - (sub ? 23 : 0);
    float m = ds_vm_u2f((u & 0x007fffffu) | 0x3f000000u); /* [0.5, 1) */
    int small = m < 0.707106781186547524f;
    e = small ? e - 1 : e;
    m = small ? m + m - 1.0f : m - 1.0f;
    float fe = (float)e;
    float z = m * m;
    float y = 7.0376836292e-2f;
    y = y * m - 1.1514610310e-1f;
    y = y * m + 1.1676998740e-1f;
    y = y * m - 1.2420140846e-1f;
    y = y * m + 1.4249322787e-1f;
    y = y * m - 1.6668057665e-1f;
    y = y * m + 2.0000714765e-1f;
    y = y * m - 2.4999993993e-1f;
    y = y * m + 3.3333331174e-1f;
    y = y * m * z;
    y += -2.12194440e-4f * fe;
    y += -0.5f * z;
    float r = m + y;
    r += 0.693359375f * fe;
    r = x == INFINITY ? x : r;
    r = x == 0.0f ? -INFINITY : r;
    r = x < 0.0f ? NAN : r;
    return x != x ? x : r;
}

#define DS_VM_TRIG_MAX 6144.0f
/* True when ds_vm_sinf/ds_vm_cosf are accurate for x (false for |x| > DS_VM_TRIG_MAX and inf). */
static inline int ds_vm_trig_ok(float x) { return !(fabsf(x) > DS_VM_TRIG_MAX); }

/* Reduces x by pi/2: returns r in [-pi/4, pi/4] and the quadrant q. Four-part Cody-Waite constants;
 * the products q * C1..C3 are exact for |q| < 2^12 (|x| <= DS_VM_TRIG_MAX). */
static inline float ds_vm_trig_reduce(float x, int32_t *q) {
    const float magic = 12582912.0f;
    float kf = x * 0.636619772367581343f + magic;
    *q = (int32_t)(ds_vm_f2u(kf) - ds_vm_f2u(magic));
    kf -= magic;
    float r = x - kf * 1.5703125f;
    r = r - kf * 4.837512969970703125e-4f;
    r = r - kf * 7.549533620476722717e-8f;
    r = r - kf * 2.5633440682570896e-12f;
    return r;
}
static inline float ds_vm_sin_poly(float r, float z) {
    float p = -1.9515295891e-4f;
    p = p * z + 8.3321608736e-3f;
    p = p * z - 1.6666654611e-1f;
    return p * z * r + r;
}
static inline float ds_vm_cos_poly(float z) {
    float p = 2.443315711809948e-5f;
    p = p * z - 1.388731625493765e-3f;
    p = p * z + 4.166664568298827e-2f;
    return p * z * z - 0.5f * z + 1.0f;
}
/* sin x for |x| <= DS_VM_TRIG_MAX. */
static inline float ds_vm_sinf(float x) {
    int32_t q;
    float r = ds_vm_trig_reduce(x, &q);
    float z = r * r;
    float s = ds_vm_sin_poly(r, z), c = ds_vm_cos_poly(z);
    float v = (q & 1) ? c : s;
    return (q & 2) ? -v : v;
}
/* cos x for |x| <= DS_VM_TRIG_MAX. */
static inline float ds_vm_cosf(float x) {
    int32_t q;
    float r = ds_vm_trig_reduce(x, &q);
    float z = r * r;
    float s = ds_vm_sin_poly(r, z), c = ds_vm_cos_poly(z);
    float v = (q & 1) ? s : c;
    return ((q + 1) & 2) ? -v : v;
}

/* tanh x. */
static inline float ds_vm_tanhf(float x) {
    float ax = fabsf(x);
    float z = x * x;
    float p = -5.70498872745e-3f;
    p = p * z + 2.06390887954e-2f;
    p = p * z - 5.37397155531e-2f;
    p = p * z + 1.33314422036e-1f;
    p = p * z - 3.33332819422e-1f;
    p = p * z * x + x;
    float a = ax > 20.0f ? 20.0f : ax;
    float e = ds_vm_expf(a + a);
    float b = ds_vm_copysignf(1.0f - 2.0f / (e + 1.0f), x);
    return ax < 0.625f ? p : b;
}

/* 1 / (1 + e^-x), from e^-|x| so that neither tail loses accuracy. */
static inline float ds_vm_sigmoidf(float x) {
    float e = ds_vm_expf(-fabsf(x));
    return (x >= 0.0f ? 1.0f : e) / (1.0f + e);
}

/* ---------------------------------------------------------------- float64 */
/* e^x (|error| ~1 ulp). */
static inline double ds_vm_exp(double x) {
    const double magic = 6755399441055744.0; /* 1.5 * 2^52 */
    x = x > 709.8 ? 709.8 : x;
    x = x < -746.0 ? -746.0 : x;
    double kf = x * 1.4426950408889634074 + magic;
    int64_t n = (int64_t)(ds_vm_d2u(kf) - ds_vm_d2u(magic));
    kf -= magic;
    double r = x - kf * 6.93147180369123816490e-01;
    r = r - kf * 1.90821492927058770002e-10;
    double p = 1.0 / 6227020800.0;
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r * r + r + 1.0;
    int64_t n1 = n >> 1, n2 = n - n1;
    double s1 = ds_vm_u2d((uint64_t)(n1 + 1023) << 52), s2 = ds_vm_u2d((uint64_t)(n2 + 1023) << 52);
    return p * s1 * s2;
}

/* e^x - 1, accurate near 0 (used by tanh). Valid for x <= 709. */
static inline double ds_vm_expm1(double x) {
    const double magic = 6755399441055744.0;
    x = x < -40.0 ? -40.0 : x;
    x = x > 709.0 ? 709.0 : x;
    double kf = x * 1.4426950408889634074 + magic;
    int64_t n = (int64_t)(ds_vm_d2u(kf) - ds_vm_d2u(magic));
    kf -= magic;
    double r = x - kf * 6.93147180369123816490e-01;
    r = r - kf * 1.90821492927058770002e-10;
    double p = 1.0 / 6227020800.0; /* p(r) = (e^r - 1 - r) / r^2 */
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    double em = p * r * r + r; /* e^r - 1 */
    /* e^x - 1 = 2^n em + (2^n - 1); 2^n - 1 is exact for n <= 53, beyond it the -1 is lost anyway */
    int64_t n1 = n >> 1, n2 = n - n1;
    double s1 = ds_vm_u2d((uint64_t)(n1 + 1023) << 52), s2 = ds_vm_u2d((uint64_t)(n2 + 1023) << 52);
    return (em * s1 * s2) + (s1 * s2 - 1.0);
}

/* Natural logarithm (fdlibm's polynomial). */
static inline double ds_vm_log(double x) {
    int sub = x < 2.2250738585072014e-308;
    double xs = sub ? x * 18014398509481984.0 : x; /* 2^54 */
    uint64_t u = ds_vm_d2u(xs);
    /* the exponent as a double without an int64 -> double conversion (none in AVX2) */
    double e = ds_vm_u2d(0x4330000000000000ull | ((u >> 52) & 0x7ffu)) - 4503599627370496.0;
    e -= sub ? 1022.0 + 54.0 : 1022.0;
    double m = ds_vm_u2d((u & 0x000fffffffffffffull) | 0x3fe0000000000000ull); /* [0.5, 1) */
    int small = m < 0.70710678118654752440;
    e = small ? e - 1.0 : e;
    m = small ? m + m : m;
    double f = m - 1.0, k = e;
    double s = f / (2.0 + f), z = s * s, w = z * z;
    double t1 = w * (3.999999999940941908e-01 + w * (2.222219843214978396e-01 + w * 1.531383769920937332e-01));
    double t2 = z * (6.666666666666735130e-01 +
                     w * (2.857142874366239149e-01 + w * (1.818357216161805012e-01 + w * 1.479819860511658591e-01)));
    double R = t2 + t1, hfsq = 0.5 * f * f;
    double r = k * 6.93147180369123816490e-01 - ((hfsq - (s * (hfsq + R) + k * 1.90821492927058770002e-10)) - f);
    r = x == INFINITY ? x : r;
    r = x == 0.0 ? -INFINITY : r;
    r = x < 0.0 ? NAN : r;
    return x != x ? x : r;
}

/* tanh x = em / (em + 2) with em = e^{2|x|} - 1. */
static inline double ds_vm_tanh(double x) {
    double a = fabs(x);
    a = a > 20.0 ? 20.0 : a;
    double em = ds_vm_expm1(a + a);
    return ds_vm_copysign(em / (em + 2.0), x);
}

static inline double ds_vm_sigmoid(double x) {
    double e = ds_vm_exp(-fabs(x));
    return (x >= 0.0 ? 1.0 : e) / (1.0 + e);
}

/* ---------------------------------------------------------------- erf, gelu (float32) */
#define DS_VM_ERF_SPLIT 0.921875f
/* erfc(t) for t >= DS_VM_ERF_SPLIT (in double): w e^{-t^2 + H(w)}, w = 1 / (1 + t/2), H fit on
 * t in [0.92, 10.5] (|error| < 1e-9). Arguments above 10.5 are clamped (the result is < 1e-49). */
static inline double ds_vm_erfc_tail(double t) {
    t = t > 10.5 ? 10.5 : t;
    double w = 1.0 / (1.0 + 0.5 * t);
    double h = 0.21164472147788947029;
    h = h * w - 1.0343133027855558514;
    h = h * w + 1.9385394854880748447;
    h = h * w - 1.651408893949861726;
    h = h * w + 0.63271154858813010539;
    h = h * w - 0.33636841742174934491;
    h = h * w + 0.13602458109681468532;
    h = h * w + 0.36801638036544755947;
    h = h * w + 1.0005288416014812983;
    h = h * w - 1.265529541090145023;
    return w * ds_vm_exp(h - t * t);
}
/* (erf(x) / x - c0) / x^2 as a polynomial in s = x^2, for |x| < DS_VM_ERF_SPLIT; c0 = 2/sqrt(pi) is
 * applied in two parts (hi + lo) so that its rounding does not cost half an ulp. */
static inline float ds_vm_erf_q(float s) {
    float p = 8.392696327064186e-05f;
    p = p * s - 0.0008148506167344749f;
    p = p * s + 0.005201591644436121f;
    p = p * s - 0.026859646663069725f;
    p = p * s + 0.11283700168132782f;
    return p * s - 0.37612634897232056f;
}
static inline float ds_vm_erff(float x) {
    float ax = fabsf(x), s = x * x;
    float small = x * 1.128379225730896f + x * (s * ds_vm_erf_q(s) - 5.863538342219759e-08f);
    float big = ds_vm_copysignf((float)(1.0 - ds_vm_erfc_tail((double)ax)), x);
    return ax < DS_VM_ERF_SPLIT ? small : big;
}
/* erf(u) / u in double for |u| < DS_VM_ERF_SPLIT (|error| < 1e-12). */
static inline double ds_vm_erf_core_d(double s) {
    double p = 1.1310337775993317043e-6;
    p = p * s - 0.000014159484086379312575;
    p = p * s + 0.00011991749469512339064;
    p = p * s - 0.00085452084804750775278;
    p = p * s + 0.0052238871473800716905;
    p = p * s - 0.026866155840506358644;
    p = p * s + 0.11283791549306017174;
    p = p * s - 0.37612638899328963038;
    return p * s + 1.1283791670953112718;
}
/* gelu(x) = x/2 (1 + erf(x / sqrt 2)), computed in double; the negative tail uses erfc directly (no
 * cancellation). */
static inline float ds_vm_geluf(float x) {
    double u = (double)x * 0.70710678118654752440, au = fabs(u);
    double ec = ds_vm_erfc_tail(au);
    double phi_big = u >= 0.0 ? 2.0 - ec : ec;
    double phi_small = 1.0 + u * ds_vm_erf_core_d(u * u);
    double phi = au < (double)DS_VM_ERF_SPLIT ? phi_small : phi_big;
    float r = (float)(0.5 * (double)x * phi);
    r = x != x ? x : r;
    return x == -INFINITY ? -0.0f : r; /* the limit, not -inf * 0 */
}
#endif
