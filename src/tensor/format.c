/* ds_tensor_format: NumPy's str() of a tensor, byte for byte, under NumPy's default print options
 * (precision 8, threshold 1000, edgeitems 3, linewidth 75, floatmode 'maxprec', sign '-').
 *
 * Bottom to top: big unsigned integers; digit generation with NumPy's Dragon4 semantics (shortest
 * digits that identify the value within its dtype, with optional cutoffs, IEEE round-half-even);
 * positional / scientific layout with NumPy's trim and padding rules; the element formatters
 * (NumPy's FloatingFormat, IntegerFormat, BoolFormat) set up over the values that will be shown;
 * and the nested brackets with line wrapping and "..." summarisation (NumPy's _formatArray). */
#include "tensor/format.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/status.h"
#include "base/strbuf.h"
#include "tensor/dtype.h"
#include "tensor/tensor.h"

enum {
    FMT_PRECISION = 8, /* NumPy's default print options */
    FMT_THRESHOLD = 1000,
    FMT_EDGE = 3,
    FMT_LINEWIDTH = 75,
    FMT_ELEM_MAX = 128, /* longest element string, NUL included (the longest real one is ~30) */
    FMT_MAX_DIGITS = 40 /* digit buffer; unique digits of a binary64 never exceed 17 */
};

/* ---------------------------------------------------------------- big unsigned integers */
#define BIG_WORDS 48 /* 1536 bits; binary64 extremes need about 1100 */

typedef struct big {
    int n; /* words in use; w[n-1] != 0 (n == 0 is zero) */
    uint32_t w[BIG_WORDS];
} big;

static void big_set(big *a, uint64_t v) {
    a->n = 0;
    while (v) {
        a->w[a->n++] = (uint32_t)v;
        v >>= 32;
    }
}

static void big_trim(big *a) {
    while (a->n > 0 && a->w[a->n - 1] == 0) a->n--;
}

static void big_shl(big *a, int bits) {
    if (a->n == 0 || bits <= 0) return;
    int ws = bits / 32, b = bits % 32, n = a->n;
    DS_ASSERT(n + ws + 1 <= BIG_WORDS);
    if (b == 0) {
        for (int i = n - 1; i >= 0; i--) a->w[i + ws] = a->w[i];
    } else {
        a->w[n + ws] = a->w[n - 1] >> (32 - b);
        for (int i = n - 1; i > 0; i--) a->w[i + ws] = (a->w[i] << b) | (a->w[i - 1] >> (32 - b));
        a->w[ws] = a->w[0] << b;
        n++;
    }
    for (int i = 0; i < ws; i++) a->w[i] = 0;
    a->n = n + ws;
    big_trim(a);
}

static void big_mul_small(big *a, uint32_t k) {
    uint64_t carry = 0;
    for (int i = 0; i < a->n; i++) {
        uint64_t p = (uint64_t)a->w[i] * k + carry;
        a->w[i] = (uint32_t)p;
        carry = p >> 32;
    }
    if (carry) {
        DS_ASSERT(a->n < BIG_WORDS);
        a->w[a->n++] = (uint32_t)carry;
    }
}

static void big_mul_pow10(big *a, int e) {
    static const uint32_t p10[10] = {1,      10,      100,      1000,      10000,
                                     100000, 1000000, 10000000, 100000000, 1000000000};
    for (; e >= 9; e -= 9) big_mul_small(a, p10[9]);
    if (e > 0) big_mul_small(a, p10[e]);
}

static int big_cmp(const big *a, const big *b) {
    if (a->n != b->n) return a->n < b->n ? -1 : 1;
    for (int i = a->n - 1; i >= 0; i--)
        if (a->w[i] != b->w[i]) return a->w[i] < b->w[i] ? -1 : 1;
    return 0;
}

/* a -= b, requires a >= b. */
static void big_sub(big *a, const big *b) {
    int64_t borrow = 0;
    for (int i = 0; i < a->n; i++) {
        int64_t d = (int64_t)a->w[i] - (i < b->n ? b->w[i] : 0) - borrow;
        borrow = d < 0;
        a->w[i] = (uint32_t)(d + (borrow ? ((int64_t)1 << 32) : 0));
    }
    big_trim(a);
}

