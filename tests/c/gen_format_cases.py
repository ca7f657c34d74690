#!/usr/bin/env python3
"""Generates tests/c/format_cases.h: golden cases for ds_tensor_format, taken from NumPy's str().

Each case is a view (dtype, shape, element strides, offset) over a 1-d base buffer. Only the base
elements that NumPy actually shows are stored; the C test fills every other base element with a
poison value (NaN, or the dtype's minimum), which also checks that hidden elements of summarised
arrays never influence the output.

bfloat16 has no NumPy dtype. Its expected strings come from `port_str`, a Python transcription of
NumPy's FloatingFormat with the float type's parameters made explicit. The transcription is first
checked against NumPy's own str() on thousands of float16/float32/float64 arrays, then applied to
bfloat16 (8 significand bits, finfo precision 2).

Usage: python3 tests/c/gen_format_cases.py  (rewrites tests/c/format_cases.h next to this file)
"""
import math
import os
import struct
import sys

import numpy as np
from numpy._core import arrayprint

# ----------------------------------------------------------------------------- float type model
FT = {
    # name: (significand bits, min normal exponent, array sci cutoff, scalar sci cutoff)
    "float16": (11, -14, 1e3, 1e3),
    "bfloat16": (8, -126, 1e2, 1e2),
    "float32": (24, -126, 1e6, 1e6),
    "float64": (53, -1022, 1e8, 1e16),
}


def bf16_round(x):
    """x -> float32 -> bfloat16 (round to nearest even), returned as a Python float."""
    with np.errstate(over="ignore"):
        f = np.float32(x)
    if np.isnan(f):
        return float("nan")
    b = struct.unpack("<I", struct.pack("<f", f))[0]
    b = ((b + 0x7FFF + ((b >> 16) & 1)) >> 16) << 16
    return struct.unpack("<f", struct.pack("<I", b & 0xFFFFFFFF))[0]


def round_to(name, x):
    with np.errstate(over="ignore"):
        if name == "float16":
            return float(np.float16(np.float32(x)))
        if name == "float32":
            return float(np.float32(x))
        if name == "bfloat16":
            return bf16_round(x)
    return float(x)


def ratio_in(name, mx, mn):
    if name == "float64":
        return mx / mn
    with np.errstate(over="ignore"):
        return round_to(name, np.float32(mx) / np.float32(mn))


def decompose(x, name):
    p, emin = FT[name][:2]
    a = abs(x)
    if a == 0:
        return 0, 0, False
    f, ex = math.frexp(a)
    if ex - 1 >= emin:
        m = int(math.ldexp(f, p))
        return m, ex - p, (m == 1 << (p - 1) and ex - 1 > emin)
    e = emin - p + 1
    return int(math.ldexp(a, -e)), e, False


def d4(m, e, uneq, total, cut_max, cut_min):
    """NumPy Dragon4 'unique' digits of m*2^e: (digit string, exponent of first digit)."""
    if m == 0:
        return "0", 0
    even = m % 2 == 0
    sh = 2 if uneq else 1
    if e > 0:
        r, s, ml = m << (e + sh), 1 << sh, 1 << e
    else:
        r, s, ml = m << sh, 1 << (sh - e), 1
    k = 0  # exact: 10^(k-1) <= r/s < 10^k
    while r >= s * 10 ** k if k >= 0 else r * 10 ** -k >= s:
        k += 1
    while (r * 10 < s * 10 ** k) if k >= 0 else (r * 10 * 10 ** -k < s):
        k -= 1
    if not total and cut_max >= 0 and k < 1 - cut_max:
        k = 1 - cut_max
    if k >= 0:
        s *= 10 ** k
    else:
        r *= 10 ** -k
        ml *= 10 ** -k
    mh = 2 * ml if uneq else ml
    max_exp, min_exp = k - 40, k
    if cut_max >= 0:
        max_exp = max(max_exp, k - cut_max if total else -cut_max)
    if cut_min >= 0:
        min_exp = min(min_exp, k - cut_min if total else -cut_min)
    digits, d = [], k
    while True:
        d -= 1
        r, ml, mh = r * 10, ml * 10, mh * 10
        digit, r = divmod(r, s)
        low = r <= ml if even else r < ml
        high = r + mh >= s if even else r + mh > s
        if ((low or high) and d <= min_exp) or d == max_exp:
            break
        digits.append(digit)
    down = low
    if low == high:
        down = 2 * r < s or (2 * r == s and digit % 2 == 0)
    exp10 = k - 1
    if down:
        digits.append(digit)
    elif digit < 9:
        digits.append(digit + 1)
    else:
        while digits and digits[-1] == 9:
            digits.pop()
        if digits:
            digits[-1] += 1
        else:
            digits, exp10 = [1], exp10 + 1
    return "".join(map(str, digits)), exp10


