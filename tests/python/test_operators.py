"""Python operators on Tensors against NumPy, with dynastat's dtype rules (MindSpore 2.x / PyTorch):

* Tensor op Tensor: the promoted dtype -- the wider of the two in the order bool < int8 < uint8 < int16
  < int32 < int64 < float16 < bfloat16 < float32 < float64, except int8 + uint8 -> int16 and
  float16 + bfloat16 -> float32 (so int64 + float16 -> float16, unlike NumPy's float64).
* Tensor op Python scalar: the scalar is "weak": a float scalar keeps a float tensor's dtype and makes an
  int/bool tensor float32; an int scalar keeps the tensor's dtype (int64 for a bool tensor); a bool scalar
  keeps the tensor's dtype. (int tensor + 1.5 -> float32; float16 tensor * 2.5 -> float16.)
* `/` of integers or bools is float32; `//`, `%`, `**` of bools compute in int8 (as NumPy does);
  comparisons give bool; `&`, `|`, `^`, `~` need integer or bool operands; `-bool` and bool - bool are errors.
"""
import operator

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dynastat as ms
from dynastat import Tensor
from ops_testutil import ORDER, promote, scalar_dtype  # the rules of docs/dtypes.md, stated once

HYP = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

NP_NAMES = [d for d in ORDER if d != "bfloat16"]
FLOATS = {"float16", "bfloat16", "float32", "float64"}
INTS = {"int8", "uint8", "int16", "int32", "int64"}



ARITH = {
    "add": (operator.add, np.add),
    "sub": (operator.sub, np.subtract),
    "mul": (operator.mul, np.multiply),
    "truediv": (operator.truediv, np.true_divide),
    "floordiv": (operator.floordiv, np.floor_divide),
    "mod": (operator.mod, np.remainder),
    "pow": (operator.pow, np.power),
}
BITWISE = {
    "and": (operator.and_, np.bitwise_and),
    "or": (operator.or_, np.bitwise_or),
    "xor": (operator.xor, np.bitwise_xor),
}
COMPARE = {
    "lt": (operator.lt, np.less),
    "le": (operator.le, np.less_equal),
    "eq": (operator.eq, np.equal),
    "ne": (operator.ne, np.not_equal),
    "gt": (operator.gt, np.greater),
    "ge": (operator.ge, np.greater_equal),
}
ALL_OPS = {**ARITH, **BITWISE, **COMPARE}


def compute_and_result_dtype(op, a, b):
    """(compute dtype, result dtype), or None when the op must raise TypeError."""
    p = promote(a, b)
    if op in BITWISE and p in FLOATS:
        return None
    if op == "sub" and p == "bool":
        return None
    if op == "truediv" and p not in FLOATS:
        p = "float32"
    if op in ("floordiv", "mod", "pow") and p == "bool":
        p = "int8"
    if op in COMPARE:
        return p, "bool"
    return p, p


def tol(dtype):
    return {"float16": (2e-3, 1e-3), "bfloat16": (1e-2, 1e-2), "float32": (2e-6, 1e-6),
            "float64": (1e-12, 1e-12)}.get(dtype, (0, 0))


def np_dt(name):
    return np.float32 if name == "bfloat16" else np.dtype(name)


def values(dtype, shape, rng, op=None, rhs=False):
    """Operand values that stay in range for every op (no integer overflow, no zero divisors)."""
    n = int(np.prod(shape))
    if dtype == "bool":
        v = rng.integers(0, 2, n).astype(bool)
        if rhs and op in ("truediv", "floordiv", "mod"):
            v[:] = True
        return v.reshape(shape)
    if dtype in INTS:
        lo, hi = (0, 12) if dtype == "uint8" else (-10, 11)
        if op == "pow":
            lo, hi = (0, 4) if rhs else ((0, 6) if dtype == "uint8" else (-4, 5))
        v = rng.integers(lo, hi, n)
        if rhs and op in ("truediv", "floordiv", "mod"):
            v[v == 0] = 3
        return v.astype(dtype).reshape(shape)
    v = rng.integers(-40, 41, n) * 0.25  # exact in every float dtype
    if op == "pow":
        v = np.abs(v) + 0.5 if not rhs else rng.integers(-4, 5, n) * 0.5
    if rhs and op in ("truediv", "floordiv", "mod"):
        v[v == 0] = 1.5
    return v.astype(np_dt(dtype)).reshape(shape)