/* out = a + b (out distinct from a and b). */
static void big_add(big *out, const big *a, const big *b) {
    const big *l = a->n >= b->n ? a : b, *s = a->n >= b->n ? b : a;
    uint64_t carry = 0;
    for (int i = 0; i < l->n; i++) {
        uint64_t sum = (uint64_t)l->w[i] + (i < s->n ? s->w[i] : 0) + carry;
        out->w[i] = (uint32_t)sum;
        carry = sum >> 32;
    }
    out->n = l->n;
    if (carry) {
        DS_ASSERT(out->n < BIG_WORDS);
        out->w[out->n++] = 1;
    }
}

/* Returns floor(r / s) (< 10 by construction) and leaves the remainder in r. */
static uint32_t big_digit(big *r, const big *s) {
    uint32_t q = 0;
    while (big_cmp(r, s) >= 0) {
        big_sub(r, s);
        q++;
    }
    return q;
}

/* ---------------------------------------------------------------- digit generation */
/* A finite binary float of some dtype: |x| = m * 2^e. */
typedef struct fnum {
    uint64_t m;
    int e;
    bool neg;
    bool uneq; /* m is a power of two above the smallest normal: the gap below is half the one
                  above */
} fnum;

/* Per float dtype: significand bits, smallest normal exponent, and where NumPy switches to
 * scientific notation for arrays (10**min(8, finfo.precision)) and for 0-d values. */
typedef struct ftype {
    int p, emin;
    double sci_array, sci_scalar;
} ftype;

static const ftype k_f16 = {11, -14, 1e3, 1e3};
static const ftype k_bf16 = {8, -126, 1e2, 1e2};
static const ftype k_f32 = {24, -126, 1e6, 1e6};
static const ftype k_f64 = {53, -1022, 1e8, 1e16};

static const ftype *ftype_of(ds_dtype dt) {
    switch (dt) {
    case DS_FLOAT16: return &k_f16;
    case DS_BFLOAT16: return &k_bf16;
    case DS_FLOAT32: return &k_f32;
    default: return &k_f64;
    }
}

/* Splits a finite x (exactly representable in the dtype described by ft) into m * 2^e. */
static fnum fnum_of(double x, const ftype *ft) {
    fnum v = {0, 0, signbit(x) != 0, false};
    double a = fabs(x);
    if (a == 0) return v;
    int ex;
    double f = frexp(a, &ex); /* a = f * 2^ex, 0.5 <= f < 1 */
    if (ex - 1 >= ft->emin) {
        v.m = (uint64_t)ldexp(f, ft->p);
        v.e = ex - ft->p;
        v.uneq = v.m == (uint64_t)1 << (ft->p - 1) && ex - 1 > ft->emin;
    } else { /* subnormal in the dtype */
        v.e = ft->emin - ft->p + 1;
        v.m = (uint64_t)ldexp(a, -v.e);
    }
    return v;
}

/* Generates the decimal digits of |v| the way NumPy's Dragon4 does in "unique" mode: digits stop as
 * soon as they identify the value among its dtype neighbours (round-half-even boundaries included
 * when m is even), but never past the `cut_max` cutoff and never before the `cut_min` one. With
 * `total`, cutoffs count significant digits; otherwise digits after the decimal point (-1: none).
 * The last digit is rounded (closest, ties to even) unless only one direction stays unique.
 * Writes the digits (no NUL) to dig and the power of ten of the first one to *exp10; returns the
 * number of digits. */