def positional(x, name, precision=-1, min_digits=-1, trim=".", pad_left=-1, pad_right=-1):
    m, e, uneq = decompose(x, name)
    dig, p10 = d4(m, e, uneq, False, precision, min_digits)
    sign = "-" if math.copysign(1, x) < 0 else ""
    if p10 >= 0:
        whole = p10 + 1
        if len(dig) <= whole:
            body, frac = dig + "0" * (whole - len(dig)), ""
        else:
            body, frac = dig[:whole], dig[whole:]
    else:
        body, frac = "0", "0" * (-(p10 + 1)) + dig
    if trim == "0" and not frac:
        frac = "0"
    if trim == "k":
        frac += "0" * max(0, min_digits - len(frac))
    if trim != "k":
        frac = frac.rstrip("0")
        if trim == "0" and not frac:
            frac = "0"
    point = "" if (trim == "-" and not frac) else "."
    s = body + point + frac
    if pad_right >= len(frac):
        s += (" " if point == "" else "") + " " * (pad_right - len(frac))
    return " " * max(0, pad_left - len(body) - len(sign)) + sign + s


def scientific(x, name, precision=-1, min_digits=-1, trim=".", pad_left=-1, exp_digits=-1):
    m, e, uneq = decompose(x, name)
    cmax = -1 if precision < 0 else precision + 1
    cmin = -1 if min_digits < 0 else min_digits + 1
    dig, p10 = d4(m, e, uneq, True, cmax, cmin)
    sign = "-" if math.copysign(1, x) < 0 else ""
    frac = dig[1:]
    if trim == "0" and not frac:
        frac = "0"
    if trim == "k":
        frac += "0" * max(0, min_digits - len(frac))
    if trim != "k" and frac:
        frac = frac.rstrip("0")
        if trim == "0" and not frac:
            frac = "0"
    point = "" if (trim == "-" and not dig[1:]) else "."
    ed = 2 if exp_digits < 0 else min(exp_digits, 5)
    ex = "e" + ("-" if p10 < 0 else "+") + str(abs(p10)).rjust(ed, "0")
    return " " * max(0, pad_left - 1 - len(sign)) + sign + dig[0] + point + frac + ex


def scalar_str(x, name):
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "-inf" if x < 0 else "inf"
    a = abs(x)
    if a == 0 or (1e-4 <= a < FT[name][3]):
        return positional(x, name, trim="0")
    return scientific(x, name, trim="-")