def make_tensor(arr, dtype):
    return Tensor(arr, dtype=dtype) if dtype == "bfloat16" else Tensor(arr)


def reference(op, a, b, cdt, rdt):
    """NumPy's result of op on a, b computed in cdt, as rdt."""
    f = ALL_OPS[op][1]
    na = np.asarray(a).astype(np_dt(cdt))
    nb = np.asarray(b).astype(np_dt(cdt))
    with np.errstate(all="ignore"):
        r = f(na, nb)
    if cdt == "bfloat16" and rdt == "bfloat16":  # round through bfloat16 by truncating mantissa bits
        r = Tensor(r.astype(np.float32), dtype=ms.bfloat16).asnumpy()
    return np.asarray(r).astype(np_dt(rdt))


def check(got, expect, rdt):
    assert isinstance(got, Tensor), type(got)
    assert got.dtype == rdt, f"dtype {got.dtype} != {rdt}"
    g = got.asnumpy()
    assert g.shape == expect.shape
    rtol, atol = tol(rdt)
    if rdt in FLOATS:
        np.testing.assert_allclose(g, expect, rtol=rtol, atol=atol, equal_nan=True)
    else:
        np.testing.assert_array_equal(g, expect)


# ---------------------------------------------------------------------------- strategies
@st.composite
def broadcast_shapes(draw):
    a = tuple(draw(st.lists(st.integers(1, 4), min_size=0, max_size=3)))
    k = draw(st.integers(0, len(a)))
    b = list(a[len(a) - k:])
    b = [1 if draw(st.booleans()) and draw(st.booleans()) else d for d in b]
    if draw(st.booleans()):
        a, b = tuple(b), a
    return tuple(a), tuple(b)


# ---------------------------------------------------------------------------- tensor op tensor
@HYP
@given(st.sampled_from(sorted(ALL_OPS)), st.sampled_from(ORDER), st.sampled_from(ORDER), broadcast_shapes(),
       st.integers(0, 2**32 - 1))
def test_tensor_tensor_random(op, da, db, shapes, seed):
    rng = np.random.default_rng(seed)
    sa, sb = shapes
    a = values(da, sa, rng, op)
    b = values(db, sb, rng, op, rhs=True)
    ta, tb = make_tensor(a, da), make_tensor(b, db)
    dts = compute_and_result_dtype(op, da, db)
    if dts is None:
        with pytest.raises(TypeError):
            ALL_OPS[op][0](ta, tb)
        return
    cdt, rdt = dts
    got = ALL_OPS[op][0](ta, tb)
    check(got, reference(op, ta.asnumpy(), tb.asnumpy(), cdt, rdt), rdt)


@pytest.mark.parametrize("op", sorted(ALL_OPS))
@pytest.mark.parametrize("dtype", ORDER)
def test_same_dtype_every_op(op, dtype):
    rng = np.random.default_rng(0)
    a = values(dtype, (3, 4), rng, op)
    b = values(dtype, (3, 4), rng, op, rhs=True)
    ta, tb = make_tensor(a, dtype), make_tensor(b, dtype)
    dts = compute_and_result_dtype(op, dtype, dtype)
    if dts is None:
        with pytest.raises(TypeError):
            ALL_OPS[op][0](ta, tb)
        return
    check(ALL_OPS[op][0](ta, tb), reference(op, ta.asnumpy(), tb.asnumpy(), *dts), dts[1])