static int d4_digits(const fnum *v, bool total, int cut_max, int cut_min, char *dig, int *exp10) {
    if (v->m == 0) {
        dig[0] = '0';
        *exp10 = 0;
        return 1;
    }
    /* x = r/s; the gaps to the neighbours halved are ml/s (below) and mh/s (above) */
    big r, s, ml, mh, t;
    const bool even = (v->m & 1) == 0;
    const int sh = v->uneq ? 2 : 1;
    big_set(&r, v->m);
    big_set(&s, 1);
    big_set(&ml, 1);
    if (v->e > 0) {
        big_shl(&r, v->e + sh);
        big_shl(&s, sh);
        big_shl(&ml, v->e);
    } else {
        big_shl(&r, sh);
        big_shl(&s, sh - v->e);
    }
    /* k = floor(log10 x) + 1; this estimate is exact or one too small */
    int top = 63;
    while (!(v->m >> top)) top--;
    int k = (int)ceil((double)(top + v->e) * 0.30102999566398119521 - 0.69);
    if (k > 0) big_mul_pow10(&s, k);
    else if (k < 0) {
        big_mul_pow10(&r, -k);
        big_mul_pow10(&ml, -k);
    }
    if (big_cmp(&r, &s) >= 0) {
        k++;
        big_mul_small(&s, 10);
    }
    if (!total && cut_max >= 0 && k < 1 - cut_max) { /* first digit sits past the cutoff */
        big_mul_pow10(&s, 1 - cut_max - k);
        k = 1 - cut_max;
    }
    mh = ml;
    if (v->uneq) big_shl(&mh, 1);
    int max_exp = k - FMT_MAX_DIGITS, min_exp = k;
    if (cut_max >= 0) {
        int want = total ? k - cut_max : -cut_max;
        if (want > max_exp) max_exp = want;
    }
    if (cut_min >= 0) {
        int want = total ? k - cut_min : -cut_min;
        if (want < min_exp) min_exp = want;
    }
    *exp10 = k - 1;

    int n = 0, d = k;
    uint32_t digit;
    bool low, high;
    for (;;) {
        d--;
        big_mul_small(&r, 10);
        big_mul_small(&ml, 10);
        big_mul_small(&mh, 10);
        digit = big_digit(&r, &s);
        big_add(&t, &r, &mh);
        int c = big_cmp(&r, &ml);
        low = even ? c <= 0 : c < 0;
        c = big_cmp(&t, &s);
        high = even ? c >= 0 : c > 0;
        if (((low || high) && d <= min_exp) || d == max_exp) break;
        dig[n++] = (char)('0' + digit);
    }
    bool down = low;
    if (low == high) { /* round to the closer of digit and digit+1 */
        big_shl(&r, 1);
        int c = big_cmp(&r, &s);
        down = c < 0 || (c == 0 && (digit & 1) == 0);
    }
    if (down) dig[n++] = (char)('0' + digit);
    else if (digit < 9) dig[n++] = (char)('0' + digit + 1);
    else { /* carry: drop trailing nines */
        while (n > 0 && dig[n - 1] == '9') n--;
        if (n == 0) {
            dig[n++] = '1';
            (*exp10)++;
        } else dig[n - 1]++;
    }
    return n;
}

/* ---------------------------------------------------------------- positional and scientific */
/* NumPy's trim modes: 'k' keep zeros, '.' trim zeros keep the point, '0' keep one zero after the
 * point, '-' trim zeros and the point. */
typedef enum trim_mode { TRIM_K, TRIM_DOT, TRIM_ZERO, TRIM_DASH } trim_mode;

/* Finishes the `frac` fraction digits that end b[0..*pos) (the point is already there, if any):
 * 'k' pads zeros up to min_digits, '0' keeps at least one digit, the other modes strip trailing
 * zeros, and '-' then drops a bare point when `drop_point` (positional does, scientific does not,
 * as in NumPy). Returns the final number of fraction digits. */
static int trim_fraction(char *b, int *pos, int frac, trim_mode trim, int min_digits,
                         bool drop_point) {
    if (trim == TRIM_ZERO && frac == 0) {
        b[(*pos)++] = '0';
        frac = 1;
    }
    if (trim == TRIM_K) {
        while (frac < min_digits) {
            b[(*pos)++] = '0';
            frac++;
        }
    } else if (frac > 0) {
        while (b[*pos - 1] == '0') {
            (*pos)--;
            frac--;
        }
        if (b[*pos - 1] == '.' && trim == TRIM_ZERO) {
            b[(*pos)++] = '0';
            frac++;
        } else if (b[*pos - 1] == '.' && trim == TRIM_DASH && drop_point) {
            (*pos)--;
        }
    }
    return frac;
}

/* np.format_float_positional(x, precision, unique=True, fractional=True, trim, sign=False,
 * pad_left, pad_right, min_digits), -1 meaning None. Writes a NUL-terminated string, returns its
 * length. */