class FloatFmt:
    """NumPy's FloatingFormat (default options) for float type `name`."""

    def __init__(self, vals, name):
        self.name = name
        fin = [v for v in vals if math.isfinite(v)]
        nz = [abs(v) for v in fin if v != 0]
        self.sci = bool(nz) and (max(nz) >= FT[name][2] or min(nz) < round_to(name, 1e-4)
                                 or ratio_in(name, max(nz), min(nz)) > 1000.0)
        self.precision, self.min_digits, self.trim = 8, -1, "."
        self.pad_left = self.pad_right = 0
        self.exp_size = -1
        if fin and self.sci:
            strs = [scientific(v, name, 8) for v in fin]
            mant = [s.split("e")[0] for s in strs]
            self.exp_size = max(len(s.split("e")[1]) for s in strs) - 1
            self.precision = self.min_digits = max(len(s.split(".")[1]) for s in mant)
            self.trim = "k"
            self.pad_left = max(len(s.split(".")[0]) for s in mant)
            self.pad_right = self.exp_size + 2 + self.precision
        elif fin:
            strs = [positional(v, name, 8) for v in fin]
            self.pad_left = max(len(s.split(".")[0]) for s in strs)
            self.pad_right = max(len(s.split(".")[1]) for s in strs)
            self.min_digits = 0
        if len(fin) != len(vals):
            neginf = any(math.isinf(v) and v < 0 for v in vals)
            off = self.pad_right + 1
            self.pad_left = max(self.pad_left, 3 - off, 3 + neginf - off)

    def __call__(self, x):
        x = float(x)
        if not math.isfinite(x):
            s = "nan" if math.isnan(x) else ("-inf" if x < 0 else "inf")
            return s.rjust(self.pad_left + self.pad_right + 1)
        if self.sci:
            return scientific(x, self.name, self.precision, self.min_digits, self.trim,
                              self.pad_left, self.exp_size)
        return positional(x, self.name, self.precision, self.min_digits, self.trim,
                          self.pad_left, self.pad_right)


def port_str(a, name):
    """str(a) as NumPy would print it if `a`'s values were of float type `name`."""
    if a.size == 0:
        return "[]"
    if a.ndim == 0:
        return scalar_str(float(a), name)
    data, summary = a, ""
    if a.size > 1000:
        data, summary = arrayprint._leading_trailing(a, 3), "..."
    f = FloatFmt([float(v) for v in data.ravel()], name)
    return arrayprint._formatArray(a, f, 75, " ", " ", 3, summary, sys.maxsize)


# ----------------------------------------------------------------------------- random data
rng = np.random.default_rng(20240601)
FLOATS = ["float16", "bfloat16", "float32", "float64"]
INTS = ["int8", "uint8", "int16", "int32", "int64"]


def np_dtype(name):
    return np.float32 if name == "bfloat16" else np.dtype(name)


def cast(vals, name):
    vals = np.asarray(vals, dtype=np.float64)
    if name == "bfloat16":
        return np.array([bf16_round(v) for v in vals.ravel()], np.float32).reshape(vals.shape)
    with np.errstate(over="ignore", invalid="ignore"):
        return vals.astype(np_dtype(name))


def random_floats(shape, name, style):
    n = int(np.prod(shape))
    if style == "unit":
        v = rng.standard_normal(n)
    elif style == "mixed":
        v = rng.standard_normal(n) * 10.0 ** rng.integers(-6, 7, n)
    elif style == "round":
        v = rng.integers(-20, 21, n) / 4.0
    elif style == "special":
        v = rng.standard_normal(n) * 10.0 ** rng.integers(-2, 3, n)
        pick = rng.integers(0, 6, n)
        v = np.where(pick == 0, np.nan, np.where(pick == 1, np.inf, np.where(pick == 2, -np.inf, v)))
    else:  # wide: exponents over the whole type
        hi = {"float16": 4, "bfloat16": 37, "float32": 37, "float64": 300}[name]
        v = rng.standard_normal(n) * 10.0 ** rng.integers(-hi, hi + 1, n)
    return cast(v.reshape(shape), name)


def random_ints(shape, name):
    info = np.iinfo(name)
    lo, hi = int(info.min), int(info.max)
    span = rng.choice([10, 1000, 0])
    if span:
        lo, hi = max(lo, -span), min(hi, span)
    return rng.integers(lo, hi, size=shape, endpoint=True, dtype=np.int64).astype(name)


def validate_port():
    """The Python transcription must agree with NumPy on NumPy's own float types."""
    n = 0
    for name in ["float16", "float32", "float64"]:
        for style in ["unit", "mixed", "round", "special", "wide"]:
            for _ in range(60):
                shape = tuple(rng.integers(1, 5, rng.integers(0, 4)))
                a = random_floats(shape, name, style)
                assert port_str(a, name) == str(a), (name, a, port_str(a, name), str(a))
                n += 1
        for big in [(1001,), (40, 30), (11, 11, 11)]:
            a = random_floats(big, name, "mixed")
            assert port_str(a, name) == str(a)
            n += 1
    return n