@pytest.mark.parametrize(
    "da, db, expect",
    [
        ("int8", "uint8", "int16"), ("uint8", "int8", "int16"), ("uint8", "int16", "int16"),
        ("bool", "int8", "int8"), ("bool", "float16", "float16"), ("int32", "int64", "int64"),
        ("int64", "float16", "float16"), ("int32", "float32", "float32"), ("float16", "float32", "float32"),
        ("float16", "bfloat16", "float32"), ("bfloat16", "float32", "float32"), ("float32", "float64", "float64"),
        ("uint8", "uint8", "uint8"), ("bool", "bool", "bool"),
    ],
)
def test_promotion_table(da, db, expect):
    ta = make_tensor(np.ones(2, np_dt(da)), da)
    tb = make_tensor(np.ones(2, np_dt(db)), db)
    assert (ta + tb).dtype == expect
    assert (tb * ta).dtype == expect


def test_int_over_int_is_float32():
    a = Tensor([7, -7, 1], dtype=ms.int32)
    b = Tensor([2, 2, 3], dtype=ms.int32)
    r = a / b
    assert r.dtype == ms.float32
    np.testing.assert_allclose(r.asnumpy(), [3.5, -3.5, 1 / 3], rtol=1e-6)
    assert (Tensor([True]) / Tensor([True])).dtype == ms.float32