static int fmt_positional(char *out, const fnum *v, int precision, int min_digits, trim_mode trim,
                          int pad_left, int pad_right) {
    char dig[FMT_MAX_DIGITS + 1], b[FMT_ELEM_MAX];
    int p10, nd = d4_digits(v, false, precision, min_digits, dig, &p10);
    int pos = 0, whole, frac = 0, sign = v->neg;
    if (sign) b[pos++] = '-';
    if (p10 >= 0) {
        whole = p10 + 1;
        if (nd <= whole) {
            memcpy(b + pos, dig, (size_t)nd);
            pos += nd;
            for (int i = nd; i < whole; i++) b[pos++] = '0';
        } else {
            memcpy(b + pos, dig, (size_t)whole);
            pos += whole;
            b[pos++] = '.';
            frac = nd - whole;
            memcpy(b + pos, dig + whole, (size_t)frac);
            pos += frac;
        }
    } else {
        int zeros = -(p10 + 1);
        whole = 1;
        b[pos++] = '0';
        b[pos++] = '.';
        for (int i = 0; i < zeros; i++) b[pos++] = '0';
        memcpy(b + pos, dig, (size_t)nd);
        pos += nd;
        frac = zeros + nd;
    }
    if (trim != TRIM_DASH && frac == 0) b[pos++] = '.';
    frac = trim_fraction(b, &pos, frac, trim, min_digits, true);
    if (pad_right >= frac) {
        if (trim == TRIM_DASH && frac == 0) b[pos++] = ' ';
        for (int i = frac; i < pad_right; i++) b[pos++] = ' ';
    }
    int shift = pad_left - (whole + sign), o = 0;
    for (int i = 0; i < shift; i++) out[o++] = ' ';
    DS_ASSERT(o + pos < FMT_ELEM_MAX);
    memcpy(out + o, b, (size_t)pos);
    out[o + pos] = '\0';
    return o + pos;
}

/* np.format_float_scientific(x, precision, unique=True, trim, sign=False, pad_left, exp_digits,
 * min_digits), -1 meaning None. Writes a NUL-terminated string, returns its length. */
static int fmt_scientific(char *out, const fnum *v, int precision, int min_digits, trim_mode trim,
                          int pad_left, int exp_digits) {
    char dig[FMT_MAX_DIGITS + 1];
    int p10, nd = d4_digits(v, true, precision < 0 ? -1 : precision + 1,
                            min_digits < 0 ? -1 : min_digits + 1, dig, &p10);
    int pos = 0, frac = nd - 1;
    for (int i = 1 + v->neg; i < pad_left; i++) out[pos++] = ' ';
    if (v->neg) out[pos++] = '-';
    out[pos++] = dig[0];
    if (frac > 0) {
        out[pos++] = '.';
        memcpy(out + pos, dig + 1, (size_t)frac);
        pos += frac;
    }
    if (trim != TRIM_DASH && frac == 0) out[pos++] = '.';
    trim_fraction(out, &pos, frac, trim, min_digits, false);
    int e = p10 < 0 ? -p10 : p10, want = exp_digits < 0 ? 2 : exp_digits > 5 ? 5 : exp_digits;
    char eb[8];
    int en = 0;
    do {
        eb[en++] = (char)('0' + e % 10);
        e /= 10;
    } while (e);
    while (en < want) eb[en++] = '0';
    out[pos++] = 'e';
    out[pos++] = p10 < 0 ? '-' : '+';
    while (en) out[pos++] = eb[--en];
    DS_ASSERT(pos < FMT_ELEM_MAX);
    out[pos] = '\0';
    return pos;
}

/* NumPy's str() of a float scalar: positional for 0 and 1e-4 <= |x| < the dtype's cutoff, with
 * one zero kept after the point ("2.0"); scientific otherwise without the point ("1e-05"). */
static int fmt_float_scalar(char *out, ds_dtype dt, double x) {
    if (isnan(x)) return snprintf(out, FMT_ELEM_MAX, "nan");
    if (isinf(x)) return snprintf(out, FMT_ELEM_MAX, x < 0 ? "-inf" : "inf");
    const ftype *ft = ftype_of(dt);
    fnum v = fnum_of(x, ft);
    double a = fabs(x);
    if (a == 0 || (a >= 1e-4 && a < ft->sci_scalar))
        return fmt_positional(out, &v, -1, -1, TRIM_ZERO, -1, -1);
    return fmt_scientific(out, &v, -1, -1, TRIM_DASH, -1, -1);
}

size_t ds_format_float_scalar(ds_dtype dt, double v, char *buf, size_t n) {
    char b[FMT_ELEM_MAX];
    size_t len = (size_t)fmt_float_scalar(b, dt, v);
    if (n > 0) {
        size_t c = len < n - 1 ? len : n - 1;
        memcpy(buf, b, c);
        buf[c] = '\0';
    }
    return len;
}