# ----------------------------------------------------------------------------- cases
CASES = []


def add(name, view, dtype, base=None):
    """A case: `view` (a NumPy array, possibly a view of the 1-d `base`) printed as `dtype`."""
    if base is None:
        view = np.array(view, order="C", copy=True)
        base = view.reshape(-1)
    assert base.ndim == 1 and base.flags.c_contiguous
    isz = base.itemsize
    offset = (view.__array_interface__["data"][0] - base.__array_interface__["data"][0]) // isz
    strides = [s // isz for s in view.strides]
    if view.size > 1000:
        axes = [list(range(3)) + list(range(n - 3, n)) if n > 6 else list(range(n)) for n in view.shape]
    else:
        axes = [list(range(n)) for n in view.shape]
    pos = np.array([offset], dtype=np.int64)
    for ax, st in zip(axes, strides):
        pos = (pos[:, None] + np.array(ax, dtype=np.int64)[None, :] * st).reshape(-1)
    pos = np.unique(pos) if view.size else np.array([], dtype=np.int64)
    expected = port_str(view, "bfloat16") if dtype == "bfloat16" else str(view)
    if dtype != "bfloat16" and view.size:  # hidden elements must not matter
        poisoned = base.copy()
        hidden = np.ones(base.size, bool)
        hidden[pos] = False
        poisoned[hidden] = np.nan if dtype in FLOATS else (True if dtype == "bool" else np.iinfo(dtype).min)
        pv = np.ndarray(view.shape, base.dtype, poisoned, offset * isz, view.strides)
        assert str(pv) == expected, name
    CASES.append(dict(name=name, dtype=dtype, shape=list(view.shape), strides=strides, offset=offset,
                      nbase=base.size, idx=pos, vals=base[pos], expected=expected))


def build_cases():
    f32, f64, f16 = np.float32, np.float64, np.float16
    # seeds
    add("seed_full_2", np.full((1, 3, 3, 4), 2.0, f32), "float32")
    add("seed_902", np.array([[9.02, 5.4, 7.2000003], [9.02, 5.4, 7.2000003]], f32), "float32")
    # bool
    add("bool_row", np.array([True, False, True]), "bool")
    add("bool_all_true", np.ones((2, 3), bool), "bool")
    add("bool_0d_true", np.array(True), "bool")
    add("bool_0d_false", np.array(False), "bool")
    add("bool_big", rng.integers(0, 2, 2000).astype(bool), "bool")
    add("bool_wide", rng.integers(0, 2, (2, 30)).astype(bool), "bool")
    # integers
    add("int8_ext", np.array([-128, 0, 127], np.int8), "int8")
    add("uint8_ext", np.array([0, 255, 7], np.uint8), "uint8")
    add("int16_ext", np.array([[-32768, 5], [32767, -1]], np.int16), "int16")
    add("int32_ext", np.array([-2147483648, 2147483647], np.int32), "int32")
    add("int64_ext", np.array([-9223372036854775808, 9223372036854775807, 0], np.int64), "int64")
    add("int64_0d_min", np.array(-9223372036854775808, np.int64), "int64")
    add("int8_0d", np.array(-5, np.int8), "int8")
    add("uint8_0d", np.array(200, np.uint8), "uint8")
    add("int64_wide", np.arange(50, dtype=np.int64) * 10 ** 12, "int64")
    add("int32_big", np.arange(1600, dtype=np.int32).reshape(40, 40) - 800, "int32")
    add("int16_3d", np.arange(24, dtype=np.int16).reshape(2, 3, 4) - 12, "int16")
    add("uint8_big", (np.arange(3000) % 251).astype(np.uint8), "uint8")
    # floats: magnitude and threshold edges
    add("f64_tenths", np.array([0.1, 0.2, 0.1 + 0.2]), "float64")
    add("f64_1e8_edge", np.array([99999999.0, 100000.0]), "float64")
    add("f64_1e8", np.array([1e8, 1.0]), "float64")
    add("f64_1e-4", np.array([1e-4, 1e-3]), "float64")
    add("f64_below_1e-4", np.array([0.99999e-4, 1e-3]), "float64")
    add("f64_ratio_edge", np.array([1000.0, 1.0]), "float64")
    add("f64_ratio_over", np.array([1000.0000000000001, 1.0]), "float64")
    add("f64_extremes", np.array([5e-324, 2.2250738585072014e-308, 1.7976931348623157e308]), "float64")
    add("f64_exp3", np.array([1e-300, 1e300, 1.5]), "float64")
    add("f64_thirds", np.array([[1 / 3, 2 / 3], [-1 / 3, 10 / 3]]), "float64")
    add("f64_prec", np.array([0.123456789, 1.0]), "float64")
    add("f64_negzero", np.array([-0.0, 0.0, 1.0]), "float64")
    add("f64_zeros", np.zeros(4), "float64")
    add("f64_pow2", np.array([2.0 ** -20, 2.0 ** 30, 2.0 ** 60]), "float64")
    add("f32_tenths", np.array([0.1, 0.2, 0.3], f32), "float32")
    add("f32_1e6_edge", np.array([999999.0, 1000.0], f32), "float32")
    add("f32_1e6", np.array([1e6, 1.0], f32), "float32")
    add("f32_1e-4", np.array([1e-4, 1e-3], f32), "float32")
    add("f32_ratio", np.array([1000.0001, 1.0], f32), "float32")
    add("f32_min_digits", np.array([0.3, 1.2345678e-5], f32), "float32")
    add("f32_extremes", np.array([1e-45, 1.1754944e-38, 3.4028235e38], f32), "float32")
    add("f32_pi", np.array([np.pi, -np.e, 1e-3], f32), "float32")
    add("f16_basic", np.array([0.1, 1.5, -2.25], f16), "float16")
    add("f16_1000", np.array([1000, 1], f16), "float16")
    add("f16_999", np.array([999.5, 1], f16), "float16")
    add("f16_extremes", np.array([65504, -65504, 6e-8, 6.104e-5], f16), "float16")
    add("f16_1e-4", np.array([1e-4, 1e-3], f16), "float16")
    add("f16_ratio_round", np.array([500, 0.4998], f16), "float16")
    add("f16_ratio_round2", np.array([1000.0, 0.99951172], f16), "float16")
    add("f16_33216", np.array([33216.0, 1.0], f16), "float16")
    # non-finite
    add("f64_nan_inf", np.array([np.nan, np.inf, -np.inf]), "float64")
    add("f64_nan_only", np.array([np.nan, np.nan]), "float64")
    add("f64_neginf_only", np.array([-np.inf, np.inf]), "float64")
    add("f64_nan_mixed", np.array([np.nan, 1.5, -np.inf, 2.0]), "float64")
    add("f32_inf_sci", np.array([np.inf, 1e-7, 1.0], f32), "float32")
    add("f16_nan_sci", np.array([np.nan, 6e-8, 100.0], f16), "float16")
    # 0-d floats: the scalar's str
    for dt, vals in [(f64, [2.0, 0.1, 1e16, 9999999999999998.0, 1e-5, 1e-4, -0.0, np.nan, -np.inf, 1e22]),
                     (f32, [2.0, 1e6, 999999.0, 1e-4, 1.5e-5, 3.4e38, 1e-45, -0.0, 0.1, 123456789.0]),
                     (f16, [2.0, 1000.0, 999.5, 1e-4, 65504.0, 6e-8, np.inf, 0.1])]:
        for i, v in enumerate(vals):
            add(f"{np.dtype(dt).name}_0d_{i}", np.array(v, dt), np.dtype(dt).name)
    # empty
    add("empty_1d", np.zeros(0, f32), "float32")
    add("empty_0x3", np.zeros((0, 3), np.int32), "int32")
    add("empty_2x0x4", np.zeros((2, 0, 4), bool), "bool")
    # wrapping
    add("wrap_f64_arange", np.arange(30.0), "float64")
    add("wrap_f64_rand", rng.standard_normal(40), "float64")
    add("wrap_2d", rng.standard_normal((3, 20)).astype(f32), "float32")
    add("wrap_3d", (rng.standard_normal((2, 2, 15)) * 1e-6).astype(f64), "float64")
    add("wrap_int", np.arange(100, dtype=np.int64) ** 3, "int64")
    add("wrap_nan", np.where(np.arange(30) % 4 == 0, np.nan, np.arange(30.0)), "float64")
    # summarisation
    add("summ_f32_1001", np.arange(1001, dtype=f32), "float32")
    add("summ_f64_3d", rng.standard_normal((11, 11, 11)), "float64")
    add("summ_f64_rows", rng.standard_normal((3, 400)), "float64")
    add("summ_f32_7x200", (rng.standard_normal((7, 200)) * 1e5).astype(f32), "float32")
    add("summ_4d", rng.integers(-50, 50, (10, 10, 10, 10)).astype(np.int32), "int32")
    add("summ_f16", (np.arange(2000) / 7).astype(f16), "float16")
    add("summ_sci", np.geomspace(1e-10, 1e10, 1500), "float64")
    # nesting
    add("nest_3d", np.arange(12, dtype=f64).reshape(2, 2, 3) / 4, "float64")
    add("nest_4d", rng.integers(-9, 10, (2, 3, 4, 5)).astype(np.int8), "int8")
    add("nest_5d", np.arange(8, dtype=f32).reshape(2, 1, 2, 1, 2), "float32")
    add("nest_unit_dims", np.ones((1, 1, 1), f64), "float64")
    # non-contiguous views
    b = np.arange(24, dtype=f32) / 8
    add("view_transpose", b.reshape(4, 6).T, "float32", b)
    add("view_step", b[::3], "float32", b)
    add("view_reverse", b[::-1], "float32", b)
    add("view_2d_neg", b.reshape(4, 6)[::-2, 1::2], "float32", b)
    add("view_broadcast", np.broadcast_to(b[:4], (3, 4)), "float32", b)
    bi = np.arange(60, dtype=np.int64) - 30
    add("view_permute_3d", bi.reshape(3, 4, 5).transpose(2, 0, 1), "int64", bi)
    bb = rng.standard_normal(6000)
    add("view_summ", bb.reshape(60, 100)[::2, ::-1].T, "float64", bb)
    add("view_0d", b[5:6].reshape(()), "float32", b)
    # bfloat16 (expected from the validated transcription)
    bf = lambda v: cast(v, "bfloat16")
    add("bf16_basic", bf([0.1, 1.5, -2.25, 3.0]), "bfloat16")
    add("bf16_100", bf([100.0, 1.0]), "bfloat16")
    add("bf16_99", bf([99.0, 1.0, 0.5]), "bfloat16")
    add("bf16_pi", bf([np.pi, np.e, 0.001]), "bfloat16")
    add("bf16_big", bf([3.0e38, -1e-38, 1.0]), "bfloat16")
    add("bf16_ratio", bf([1000.0, 0.99]), "bfloat16")
    add("bf16_special", bf([np.nan, -np.inf, 0.25]), "bfloat16")
    add("bf16_summ", bf(np.arange(1200) / 3), "bfloat16")
    for i, v in enumerate([2.0, 0.1, 100.0, 99.5, 1e-4, 1e-5, 300.0, -0.0, np.nan, 3.0e38]):
        add(f"bf16_0d_{i}", bf(np.array(v)), "bfloat16")
    # random
    for name in FLOATS:
        for style in ["unit", "mixed", "round", "special", "wide"]:
            for j in range(4):
                shape = tuple(int(s) for s in rng.integers(1, 6, rng.integers(0, 4)))
                add(f"rand_{name}_{style}_{j}", random_floats(shape, name, style), name)
    for name in INTS:
        for j in range(5):
            shape = tuple(int(s) for s in rng.integers(1, 7, rng.integers(1, 4)))
            add(f"rand_{name}_{j}", random_ints(shape, name), name)


# ----------------------------------------------------------------------------- emit C
def c_float(v):
    v = float(v)
    if math.isnan(v):
        return "NAN"
    if math.isinf(v):
        return "-INFINITY" if v < 0 else "INFINITY"
    return v.hex()


def c_int(v):
    v = int(v)
    return "INT64_MIN" if v == -(1 << 63) else f"INT64_C({v})"


def c_string(s):
    lines = s.split("\n")
    parts = []
    for i, line in enumerate(lines):
        esc = line.replace("\\", "\\\\").replace('"', '\\"')
        parts.append('"' + esc + ("\\n" if i < len(lines) - 1 else "") + '"')
    return "\n        ".join(parts)


def wrap_list(items, per_line=6):
    rows = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    return "\n    " + ",\n    ".join(rows) + "\n"


def emit(path):
    out = [f"/* Generated by tests/c/gen_format_cases.py from NumPy {np.__version__}; do not edit. */",
           "#ifndef DS_FORMAT_CASES_H", "#define DS_FORMAT_CASES_H", "#include <math.h>",
           "#include <stdint.h>", "", '#include "dynastat.h"', "",
           "typedef struct fmt_case {",
           "    const char *name;",
           "    ds_dtype dtype;",
           "    int ndim;",
           "    int64_t shape[DS_MAX_DIMS];",
           "    int64_t strides[DS_MAX_DIMS]; /* elements */",
           "    int64_t offset;               /* base element of [0,...,0] */",
           "    int64_t nbase;                /* base buffer length in elements */",
           "    int64_t nvals;                /* stored (shown) elements */",
           "    const int64_t *idx;           /* their base positions (NULL: 0, 1, ...) */",
           "    const double *fvals;          /* float dtypes */",
           "    const int64_t *ivals;         /* bool and integer dtypes */",
           "    const char *expected;",
           "} fmt_case;", ""]
    rows = []
    for i, c in enumerate(CASES):
        n = len(c["idx"])
        idx = fv = iv = "NULL"
        if n and not np.array_equal(c["idx"], np.arange(c["nbase"])):
            out.append(f"static const int64_t fc{i}_idx[] = {{{wrap_list([str(int(p)) for p in c['idx']], 12)}}};")
            idx = f"fc{i}_idx"
        if n:
            if c["dtype"] in FLOATS:
                out.append(f"static const double fc{i}_v[] = {{{wrap_list([c_float(v) for v in c['vals']], 4)}}};")
                fv = f"fc{i}_v"
            else:
                out.append(f"static const int64_t fc{i}_v[] = {{{wrap_list([c_int(v) for v in c['vals']], 4)}}};")
                iv = f"fc{i}_v"
        dt = "DS_" + c["dtype"].upper()
        shape = "{" + (", ".join(map(str, c["shape"])) or "0") + "}"
        strides = "{" + (", ".join(map(str, c["strides"])) or "0") + "}"
        rows.append(f'    {{"{c["name"]}", {dt}, {len(c["shape"])}, {shape}, {strides}, {c["offset"]}, '
                    f'{c["nbase"]}, {n}, {idx}, {fv}, {iv},\n        {c_string(c["expected"])}}},')
    out.append("")
    out.append("static const fmt_case k_fmt_cases[] = {")
    out.extend(rows)
    out.append("};")
    out.append("#define FMT_NCASES ((int)(sizeof k_fmt_cases / sizeof k_fmt_cases[0]))")
    out.append("#endif")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    checked = validate_port()
    build_cases()
    here = os.path.dirname(os.path.abspath(__file__))
    emit(os.path.join(here, "format_cases.h"))
    print(f"validated the transcription on {checked} arrays; wrote {len(CASES)} cases")