def test_floor_div_and_mod_follow_python_signs():
    a = np.array([7, -7, 7, -7, 0], dtype=np.int64)
    b = np.array([2, 2, -2, -2, 3], dtype=np.int64)
    np.testing.assert_array_equal((Tensor(a) // Tensor(b)).asnumpy(), a // b)
    np.testing.assert_array_equal((Tensor(a) % Tensor(b)).asnumpy(), a % b)
    fa, fb = a.astype(np.float32) + 0.5, b.astype(np.float32)
    np.testing.assert_array_equal((Tensor(fa) // Tensor(fb)).asnumpy(), fa // fb)
    np.testing.assert_allclose((Tensor(fa) % Tensor(fb)).asnumpy(), fa % fb)


def test_integer_division_by_zero_is_numpys():
    a = np.array([5, -5, 0], dtype=np.int32)
    z = np.zeros(3, dtype=np.int32)
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal((Tensor(a) // Tensor(z)).asnumpy(), a // z)
        np.testing.assert_array_equal((Tensor(a) % Tensor(z)).asnumpy(), a % z)
    mn = np.array([np.iinfo(np.int64).min], dtype=np.int64)
    m1 = np.array([-1], dtype=np.int64)
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal((Tensor(mn) // Tensor(m1)).asnumpy(), mn // m1)
        np.testing.assert_array_equal((Tensor(mn) % Tensor(m1)).asnumpy(), mn % m1)


def test_float_division_by_zero():
    a = np.array([1.0, -1.0, 0.0], dtype=np.float32)
    z = np.zeros(3, np.float32)
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal((Tensor(a) / Tensor(z)).asnumpy(), a / z)
        np.testing.assert_array_equal((Tensor(a) // Tensor(z)).asnumpy(), a // z)
        np.testing.assert_array_equal((Tensor(a) % Tensor(z)).asnumpy(), a % z)


def test_special_float_values():
    a = np.array([np.inf, -np.inf, np.nan, 0.0, -0.0], dtype=np.float32)
    b = np.array([1.0, np.inf, 2.0, -0.0, np.nan], dtype=np.float32)
    for op in ("add", "sub", "mul", "truediv", "lt", "eq", "ne", "ge"):
        with np.errstate(all="ignore"):
            expect = ALL_OPS[op][1](a, b)
        got = ALL_OPS[op][0](Tensor(a), Tensor(b)).asnumpy()
        np.testing.assert_array_equal(got, expect, err_msg=op)


def test_noncontiguous_and_broadcast_operands():
    a = np.arange(24, dtype=np.float32).reshape(4, 6)
    b = np.arange(4, dtype=np.float32)[::-1]
    ta = Tensor(a)
    np.testing.assert_array_equal((ta.T * Tensor(b)).asnumpy(), a.T * b)
    np.testing.assert_array_equal((ta[::2, ::-3] + ta[1::2, 1::3]).asnumpy(), a[::2, ::-3] + a[1::2, 1::3])
    np.testing.assert_array_equal((ta[:, :1] - ta[:1, :]).asnumpy(), a[:, :1] - a[:1, :])


def test_large_operands_match():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((300, 257)).astype(np.float32)
    b = rng.standard_normal((257,)).astype(np.float32)
    for op in ("add", "sub", "mul", "truediv", "gt"):
        f, nf = ALL_OPS[op]
        np.testing.assert_allclose(f(Tensor(a), Tensor(b)).asnumpy(), nf(a, b), rtol=1e-6)
        np.testing.assert_allclose(f(Tensor(a).T, Tensor(a[:, :1].T)).asnumpy(), nf(a.T, a[:, :1].T), rtol=1e-6)


@st.composite
def long_operands(draw):
    """Lengths that cross SIMD vector widths and tails, rows/columns broadcast, a transposed operand."""
    n = draw(st.integers(1, 140))
    kind = draw(st.sampled_from(["same", "scalar", "row", "col", "transposed"]))
    m = draw(st.integers(1, 9))
    return {"same": ((n,), (n,)), "scalar": ((n,), ()), "row": ((m, n), (n,)), "col": ((m, n), (m, 1)),
            "transposed": ((n, m), (n, m))}[kind], kind == "transposed"


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(sorted(ALL_OPS)), st.sampled_from(ORDER), st.sampled_from(ORDER), long_operands(),
       st.integers(0, 2**32 - 1))
def test_tensor_tensor_long_and_strided(op, da, db, operands, seed):
    rng = np.random.default_rng(seed)
    (sa, sb), transposed = operands
    a = values(da, sa, rng, op)
    b = values(db, sb, rng, op, rhs=True)
    ta, tb = make_tensor(a, da), make_tensor(b, db)
    if transposed:
        ta = make_tensor(np.ascontiguousarray(a.T), da).T
    dts = compute_and_result_dtype(op, da, db)
    if dts is None:
        with pytest.raises(TypeError):
            ALL_OPS[op][0](ta, tb)
        return
    check(ALL_OPS[op][0](ta, tb), reference(op, ta.asnumpy(), tb.asnumpy(), *dts), dts[1])


# ---------------------------------------------------------------------------- tensor op scalar, reflected
scalars = st.one_of(st.integers(-5, 5), st.sampled_from([0.5, -1.25, 2.5, 3.0, -0.75]), st.booleans())


@HYP
@given(st.sampled_from(sorted(ALL_OPS)), st.sampled_from(ORDER), scalars, st.booleans(),
       st.lists(st.integers(1, 4), max_size=3).map(tuple), st.integers(0, 2**32 - 1))
def test_tensor_scalar_random(op, dt, s, reflected, shape, seed):
    rng = np.random.default_rng(seed)
    a = values(dt, shape, rng, op, rhs=reflected)
    if op in ("truediv", "floordiv", "mod") and not reflected and s == 0:
        s = 3 if isinstance(s, int) and not isinstance(s, bool) else (True if isinstance(s, bool) else 1.5)
    if op == "pow" and not reflected and isinstance(s, int) and not isinstance(s, bool):
        s = abs(s) % 4  # no negative integer powers of integers, no int8 overflow
    if op == "pow" and reflected and not isinstance(s, bool):
        s = abs(s) % 3 + 1 if isinstance(s, int) else abs(s) + 1  # positive bases, no int8 overflow
    if dt == "uint8" and isinstance(s, int) and not isinstance(s, bool) and s < 0:
        s = -s
    t = make_tensor(a, dt)
    sdt = scalar_dtype(s, dt)
    dts = compute_and_result_dtype(op, sdt, dt) if reflected else compute_and_result_dtype(op, dt, sdt)
    f = ALL_OPS[op][0]
    call = (lambda: f(s, t)) if reflected else (lambda: f(t, s))
    if dts is None:
        with pytest.raises(TypeError):
            call()
        return
    cdt, rdt = dts
    sv = np.array(s).astype(np_dt(sdt))
    expect = reference(op, sv, t.asnumpy(), cdt, rdt) if reflected else reference(op, t.asnumpy(), sv, cdt, rdt)
    check(call(), expect, rdt)


@pytest.mark.parametrize(
    "tdt, scalar, expect",
    [
        ("int32", 1.5, "float32"), ("int64", 2.5, "float32"), ("int8", 0.5, "float32"), ("bool", 1.5, "float32"),
        ("float16", 2.5, "float16"), ("float64", 2.5, "float64"), ("bfloat16", 2.5, "bfloat16"),
        ("int8", 3, "int8"), ("uint8", 3, "uint8"), ("int16", 3, "int16"), ("float16", 3, "float16"),
        ("bool", 3, "int64"), ("bool", True, "bool"), ("int8", True, "int8"), ("float32", True, "float32"),
    ],
)
def test_scalar_promotion(tdt, scalar, expect):
    t = make_tensor(np.ones(3, np_dt(tdt)), tdt)
    assert (t + scalar).dtype == expect
    assert (scalar + t).dtype == expect
    assert (t * scalar).dtype == expect
    assert (scalar * t).dtype == expect


def test_float16_times_scalar_stays_float16():
    a = np.array([1.0, 2.0, -3.5], dtype=np.float16)
    r = Tensor(a) * 2.5
    assert r.dtype == ms.float16
    np.testing.assert_array_equal(r.asnumpy(), a * np.float16(2.5))


def test_int_tensor_plus_float_scalar():
    r = Tensor([1, 2, 3], dtype=ms.int32) + 0.5
    assert r.dtype == ms.float32
    np.testing.assert_array_equal(r.asnumpy(), [1.5, 2.5, 3.5])


def test_int_scalar_out_of_range_for_tensor_dtype():
    """NumPy 2 raises OverflowError for int8_array + 1000; silently wrapping 1000 to -24 is wrong."""
    t = Tensor(np.array([1, 2], dtype=np.int8))
    try:
        r = t + 1000
    except OverflowError:
        return
    np.testing.assert_array_equal(r.asnumpy().astype(np.int64), [1001, 1002])


def test_reflected_with_numpy_arrays_on_the_left():
    a = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32)
    t = Tensor(np.array([0.5, 2.0], dtype=np.float32))
    for op in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "lt", "eq", "ge"):
        f, nf = ALL_OPS[op]
        r = f(a, t)
        assert isinstance(r, Tensor), op  # NumPy defers to the Tensor (__array_ufunc__ = None)
        np.testing.assert_allclose(r.asnumpy(), nf(a, t.asnumpy()), rtol=1e-6, err_msg=op)
    r = a @ Tensor(np.eye(2, dtype=np.float32))
    assert isinstance(r, Tensor)
    np.testing.assert_array_equal(r.asnumpy(), a)


def test_numpy_array_dtype_promotes_like_a_tensor():
    r = np.array([1, 2], dtype=np.int8) + Tensor(np.array([1, 2], dtype=np.uint8))
    assert r.dtype == ms.int16
    r = Tensor([1.0, 2.0]) + np.array([1.0, 2.0])  # float64 array is a strong float64 operand
    assert r.dtype == ms.float64


def test_numpy_scalars():
    t = Tensor(np.array([1, 2], dtype=np.int32))
    r = np.float32(0.5) + t
    assert isinstance(r, Tensor) and r.dtype == ms.float32
    np.testing.assert_array_equal(r.asnumpy(), [1.5, 2.5])
    r = t * np.int32(3)
    assert isinstance(r, Tensor) and r.dtype == ms.int32
    np.testing.assert_array_equal(r.asnumpy(), [3, 6])


def test_python_lists_as_operands():
    t = Tensor([1.0, 2.0, 3.0])
    r = [1, 2, 3] + t
    assert isinstance(r, Tensor) and r.dtype == ms.float32
    np.testing.assert_array_equal(r.asnumpy(), [2.0, 4.0, 6.0])
    np.testing.assert_array_equal((t * [2.0, 0.5, 1.0]).asnumpy(), [2.0, 1.0, 3.0])
    np.testing.assert_array_equal((t < [2, 2, 2]).asnumpy(), [True, False, False])


def test_python_tuples_as_operands():
    t = Tensor([1.0, 2.0, 3.0])
    np.testing.assert_array_equal((t + (1.0, 2.0, 3.0)).asnumpy(), [2.0, 4.0, 6.0])
    np.testing.assert_array_equal(((1, 1, 2) * t).asnumpy(), [1.0, 2.0, 6.0])


def test_tensor_subclass_results():
    class Sub(Tensor):
        pass

    r = Sub([1.0]) + Sub([2.0])
    assert isinstance(r, Tensor)
    assert r.asnumpy().tolist() == [3.0]


def test_inplace_operators_give_the_right_values():
    t = Tensor(np.array([1.0, 2.0], dtype=np.float32))
    t += 1
    t *= Tensor([2.0, 3.0])
    t -= 0.5
    t /= 2
    t **= 2
    np.testing.assert_allclose(t.asnumpy(), ((np.array([1.0, 2.0]) + 1) * [2.0, 3.0] - 0.5) ** 2 / 4, rtol=1e-6)
    i = Tensor([5, 6], dtype=ms.int32)
    i //= 2
    i %= 2
    i |= Tensor([2, 2], dtype=ms.int32)
    i &= 3
    i ^= 1
    np.testing.assert_array_equal(i.asnumpy(), (((np.array([5, 6]) // 2) % 2 | 2) & 3) ^ 1)


# ---------------------------------------------------------------------------- unary operators
@pytest.mark.parametrize("dtype", ORDER)
def test_unary(dtype):
    rng = np.random.default_rng(3)
    a = values(dtype, (2, 5), rng)
    t = make_tensor(a, dtype)
    a = t.asnumpy()
    # negation
    if dtype == "bool":
        with pytest.raises(TypeError, match="bool"):
            -t
    else:
        r = -t
        assert r.dtype == dtype
        np.testing.assert_array_equal(r.asnumpy(), -a.astype(np_dt(dtype)))
    # abs
    r = abs(t)
    assert r.dtype == dtype
    np.testing.assert_array_equal(r.asnumpy(), np.abs(a))
    # invert
    if dtype in FLOATS:
        with pytest.raises(TypeError):
            ~t
    else:
        r = ~t
        assert r.dtype == dtype
        np.testing.assert_array_equal(r.asnumpy(), ~a)
    # positive
    r = +t
    assert isinstance(r, Tensor) and r.dtype == dtype
    np.testing.assert_array_equal(r.asnumpy(), a)


def test_unary_on_views():
    a = np.arange(-6, 6, dtype=np.int16).reshape(3, 4)
    t = Tensor(a)
    np.testing.assert_array_equal((-t.T[::-1]).asnumpy(), -a.T[::-1])
    np.testing.assert_array_equal(abs(t[:, ::2]).asnumpy(), np.abs(a[:, ::2]))
    np.testing.assert_array_equal((~t[1]).asnumpy(), ~a[1])


def test_abs_of_min_int_wraps_like_numpy():
    a = np.array([-128, 127, 0], dtype=np.int8)
    np.testing.assert_array_equal(abs(Tensor(a)).asnumpy(), np.abs(a))


# ---------------------------------------------------------------------------- bool & | ^
def test_bool_bitwise_ops():
    a = np.array([True, True, False, False])
    b = np.array([True, False, True, False])
    for op in ("and", "or", "xor"):
        f, nf = BITWISE[op]
        r = f(Tensor(a), Tensor(b))
        assert r.dtype == ms.bool_
        np.testing.assert_array_equal(r.asnumpy(), nf(a, b))
        r = f(Tensor(a), True)
        assert r.dtype == ms.bool_
        np.testing.assert_array_equal(r.asnumpy(), nf(a, True))
        r = f(False, Tensor(a))
        assert r.dtype == ms.bool_
        np.testing.assert_array_equal(r.asnumpy(), nf(False, a))
    r = ~Tensor(a)
    assert r.dtype == ms.bool_
    np.testing.assert_array_equal(r.asnumpy(), ~a)


def test_masks_combine():
    x = Tensor(np.arange(10, dtype=np.float32))
    m = (x > 2) & (x < 7) | (x == 9)
    assert m.dtype == ms.bool_
    xa = np.arange(10)
    np.testing.assert_array_equal(m.asnumpy(), (xa > 2) & (xa < 7) | (xa == 9))


def test_int_bitwise_with_mixed_widths():
    a = np.array([0x0F, 0x70, -1], dtype=np.int8)
    b = np.array([0x1F0, 0x0F, 3], dtype=np.int16)
    for op in ("and", "or", "xor"):
        f, nf = BITWISE[op]
        r = f(Tensor(a), Tensor(b))
        assert r.dtype == ms.int16
        np.testing.assert_array_equal(r.asnumpy(), nf(a, b))


# ---------------------------------------------------------------------------- comparisons
def test_comparisons_with_scalars_both_sides():
    a = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32)
    t = Tensor(a)
    for op, (f, nf) in COMPARE.items():
        r = f(t, 2.5)
        assert r.dtype == ms.bool_
        np.testing.assert_array_equal(r.asnumpy(), nf(a, 2.5))
        r = f(2, t)
        assert isinstance(r, Tensor) and r.dtype == ms.bool_, op
        np.testing.assert_array_equal(r.asnumpy(), nf(2, a))


def test_compare_int_tensor_with_float_scalar_is_exact():
    t = Tensor(np.array([1, 2, 3], dtype=np.int32))
    np.testing.assert_array_equal((t > 1.5).asnumpy(), [False, True, True])
    np.testing.assert_array_equal((t == 2.0).asnumpy(), [False, True, False])


def test_compare_with_none():
    t = Tensor([1.0, 2.0])
    assert (t == None) is False  # noqa: E711
    assert (t != None) is True  # noqa: E711
    assert (None == t) is False  # noqa: E711
    assert (None != t) is True  # noqa: E711
    assert t is not None
    with pytest.raises(TypeError):
        t < None


def test_compare_with_unrelated_objects():
    t = Tensor([1.0, 2.0])
    assert (t == "abc") is False
    assert (t != "abc") is True
    assert (t == object()) is False
    with pytest.raises(TypeError):
        t < "abc"


# ---------------------------------------------------------------------------- matmul
MATMUL_SHAPES = [
    ((3, 4), (4, 5)), ((4,), (4, 5)), ((3, 4), (4,)), ((4,), (4,)), ((2, 3, 4), (4, 5)), ((3, 4), (2, 4, 5)),
    ((2, 1, 3, 4), (5, 4, 2)), ((1, 1), (1, 1)), ((0, 4), (4, 3)), ((3, 0), (0, 2)),
]


@pytest.mark.parametrize("sa, sb", MATMUL_SHAPES, ids=str)
@pytest.mark.parametrize("da, db", [("float32", "float32"), ("float64", "float64"), ("float16", "float16"),
                                    ("int32", "int32"), ("int64", "int8"), ("float32", "float64"),
                                    ("int32", "float32"), ("bfloat16", "bfloat16")])
def test_matmul(sa, sb, da, db):
    rng = np.random.default_rng(7)
    a = values(da, sa, rng)
    b = values(db, sb, rng)
    ta, tb = make_tensor(a, da), make_tensor(b, db)
    rdt = promote(da, db)
    r = ta @ tb
    expect = np.matmul(ta.asnumpy().astype(np.float64), tb.asnumpy().astype(np.float64))
    assert r.dtype == rdt
    assert r.shape == expect.shape
    rtol = {"float16": 1e-2, "bfloat16": 3e-2, "float32": 1e-5}.get(rdt, 1e-12)
    np.testing.assert_allclose(r.asnumpy().astype(np.float64), expect.astype(np_dt(rdt)).astype(np.float64),
                               rtol=rtol, atol=rtol * 10)


def test_matmul_on_views():
    rng = np.random.default_rng(8)
    a = rng.standard_normal((6, 5)).astype(np.float32)
    b = rng.standard_normal((6, 4)).astype(np.float32)
    ta, tb = Tensor(a), Tensor(b)
    np.testing.assert_allclose((ta.T @ tb).asnumpy(), a.T @ b, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose((ta[::2].T @ tb[::-2]).asnumpy(), a[::2].T @ b[::-2], rtol=1e-5, atol=1e-5)


def test_matmul_errors():
    with pytest.raises(ValueError) as ei:
        Tensor(np.ones((3, 4), np.float32)) @ Tensor(np.ones((5, 2), np.float32))
    msg = str(ei.value)
    assert "3, 4" in msg and "5, 2" in msg
    with pytest.raises(ValueError, match="0-d"):
        Tensor(1.0) @ Tensor([1.0])
    with pytest.raises(ValueError):
        Tensor(np.ones((2, 3, 4))) @ Tensor(np.ones((3, 4, 5)))  # batch dims 2 vs 3


# ---------------------------------------------------------------------------- errors
@pytest.mark.parametrize("op", sorted(set(ALL_OPS) - set(BITWISE)))
def test_shape_mismatch_names_both_shapes(op):
    a = Tensor(np.ones((2, 3), np.float32))
    b = Tensor(np.ones((4,), np.float32))
    with pytest.raises(ValueError) as ei:
        ALL_OPS[op][0](a, b)
    msg = str(ei.value)
    assert ("[2, 3]" in msg or "(2, 3)" in msg) and ("[4]" in msg or "(4,)" in msg), msg


def test_shape_mismatch_bitwise():
    with pytest.raises(ValueError) as ei:
        Tensor(np.ones((2, 3), np.int32)) & Tensor(np.ones((2,), np.int32))
    assert "2, 3" in str(ei.value)


@pytest.mark.parametrize("op", sorted(BITWISE))
def test_bitwise_on_float_raises_type_error(op):
    f = BITWISE[op][0]
    x = Tensor([1.0, 2.0])
    i = Tensor([1, 2])
    for call in (lambda: f(x, x), lambda: f(x, 1), lambda: f(1, x), lambda: f(i, x), lambda: f(i, 1.5),
                 lambda: f(x, True)):
        with pytest.raises(TypeError) as ei:
            call()
        assert "float" in str(ei.value)


def test_invert_float_raises():
    with pytest.raises(TypeError, match="float"):
        ~Tensor([1.0])


def test_bool_minus_bool_raises():
    with pytest.raises(TypeError, match="bool"):
        Tensor([True]) - Tensor([False])
    with pytest.raises(TypeError, match="bool"):
        Tensor([True]) - True


@pytest.mark.parametrize("bad", ["abc", None, object(), [1, "a"], {1: 2}, 1 + 2j])
def test_unsupported_operands_raise_type_error(bad):
    t = Tensor([1.0, 2.0])
    with pytest.raises(TypeError):
        t + bad
    with pytest.raises(TypeError):
        bad * t
    with pytest.raises(TypeError):
        t @ bad


def test_pow_with_modulus():
    with pytest.raises(TypeError, match="modulus"):
        pow(Tensor([2]), 2, 3)


def test_errors_leak_nothing():
    import gc

    a = Tensor(np.ones((2, 3), np.float32))
    b = Tensor(np.ones((4,), np.float32))

    def churn():
        for _ in range(20):
            for call in (lambda: a + b, lambda: a & a, lambda: a + "x", lambda: -Tensor([True]),
                         lambda: a @ b):
                try:
                    call()
                except (TypeError, ValueError):
                    pass

    churn()
    gc.collect()
    before = ms._C.alloc_live_blocks()
    churn()
    gc.collect()
    assert ms._C.alloc_live_blocks() == before