/* ---------------------------------------------------------------- element formatters */
/* x rounded to dt's precision (NumPy does its threshold arithmetic in the array's dtype). */
static double round_to(ds_dtype dt, double x) {
    switch (dt) {
    case DS_FLOAT16: return ds_half_to_f32(ds_f32_to_half((float)x));
    case DS_BFLOAT16: return ds_bf16_to_f32(ds_f32_to_bf16((float)x));
    case DS_FLOAT32: return (float)x;
    default: return x;
    }
}

/* max / min computed in dt (float16 and bfloat16 divide in float32 and round, as NumPy does). */
static double ratio_in(ds_dtype dt, double mx, double mn) {
    if (dt == DS_FLOAT64) return mx / mn;
    return round_to(dt, (double)((float)mx / (float)mn));
}

/* NumPy's FloatingFormat, set up over the values to be shown. */
typedef struct ffmt {
    ds_dtype dt;
    const ftype *ft;
    bool sci;
    int precision, min_digits, pad_left, pad_right, exp_size;
    trim_mode trim;
} ffmt;

static void ffmt_init(ffmt *f, ds_dtype dt, const double *x, int64_t n) {
    f->dt = dt;
    f->ft = ftype_of(dt);
    double mx = 0, mn = INFINITY;
    bool finite = false, nonfinite = false, neginf = false;
    for (int64_t i = 0; i < n; i++) {
        if (isfinite(x[i])) {
            double a = fabs(x[i]);
            finite = true;
            if (a != 0) {
                if (a > mx) mx = a;
                if (a < mn) mn = a;
            }
        } else {
            nonfinite = true;
            if (isinf(x[i]) && x[i] < 0) neginf = true;
        }
    }
    /* positional unless the nonzero magnitudes are too large, too small or too spread */
    f->sci = mn != INFINITY && (mx >= f->ft->sci_array || mn < round_to(dt, 1e-4) ||
                                ratio_in(dt, mx, mn) > 1000.0);
    f->precision = FMT_PRECISION;
    f->min_digits = -1;
    f->pad_left = f->pad_right = 0;
    f->exp_size = -1;
    f->trim = TRIM_DOT;
    /* first pass: widths of the integer, fraction and exponent parts */
    int wint = 0, wfrac = 0, wexp = 0;
    char b[FMT_ELEM_MAX];
    for (int64_t i = 0; finite && i < n; i++) {
        if (!isfinite(x[i])) continue;
        fnum v = fnum_of(x[i], f->ft);
        int len = f->sci ? fmt_scientific(b, &v, FMT_PRECISION, -1, TRIM_DOT, -1, -1)
                         : fmt_positional(b, &v, FMT_PRECISION, -1, TRIM_DOT, -1, -1);
        int dot = (int)(strchr(b, '.') - b), end = len;
        if (f->sci) {
            end = (int)(strchr(b, 'e') - b);
            if (len - end - 1 > wexp) wexp = len - end - 1;
        }
        if (dot > wint) wint = dot;
        if (end - dot - 1 > wfrac) wfrac = end - dot - 1;
    }
    if (finite && f->sci) {
        f->exp_size = wexp - 1;
        f->precision = f->min_digits = wfrac;
        f->trim = TRIM_K;
        f->pad_left = wint;
        f->pad_right = f->exp_size + 2 + f->precision;
    } else if (finite) {
        f->pad_left = wint;
        f->pad_right = wfrac;
        f->min_digits = 0;
    }
    if (nonfinite) { /* room for "nan", "inf", "-inf" */
        int off = f->pad_right + 1;
        if (3 - off > f->pad_left) f->pad_left = 3 - off;
        if (3 + neginf - off > f->pad_left) f->pad_left = 3 + neginf - off;
    }
}

static int ffmt_elem(const ffmt *f, double x, char *out) {
    if (!isfinite(x)) {
        const char *s = isnan(x) ? "nan" : x < 0 ? "-inf" : "inf";
        int w = f->pad_left + f->pad_right + 1;
        return snprintf(out, FMT_ELEM_MAX, "%*s", w < FMT_ELEM_MAX - 1 ? w : 0, s);
    }
    fnum v = fnum_of(x, f->ft);
    if (f->sci)
        return fmt_scientific(out, &v, f->precision, f->min_digits, f->trim, f->pad_left,
                              f->exp_size);
    return fmt_positional(out, &v, f->precision, f->min_digits, f->trim, f->pad_left,
                          f->pad_right);
}

/* ---------------------------------------------------------------- array layout */
typedef struct fmt_state {
    int ndim;
    int64_t vshape[DS_MAX_DIMS];  /* shape of the shown block (edges only on summarised axes) */
    int64_t vstride[DS_MAX_DIMS]; /* row-major strides of the shown block */
    bool summ[DS_MAX_DIMS];       /* axis prints "..." between its edges */
    ds_dtype dt;
    const double *fv;  /* shown values, float dtypes */
    const int64_t *iv; /* shown values, bool and integer dtypes */
    ffmt ff;
    int int_width;
    ds_strbuf *sb;
} fmt_state;

static int elem_str(const fmt_state *s, int64_t i, char *out) {
    if (s->dt == DS_BOOL) return snprintf(out, FMT_ELEM_MAX, "%s", s->iv[i] ? " True" : "False");
    if (s->fv) return ffmt_elem(&s->ff, s->fv[i], out);
    return snprintf(out, FMT_ELEM_MAX, "%*lld", s->int_width, (long long)s->iv[i]);
}

/* Appends a word to the current row, first wrapping when it would pass `limit` (NumPy's
 * _extendLine: never wrap a line holding only its indent). */
static void extend_line(fmt_state *s, int64_t *line, const char *w, int len, int limit, int hang) {
    ds_strbuf *sb = s->sb;
    if (sb->status != DS_OK) return;
    if (*line + len > limit && *line > hang) {
        size_t n = sb->len;
        while (n > 0 && sb->data[n - 1] == ' ') n--;
        ds_strbuf_truncate(sb, n);
        ds_strbuf_putc(sb, '\n');
        ds_strbuf_fill(sb, ' ', (size_t)hang);
        *line = hang;
    }
    ds_strbuf_append(sb, w, (size_t)len);
    *line += len;
}

/* Appends the block starting at shown element `base` of `axis`: NumPy's recurser with a hanging
 * indent of `hang` spaces and `width` columns. */
static void emit(fmt_state *s, int axis, int64_t base, int hang, int width) {
    ds_strbuf *sb = s->sb;
    int64_t n = s->vshape[axis];
    bool summ = s->summ[axis];
    char b[FMT_ELEM_MAX];
    ds_strbuf_putc(sb, '[');
    if (axis == s->ndim - 1) {
        int limit = width - 1; /* room for the closing bracket */
        int64_t line = hang;
        for (int64_t i = 0; i < n; i++) {
            int len = elem_str(s, base + i, b);
            extend_line(s, &line, b, len, limit, hang);
            if (i < n - 1) ds_strbuf_putc(sb, ' '), line++;
            if (summ && i == FMT_EDGE - 1) {
                extend_line(s, &line, "...", 3, limit, hang);
                ds_strbuf_putc(sb, ' '), line++;
            }
        }
    } else {
        size_t gaps = (size_t)(s->ndim - axis - 1); /* newlines between sub-blocks */
        for (int64_t i = 0; i < n; i++) {
            if (i > 0) ds_strbuf_fill(sb, ' ', (size_t)hang);
            emit(s, axis + 1, base + i * s->vstride[axis], hang + 1, width - 1);
            if (i < n - 1) ds_strbuf_fill(sb, '\n', gaps);
            if (summ && i == FMT_EDGE - 1) {
                ds_strbuf_fill(sb, ' ', (size_t)hang);
                ds_strbuf_puts(sb, "...");
                ds_strbuf_fill(sb, '\n', gaps);
            }
        }
    }
    ds_strbuf_putc(sb, ']');
}

/* str() of a 0-d tensor: the str of its scalar. */
static ds_status format_scalar(const ds_tensor *t, char **out) {
    char b[FMT_ELEM_MAX];
    if (t->dtype == DS_BOOL)
        snprintf(b, sizeof b, "%s", ds_dtype_load_int(t->dtype, t->data) ? "True" : "False");
    else if (ds_dtype_is_float(t->dtype))
        fmt_float_scalar(b, t->dtype, ds_dtype_load_double(t->dtype, t->data));
    else snprintf(b, sizeof b, "%lld", (long long)ds_dtype_load_int(t->dtype, t->data));
    char *s = ds_strdup(b);
    if (!s) return DS_ERR_NOMEM;
    *out = s;
    return DS_OK;
}

/* Copies the shown elements (all, or the edges of summarised axes) into fv or iv, row-major. */
static void gather(const ds_tensor *t, const fmt_state *s, int64_t nvis, double *fv, int64_t *iv) {
    int64_t idx[DS_MAX_DIMS] = {0};
    size_t es = ds_dtype_size(t->dtype);
    for (int64_t k = 0; k < nvis; k++) {
        int64_t off = 0;
        for (int d = 0; d < s->ndim; d++) {
            int64_t j = idx[d];
            if (s->summ[d] && j >= FMT_EDGE) j += t->shape[d] - 2 * FMT_EDGE;
            off += j * t->strides[d];
        }
        const char *p = t->data + off * (int64_t)es;
        if (fv) fv[k] = ds_dtype_load_double(t->dtype, p);
        else iv[k] = ds_dtype_load_int(t->dtype, p);
        for (int d = s->ndim - 1; d >= 0; d--) {
            if (++idx[d] < s->vshape[d]) break;
            idx[d] = 0;
        }
    }
}

ds_status ds_tensor_format(const ds_tensor *t, char **out) {
    if (!t || !out) return ds_errorf(DS_ERR_VALUE, "tensor_format: NULL argument");
    if ((unsigned)t->dtype >= DS_DTYPE_COUNT || t->ndim < 0 || t->ndim > DS_MAX_DIMS)
        return ds_errorf(DS_ERR_VALUE, "tensor_format: malformed tensor");
    int64_t numel = 1;
    for (int d = 0; d < t->ndim; d++) {
        if (t->shape[d] < 0)
            return ds_errorf(DS_ERR_VALUE, "tensor_format: shape has an unknown dim (%d)", d);
        numel *= t->shape[d];
    }
    if (numel == 0) { /* NumPy prints any empty array as [] */
        char *s = ds_strdup("[]");
        if (!s) return DS_ERR_NOMEM;
        *out = s;
        return DS_OK;
    }
    if (!t->data)
        return ds_errorf(DS_ERR_VALUE, "tensor_format: tensor has no data (declared only)");
    if (t->ndim == 0) return format_scalar(t, out);

    fmt_state s;
    memset(&s, 0, sizeof s);
    s.ndim = t->ndim;
    s.dt = t->dtype;
    bool summarise = numel > FMT_THRESHOLD;
    int64_t nvis = 1;
    for (int d = 0; d < t->ndim; d++) {
        s.summ[d] = summarise && t->shape[d] > 2 * FMT_EDGE;
        s.vshape[d] = s.summ[d] ? 2 * FMT_EDGE : t->shape[d];
        nvis *= s.vshape[d];
    }
    for (int d = t->ndim - 1; d >= 0; d--)
        s.vstride[d] = d == t->ndim - 1 ? 1 : s.vstride[d + 1] * s.vshape[d + 1];
    bool is_float = ds_dtype_is_float(t->dtype);
    void *vals = ds_malloc((size_t)nvis * 8);
    if (!vals) return DS_ERR_NOMEM;
    if (is_float) s.fv = vals;
    else s.iv = vals;
    gather(t, &s, nvis, is_float ? vals : NULL, is_float ? NULL : vals);
    if (is_float) ffmt_init(&s.ff, t->dtype, s.fv, nvis);
    else if (t->dtype != DS_BOOL) { /* width of the longest of max and min */
        int64_t mx = s.iv[0], mn = s.iv[0];
        for (int64_t i = 1; i < nvis; i++) {
            if (s.iv[i] > mx) mx = s.iv[i];
            if (s.iv[i] < mn) mn = s.iv[i];
        }
        int a = snprintf(NULL, 0, "%lld", (long long)mx);
        int b = snprintf(NULL, 0, "%lld", (long long)mn);
        s.int_width = a > b ? a : b;
    }
    ds_strbuf sb;
    ds_strbuf_init(&sb);
    s.sb = &sb;
    emit(&s, 0, 0, 1, FMT_LINEWIDTH);
    ds_free(vals);
    return ds_strbuf_finish(&sb, out);
}
