"""Elementwise functional ops (ops.add, ops.exp, ops.where, ops.cast, ops.clamp, ops.div, ops.matmul ...)
against NumPy: random shapes, broadcasting, strided inputs (transposed and sliced views), every dtype,
the promotion rules of docs/dtypes.md, the primitive forms, and the error paths."""
import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import dynastat as ms
from dynastat import Tensor, ops
from ops_testutil import (FLOATS, HYP, HYP_FEW, INTS, LAYOUTS, NP_DTYPES, NP_FLOATS, ORDER, SIGNED, arrays,
                          as_np, check, dtname, msdt, promote, scalar_dtype, tensor_and_array, to_tensor)

_erf = np.vectorize(math.erf, otypes=[np.float64])


def _gelu(x):
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


# name: (reference on float64 values, lo, hi, dtypes, is a float math function)
UNARY = {
    "neg": (np.negative, None, None, [d for d in ORDER if d != "bool"], False),
    "abs": (np.abs, None, None, ORDER, False),
    "exp": (np.exp, -8, 8, ORDER, True),
    "log": (np.log, 0.05, 100, [d for d in ORDER if d != "bool"], True),
    "sqrt": (np.sqrt, 0, 100, ORDER, True),
    "rsqrt": (lambda x: 1 / np.sqrt(x), 0.05, 100, [d for d in ORDER if d != "bool"], True),
    "sin": (np.sin, -10, 10, ORDER, True),
    "cos": (np.cos, -10, 10, ORDER, True),
    "tanh": (np.tanh, -10, 10, ORDER, True),
    "sigmoid": (lambda x: 1 / (1 + np.exp(-x)), -10, 10, ORDER, True),
    "relu": (lambda x: np.maximum(x, 0), None, None, ORDER, False),
    "gelu": (_gelu, -6, 6, ORDER, True),
    "erf": (_erf, -4, 4, ORDER, True),
    "floor": (np.floor, None, None, ORDER, False),
    "ceil": (np.ceil, None, None, ORDER, False),
    "round": (np.round, None, None, ORDER, False),
    "sign": (np.sign, None, None, ORDER, False),
    "reciprocal": (np.reciprocal, 0.05, 100, NP_FLOATS + ["bfloat16"], True),
    "square": (np.square, None, None, ORDER, False),
}


def _unary_expected(name, a, dtype):
    ref, _, _, _, is_math = UNARY[name]
    if dtype == "bool" and not is_math:
        return a.copy(), "bool"  # abs/relu/sign/square/floor/ceil/round of a bool are copies
    if is_math and dtype not in FLOATS:
        return ref(a.astype(np.float64)).astype(np.float32), "float32"
    if dtype in INTS and name == "abs":
        return np.abs(a), dtype
    if dtype in INTS:
        return ref(a).astype(dtype), dtype
    return ref(a.astype(np.float64)), dtype


@pytest.mark.parametrize("name", sorted(UNARY))
@HYP
@given(data=st.data())
def test_unary_against_numpy(name, data):
    ref, lo, hi, dtypes, is_math = UNARY[name]
    t, a, dtype = data.draw(tensor_and_array(dtypes, lo=lo, hi=hi))
    if name in ("reciprocal",):
        assume(np.all(np.abs(as_np(a, dtype)) >= 0.05))
    exp, odt = _unary_expected(name, as_np(a, dtype).astype(np.float64) if dtype in FLOATS else a, dtype)
    rtol = {"float16": 2e-3, "bfloat16": 1.6e-2, "float32": 2e-6 if is_math else 1e-6, "float64": 1e-12}.get(odt)
    atol = rtol if is_math else 0
    if name in ("exp", "sigmoid", "gelu", "erf", "tanh") and odt == "float32":
        rtol, atol = 1e-5, 1e-6
    if odt == "float16":
        exp = np.asarray(exp).astype(np.float16)  # the reference rounded as the result is (underflow)
    r = getattr(ops, name)(t)
    check(r, exp, odt, rtol=rtol, atol=atol)
    # the Tensor method and the primitive class compute the same
    prim = getattr(ops, ops._generated.__dict__[name].info["prim"])()
    np.testing.assert_array_equal(prim(t).asnumpy(), r.asnumpy())


@HYP
@given(data=st.data())
def test_logical_not_and_bitwise_not(data):
    t, a, dtype = data.draw(tensor_and_array(NP_DTYPES))
    check(ops.logical_not(t), np.logical_not(a), "bool")
    if dtype in INTS or dtype == "bool":
        check(ops.bitwise_not(t), np.invert(a), dtype)
        check(ops.Invert()(t), np.invert(a), dtype)
    else:
        with pytest.raises(TypeError, match="bitwise_not.*integer or bool"):
            ops.bitwise_not(t)


def test_unary_special_values():
    x = Tensor(np.array([np.nan, np.inf, -np.inf, 0.0, -0.0], np.float32))
    check(ops.exp(x), [np.nan, np.inf, 0.0, 1.0, 1.0], "float32")
    check(ops.sqrt(Tensor(np.array([-1.0, 4.0], np.float32))), [np.nan, 2.0], "float32")
    check(ops.log(Tensor(np.array([0.0, -1.0], np.float32))), [-np.inf, np.nan], "float32")
    check(ops.sign(x), [np.nan, 1, -1, 0, 0], "float32")
    check(ops.round(Tensor(np.array([0.5, 1.5, 2.5, -0.5, -1.5], np.float32))), [0, 2, 2, -0, -2], "float32")
    check(ops.tanh(Tensor(np.array([50.0, -50.0], np.float32))), [1, -1], "float32")
    check(ops.sigmoid(Tensor(np.array([100.0, -100.0], np.float32))), [1, 0], "float32", atol=1e-30)
    check(ops.relu(Tensor(np.array([-3, 0, 4], np.int8))), np.array([0, 0, 4], np.int8), "int8")


# ------------------------------------------------------------------------------------- binary
def _np_compute(name, a, b):
    f = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.true_divide,
         "floor_div": np.floor_divide, "mod": np.mod, "pow": np.power, "maximum": np.maximum,
         "minimum": np.minimum, "equal": np.equal, "not_equal": np.not_equal, "less": np.less,
         "less_equal": np.less_equal, "greater": np.greater, "greater_equal": np.greater_equal,
         "logical_and": np.logical_and, "logical_or": np.logical_or, "logical_xor": np.logical_xor,
         "bitwise_and": np.bitwise_and, "bitwise_or": np.bitwise_or, "bitwise_xor": np.bitwise_xor}[name]
    with np.errstate(all="ignore"):
        return f(a, b)


COMPARE = ["equal", "not_equal", "less", "less_equal", "greater", "greater_equal"]
LOGICAL = ["logical_and", "logical_or", "logical_xor"]
BITWISE = ["bitwise_and", "bitwise_or", "bitwise_xor"]
ARITH = ["add", "sub", "mul", "div", "floor_div", "mod", "pow", "maximum", "minimum"]


def _binary_dtype(name, da, db):
    """Result dtype of a binary op on tensors of dtypes da, db (None: a TypeError is expected)."""
    p = promote(da, db)
    if name in COMPARE or name in LOGICAL:
        return "bool"
    if name in BITWISE:
        return None if p in FLOATS else p
    if name == "div":
        return p if p in FLOATS else "float32"
    if name == "sub" and p == "bool":
        return None
    if name in ("floor_div", "mod", "pow") and p == "bool":
        return "int8"
    return p


def _compute_np_dtype(dt):
    return np.float32 if dt == "bfloat16" else np.dtype(dt)


def _operand_strategy(name, dtype, side):
    if name in ("div", "floor_div", "mod") and side == 1:
        # nonzero divisors: integer division by zero is tested on its own
        if dtype == "bool":
            return None
        return "nonzero"
    if name == "pow":
        return (0, 3) if side == 1 else (-4, 4)
    return None


@st.composite
def binary_case(draw, name):
    da = draw(st.sampled_from(ORDER))
    db = draw(st.sampled_from(ORDER))
    if name in ("div", "floor_div", "mod") and db == "bool":
        db = draw(st.sampled_from(NP_DTYPES[1:]))
    sa, sb = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=4, max_side=4)).input_shapes
    arrs = []
    for side, (dt, shp) in enumerate(((da, sa), (db, sb))):
        spec = _operand_strategy(name, dt, side)
        if spec == "nonzero":
            a = draw(arrays(dt, shp, lo=1, hi=20))
            if dt in FLOATS:
                a = np.where(draw(st.booleans()), a, -a).astype(a.dtype)
            elif dt in SIGNED:
                a = np.where(draw(st.booleans()), a, -a).astype(a.dtype)
        elif isinstance(spec, tuple):
            a = draw(arrays(dt, shp, lo=spec[0], hi=spec[1]))
        else:
            a = draw(arrays(dt, shp))
        arrs.append(a)
    layouts = (draw(st.sampled_from(LAYOUTS)), draw(st.sampled_from(LAYOUTS)))
    return da, db, arrs[0], arrs[1], layouts


def _binary_reference(name, da, db, a, b, odt):
    p = promote(da, db)
    if name in LOGICAL:
        return _np_compute(name, a.astype(bool), b.astype(bool))
    cdt = {"div": "float64"}.get(name, p)
    if name == "div" and p in ("float16", "bfloat16"):
        cdt = "float32"
    if name in ("floor_div", "mod", "pow") and p == "bool":
        cdt = "int8"
    if name == "pow" and p in FLOATS:
        cdt = "float64"
    npdt = _compute_np_dtype(cdt)
    return _np_compute(name, as_np(a, da).astype(npdt), as_np(b, db).astype(npdt))


@pytest.mark.parametrize("name", ARITH + COMPARE + LOGICAL + BITWISE)
@HYP
@given(data=st.data())
def test_binary_against_numpy(name, data):
    da, db, a, b, layouts = data.draw(binary_case(name))
    ta = to_tensor(a, layouts[0], da if da == "bfloat16" else None)
    tb = to_tensor(b, layouts[1], db if db == "bfloat16" else None)
    odt = _binary_dtype(name, da, db)
    f = getattr(ops, name)
    if odt is None:
        with pytest.raises(TypeError, match=name):
            f(ta, tb)
        return
    r = f(ta, tb)
    exp = _binary_reference(name, da, db, a, b, odt)
    rtol = None
    if name == "pow" and odt in FLOATS:
        rtol = {"float16": 4e-3, "bfloat16": 3e-2, "float32": 4e-6, "float64": 1e-12}[odt]
    if name in ("floor_div", "mod") and odt in ("float16", "bfloat16"):
        # a quotient near an integer may round either way in low precision: compare through the identity
        q = ops.floor_div(ta, tb).asnumpy().astype(np.float64)
        m = ops.mod(ta, tb).asnumpy().astype(np.float64)
        np.testing.assert_allclose(q * as_np(b, db).astype(np.float64) + m,
                                   np.broadcast_to(as_np(a, da).astype(np.float64), q.shape), rtol=0.05, atol=0.5)
        assert dtname(r.dtype) == odt
        return
    if odt == "float16":
        exp = np.asarray(exp).astype(np.float16)
    check(r, np.asarray(exp), odt, rtol=rtol)
    # the primitive class of the op computes the same
    prim = getattr(ops, ops._generated.__dict__[name].info["prim"])()
    np.testing.assert_array_equal(prim(ta, tb).asnumpy(), r.asnumpy())


@pytest.mark.parametrize("name", ["add", "sub", "mul", "div", "maximum", "minimum", "pow", "less", "equal"])
@pytest.mark.parametrize("dtype", ORDER)
@pytest.mark.parametrize("scalar", [True, 3, -2, 2.5])
def test_tensor_scalar_promotion(name, dtype, scalar):
    """A Python scalar adapts to the tensor's dtype (docs/dtypes.md), on either side."""
    a = np.array([[1, 2, 3], [4, 5, 6]]).astype(np.float32 if dtype == "bfloat16" else dtype)
    t = Tensor(a, msdt(dtype))
    sdt = scalar_dtype(scalar, dtype)
    odt = _binary_dtype(name, dtype, sdt)
    if name == "pow" and isinstance(scalar, int) and not isinstance(scalar, bool) and scalar < 0 \
            and odt not in FLOATS:
        return  # integer to a negative power: not defined by NumPy
    if dtype == "uint8" and not isinstance(scalar, bool) and isinstance(scalar, int) and scalar < 0:
        for args in ((t, scalar), (scalar, t)):  # as NumPy 2: an int scalar must fit the tensor's dtype
            with pytest.raises(OverflowError, match="Python integer -2 out of bounds for uint8"):
                getattr(ops, name)(*args)
        return
    for args in ((t, scalar), (scalar, t)):
        if odt is None:
            with pytest.raises(TypeError):
                getattr(ops, name)(*args)
            continue
        r = getattr(ops, name)(*args)
        assert dtname(r.dtype) == odt, (name, dtype, scalar, r.dtype)
        npa = [as_np(a, dtype).astype(np.float64) if x is t else np.float64(x) for x in args]
        if name in COMPARE:
            exp = _np_compute(name, *npa)
        else:
            exp = _np_compute(name, *npa)
            if odt not in FLOATS:
                exp = exp.astype(odt if odt != "bool" else bool)
        check(r, exp, odt, rtol=1.6e-2 if odt == "bfloat16" else 2e-3 if odt == "float16" else 1e-6)


@pytest.mark.parametrize("da,db,expected", [
    ("int8", "uint8", "int16"), ("uint8", "int8", "int16"), ("int64", "float16", "float16"),
    ("float16", "bfloat16", "float32"), ("bool", "int8", "int8"), ("int32", "int64", "int64"),
    ("uint8", "int16", "int16"), ("float32", "float64", "float64"), ("bool", "bool", "bool"),
    ("int16", "bfloat16", "bfloat16"), ("bool", "float16", "float16"),
])
def test_tensor_tensor_promotion_table(da, db, expected):
    a = Tensor(np.ones(3, np.float32), msdt(da))
    b = Tensor(np.ones(3, np.float32), msdt(db))
    assert dtname(ops.add(a, b).dtype) == expected
    assert dtname(ops.mul(b, a).dtype) == expected
    assert dtname(ops.maximum(a, b).dtype) == expected


def test_scalar_promotion_examples():
    i32 = Tensor(np.array([1, 2], np.int32))
    assert ops.add(i32, 1.5).dtype == ms.float32
    check(ops.add(i32, 1.5), [2.5, 3.5], "float32")
    h = Tensor(np.array([1, 2], np.float16))
    assert ops.mul(h, 2.5).dtype == ms.float16
    i8 = Tensor(np.array([100, -100], np.int8))
    check(ops.add(i8, 100), np.array([100, -100], np.int8) + np.int8(100), "int8")  # wraps, stays int8
    b = Tensor(np.array([True, False]))
    check(ops.add(b, 1), [2, 1], "int64")
    check(ops.mul(b, 0.5), [0.5, 0], "float32")
    check(ops.add(b, True), [True, True], "bool")
    check(ops.div(Tensor(np.array([3, 4], np.int64)), 2), [1.5, 2], "float32")


def test_out_of_range_int_scalar_is_an_overflow_error():
    """As in NumPy 2, a Python int that the tensor's dtype cannot hold is refused, whatever the op."""
    with pytest.raises(OverflowError, match="Python integer 300 out of bounds for int8"):
        ops.div(Tensor(np.array([1, 2], np.int8)), 300)
    with pytest.raises(OverflowError, match="Python integer -1 out of bounds for uint8"):
        ops.less(Tensor(np.array([1], np.uint8)), -1)
    check(ops.add(Tensor(np.array([1], np.int8)), 127), [-128], "int8")  # in range: wraps like NumPy


def test_integer_division_by_zero_gives_zero():
    a = Tensor(np.array([5, -5, 0], np.int32))
    z = Tensor(np.array([0, 0, 0], np.int32))
    check(ops.floor_div(a, z), [0, 0, 0], "int32")
    check(ops.mod(a, z), [0, 0, 0], "int32")
    check(ops.div(a, z), [np.inf, -np.inf, np.nan], "float32")


def test_binary_errors():
    f = Tensor(np.ones((2, 3), np.float32))
    with pytest.raises(ValueError, match=r"add.*\[2, 3\].*\[4\].*cannot be broadcast"):
        ops.add(f, Tensor(np.ones(4, np.float32)))
    with pytest.raises(TypeError, match="bitwise_and.*integer or bool"):
        ops.bitwise_and(f, f)
    with pytest.raises(TypeError, match="sub.*bool"):
        ops.sub(Tensor([True]), Tensor([False]))
    with pytest.raises(TypeError, match="neg.*bool"):
        ops.neg(Tensor([True]))
    with pytest.raises(TypeError):
        ops.add(f, "abc")
    with pytest.raises(TypeError, match=r"add\(\) takes 2 tensor arguments"):
        ops.add(f)


# ------------------------------------------------------------------------------------- where / select
@HYP
@given(data=st.data())
def test_where_against_numpy(data):
    sc, sx, sy = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=4, max_side=4)).input_shapes
    dx, dy = data.draw(st.sampled_from(NP_DTYPES)), data.draw(st.sampled_from(NP_DTYPES))
    c = data.draw(arrays("bool", sc))
    x, y = data.draw(arrays(dx, sx)), data.draw(arrays(dy, sy))
    lc, lx, ly = (data.draw(st.sampled_from(LAYOUTS)) for _ in range(3))
    odt = promote(dx, dy)
    r = ops.where(to_tensor(c, lc), to_tensor(x, lx), to_tensor(y, ly))
    check(r, np.where(c, x.astype(odt), y.astype(odt)), odt)
    r2 = ops.Select()(to_tensor(c, lc), to_tensor(x, lx), to_tensor(y, ly))
    np.testing.assert_array_equal(r2.asnumpy(), r.asnumpy())
    np.testing.assert_array_equal(ops.select(to_tensor(c), to_tensor(x), to_tensor(y)).asnumpy(), r.asnumpy())


def test_where_scalars_and_errors():
    c = Tensor(np.array([True, False, True]))
    x = Tensor(np.array([1, 2, 3], np.int32))
    check(ops.where(c, x, 0), [1, 0, 3], "int32")
    check(ops.where(c, x, 0.5), [1, 0.5, 3], "float32")
    check(ops.where(c, 1.5, Tensor(np.zeros(3, np.float16))), [1.5, 0, 1.5], "float16")
    with pytest.raises(ValueError, match=r"where.*cannot be broadcast"):
        ops.where(c, x, Tensor(np.zeros(2, np.int32)))
    with pytest.raises(TypeError, match=r"where\(\): argument 'condition' must be a Tensor"):
        ops.where([True, False, True], x, x)


# ------------------------------------------------------------------------------------- cast
@pytest.mark.parametrize("to", ORDER)
@HYP
@given(data=st.data())
def test_cast_against_numpy(to, data):
    t, a, dtype = data.draw(tensor_and_array(ORDER, lo=0 if to == "uint8" else None))
    r = ops.cast(t, msdt(to))
    src = as_np(a, dtype)
    if to == "bool":
        exp = src != 0
    elif to in INTS:
        exp = np.trunc(src.astype(np.float64)).astype(to) if dtype in FLOATS else src.astype(to)
    elif to == "bfloat16":
        exp = src.astype(np.float32)
    else:
        exp = src.astype(to)
    check(r, exp, to, rtol=1.6e-2 if to == "bfloat16" else None)
    np.testing.assert_array_equal(ops.Cast()(t, msdt(to)).asnumpy(), r.asnumpy())


def test_cast_forms_and_errors():
    x = Tensor(np.array([1.7, -1.7, 0.0], np.float32))
    check(ops.cast(x, ms.int32), [1, -1, 0], "int32")
    check(ops.cast(x, "int64"), [1, -1, 0], "int64")
    check(ops.cast(x, ms.bool_), [True, True, False], "bool")
    check(ops.cast(3, ms.float16), 3.0, "float16")
    with pytest.raises(TypeError, match=r"cast\(\): argument 'dtype' must be a dtype"):
        ops.cast(x, "float31")
    with pytest.raises(TypeError, match=r"cast\(\): argument 'dtype'"):
        ops.cast(x, None)
    with pytest.raises(TypeError, match=r"Cast\(\): argument 'dtype'"):
        ops.Cast()(x, 5)


# ------------------------------------------------------------------------------------- clamp / clip
@pytest.mark.parametrize("fn", ["clamp", "clip"])
@HYP
@given(data=st.data(), lo=st.one_of(st.none(), st.integers(-50, 0)), hi=st.one_of(st.none(), st.integers(0, 50)))
def test_clamp_against_numpy(fn, data, lo, hi):
    assume(lo is not None or hi is not None)
    t, a, dtype = data.draw(tensor_and_array([d for d in NP_DTYPES if d != "bool"]))
    r = getattr(ops, fn)(t, lo, hi)
    check(r, np.clip(a, lo, hi).astype(a.dtype), dtype)
    # tensor bounds: elementwise maximum / minimum with promotion
    lt = None if lo is None else Tensor(np.array(lo, np.int8))
    ht = None if hi is None else Tensor(np.array(hi, np.int8))
    r2 = getattr(ops, fn)(t, min=lt, max=ht)
    check(r2, np.clip(a, lo, hi), promote(dtype, "int8"))


def test_clamp_float_bounds_and_errors():
    x = Tensor(np.array([-3, 0, 5], np.int32))
    check(ops.clamp(x, -1.5, 2.5), [-1.5, 0, 2.5], "float32")
    check(ops.clamp(Tensor(np.array([np.nan, 7], np.float32)), 0, 1), [np.nan, 1], "float32")
    check(ops.clamp(x, Tensor(np.array([0, 1, 2], np.int32))), [0, 1, 5], "int32")
    with pytest.raises(ValueError, match=r"clamp\(\): at least one of 'min' and 'max'"):
        ops.clamp(x)
    with pytest.raises(TypeError, match=r"clip\(\): argument 'min' must be a number"):
        ops.clip(x, "a")
    with pytest.raises(TypeError, match=r"clamp\(\): argument 'input' must be a Tensor"):
        ops.clamp([1, 2], 0, 1)


# ------------------------------------------------------------------------------------- div rounding modes
@HYP
@given(data=st.data())
def test_div_rounding_modes(data):
    dt = data.draw(st.sampled_from(SIGNED + ["float32", "float64"]))
    sa, sb = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=4)).input_shapes
    a = data.draw(arrays(dt, sa))
    b = data.draw(arrays(dt, sb, lo=1, hi=20))
    b = np.where(data.draw(arrays("bool", sb)), b, -b).astype(dt)
    ta, tb = to_tensor(a, data.draw(st.sampled_from(LAYOUTS))), to_tensor(b)
    exact = a.astype(np.float64) / b.astype(np.float64)
    check(ops.div(ta, tb), exact, dt if dt in FLOATS else "float32", rtol=1e-6 if dt != "float64" else 1e-12)
    if dt in FLOATS:
        check(ops.div(ta, tb, rounding_mode="floor"), np.floor_divide(a, b), dt)
        check(ops.div(ta, tb, rounding_mode="trunc"), np.trunc(a / b), dt)
    else:
        check(ops.div(ta, tb, rounding_mode="floor"), np.floor_divide(a, b), dt)
        check(ops.div(ta, tb, rounding_mode="trunc"), np.trunc(exact).astype(dt), dt)


def test_div_scalars_and_errors():
    x = Tensor(np.array([-7, 7, 6], np.int64))
    check(ops.div(x, 2, rounding_mode="trunc"), [-3, 3, 3], "int64")
    check(ops.div(x, 2, rounding_mode="floor"), [-4, 3, 3], "int64")
    check(ops.div(x, 2.0, rounding_mode="trunc"), [-3, 3, 3], "float32")
    check(ops.div(7, x, rounding_mode="floor"), [-1, 1, 1], "int64")
    with pytest.raises(ValueError, match=r"div\(\): argument 'rounding_mode' must be None, 'floor' or 'trunc'"):
        ops.div(x, 2, rounding_mode="round")
    with pytest.raises(TypeError, match=r"div\(\): argument 'rounding_mode'"):
        ops.div(x, 2, rounding_mode=1)


# ------------------------------------------------------------------------------------- matmul
@st.composite
def matmul_case(draw):
    m, k, n = draw(st.integers(1, 5)), draw(st.integers(0, 5)), draw(st.integers(1, 5))
    batch_a, batch_b = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=2, max_side=3)).input_shapes
    vec_a, vec_b = draw(st.booleans()), draw(st.booleans())
    sa = (k,) if vec_a else batch_a + (m, k)
    sb = (k,) if vec_b else batch_b + (k, n)
    dt = draw(st.sampled_from(["float32", "float64", "int32", "int64", "float16"]))
    a = draw(arrays(dt, sa, lo=-8, hi=8))
    b = draw(arrays(dt, sb, lo=-8, hi=8))
    return dt, a, b, draw(st.sampled_from(LAYOUTS)), draw(st.sampled_from(LAYOUTS))


@HYP
@given(case=matmul_case())
def test_matmul_against_numpy(case):
    dt, a, b, la, lb = case
    exp = np.matmul(a.astype(np.float64), b.astype(np.float64))
    r = ops.matmul(to_tensor(a, la), to_tensor(b, lb))
    rtol = {"float16": 5e-3, "float32": 1e-5, "float64": 1e-12}.get(dt)
    check(r, exp, dt, rtol=rtol, atol=rtol)
    if a.ndim >= 3 and b.ndim >= 3:
        check(ops.bmm(to_tensor(a, la), to_tensor(b, lb)), exp, dt, rtol=rtol, atol=rtol)
    if a.ndim >= 2 and b.ndim >= 2:
        check(ops.BatchMatMul()(to_tensor(a, la), to_tensor(b, lb)), exp, dt, rtol=rtol, atol=rtol)


@HYP_FEW
@given(m=st.integers(1, 6), k=st.integers(1, 6), n=st.integers(1, 6), ta=st.booleans(), tb=st.booleans(),
       seed=st.integers(0, 2**31))
def test_matmul_primitive_transposes(m, k, n, ta, tb, seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((k, m) if ta else (m, k)).astype(np.float32)
    b = rng.standard_normal((n, k) if tb else (k, n)).astype(np.float32)
    exp = (a.T if ta else a).astype(np.float64) @ (b.T if tb else b).astype(np.float64)
    check(ops.MatMul(transpose_a=ta, transpose_b=tb)(Tensor(a), Tensor(b)), exp, "float32", rtol=1e-5, atol=1e-5)
    ab, bb = np.stack([a, 2 * a]), np.stack([b, b])
    expb = np.stack([exp, 2 * exp])
    check(ops.BatchMatMul(ta, tb)(Tensor(ab), Tensor(bb)), expb, "float32", rtol=1e-5, atol=1e-5)


def test_matmul_promotion_and_errors():
    a = Tensor(np.ones((2, 3), np.int32))
    b = Tensor(np.ones((3, 2), np.float32))
    check(ops.matmul(a, b), np.full((2, 2), 3.0), "float32")
    with pytest.raises(ValueError, match=r"matmul.*inner dimensions differ"):
        ops.matmul(a, Tensor(np.ones((2, 2), np.float32)))
    with pytest.raises(ValueError, match=r"matmul.*0-d"):
        ops.matmul(Tensor(1.0), b)
    with pytest.raises(ValueError, match=r"MatMul\(\): inputs must be 2-D"):
        ops.MatMul()(Tensor(np.ones((2, 2, 3), np.float32)), b)
    with pytest.raises(TypeError, match=r"MatMul\(\): argument 'transpose_a' must be a bool"):
        ops.MatMul(transpose_a=1)
    with pytest.raises(ValueError, match=r"bmm\(\): both inputs must have at least 3 dims"):
        ops.bmm(a, b)
    with pytest.raises(TypeError, match=r"matmul\(\): argument 'other' must be a Tensor"):
        ops.matmul(a, [[1.0]])
    assert repr(ops.MatMul()) == "Prim[MatMul]"
    assert isinstance(ops.MatMul(), ops.Primitive)


# ------------------------------------------------------------------------------------- larger inputs
# Sizes around the SIMD widths and the threading threshold: vector bodies, tails, ds_iter and threads.
SIZES = [1, 7, 16, 33, 257, 4099, 70001]


def _big(dtype, n, rng, lo=-100, hi=100):
    if dtype == "bool":
        return rng.random(n) < 0.5
    if dtype in INTS:
        info = np.iinfo(dtype)
        return rng.integers(max(info.min, lo), min(info.max, hi) + 1, n).astype(dtype)
    if dtype == "bfloat16":
        return (rng.integers(lo * 4 if lo > -16 else -64, (hi * 4 if hi < 16 else 64) + 1, n) / 4).astype(np.float32)
    return rng.uniform(lo, hi, n).astype(dtype)


def _t(a, dtype):
    return Tensor(a, msdt(dtype)) if dtype == "bfloat16" else Tensor(a)


@pytest.mark.parametrize("name", ["neg", "abs", "exp", "sqrt", "tanh", "sigmoid", "relu", "floor", "round",
                                  "square", "sign", "logical_not"])
def test_unary_large(name):
    rng = np.random.default_rng(abs(hash(name)) % 2**32)
    for dtype in ORDER:
        if dtype == "bool" and name == "neg":
            continue
        lo, hi = (0, 100) if name == "sqrt" else (-10, 10) if name in ("exp", "tanh", "sigmoid") else (-100, 100)
        for n in SIZES:
            a = _big(dtype, n, rng, lo, hi)
            t = _t(a, dtype)
            if name == "logical_not":
                check(ops.logical_not(t), np.logical_not(a), "bool")
                continue
            ref, _, _, _, is_math = UNARY[name]
            exp, odt = _unary_expected(name, a.astype(np.float64) if dtype in FLOATS else a, dtype)
            if odt == "float16":
                exp = np.asarray(exp).astype(np.float16)
            rtol = {"float16": 2e-3, "bfloat16": 1.6e-2, "float32": 1e-5 if is_math else 1e-6,
                    "float64": 1e-12}.get(odt)
            check(ops.__dict__[name](t), exp, odt, rtol=rtol, atol=rtol if is_math else 0)
            # strided: every second element of a longer tensor, and a transposed 2-d view
            if n > 1:
                check(ops.__dict__[name](_t(np.repeat(a, 2), dtype)[::2]), exp, odt, rtol=rtol,
                      atol=rtol if is_math else 0)


@pytest.mark.parametrize("name", ["add", "sub", "mul", "div", "maximum", "minimum", "less", "equal",
                                  "logical_and", "bitwise_xor", "floor_div", "mod"])
def test_binary_large(name):
    rng = np.random.default_rng(abs(hash(name)) % 2**32)
    for dtype in ORDER:
        odt = _binary_dtype(name, dtype, dtype)
        if odt is None:
            continue
        for n in SIZES:
            a = _big(dtype, n, rng)
            b = _big(dtype, n, rng, 1, 20) if name in ("div", "floor_div", "mod") else _big(dtype, n, rng)
            if dtype == "bool" and name in ("div", "floor_div", "mod"):
                b = np.ones(n, bool)
            ta, tb = _t(a, dtype), _t(b, dtype)
            exp = _binary_reference(name, dtype, dtype, a, b, odt)
            if odt == "float16":
                exp = np.asarray(exp).astype(np.float16)
            if name in ("floor_div", "mod") and odt in ("float16", "bfloat16"):
                continue  # rounding of near-integer quotients: covered by the identity check above
            check(getattr(ops, name)(ta, tb), exp, odt)
            # a broadcast scalar on either side
            a0, b0 = a[:1].reshape(()), b[:1].reshape(())
            for x, y, tx, ty in ((a, b0, ta, _t(b0, dtype)), (a0, b, _t(a0, dtype), tb)):
                e = np.asarray(_binary_reference(name, dtype, dtype, x, y, odt))
                check(getattr(ops, name)(tx, ty), e.astype(np.float16) if odt == "float16" else e, odt)
            if n > 1:
                check(getattr(ops, name)(_t(np.repeat(a, 2), dtype)[::2], tb), exp, odt)


@pytest.mark.parametrize("src", ORDER)
def test_cast_large(src):
    rng = np.random.default_rng(ORDER.index(src))
    for n in SIZES:
        a = _big(src, n, rng, 0, 100)
        t = _t(a, src)
        for to in ORDER:
            r = ops.cast(t, msdt(to))
            if to == "bool":
                exp = a != 0
            elif to in INTS:
                exp = np.trunc(a.astype(np.float64)).astype(to)
            else:
                exp = a.astype(np.float32 if to == "bfloat16" else to)
            check(r, exp, to, rtol=1.6e-2 if to == "bfloat16" else None)
            if n > 1:
                check(ops.cast(_t(np.repeat(a, 2), src)[::2], msdt(to)), exp, to,
                      rtol=1.6e-2 if to == "bfloat16" else None)


def test_where_large():
    rng = np.random.default_rng(0)
    for dtype in ORDER:
        for n in SIZES:
            c = rng.random(n) < 0.5
            x, y = _big(dtype, n, rng), _big(dtype, n, rng)
            check(ops.where(Tensor(c), _t(x, dtype), _t(y, dtype)), np.where(c, x, y), dtype)
            check(ops.where(Tensor(c), _t(x, dtype), _t(y[:1].reshape(()), dtype)), np.where(c, x, y[0]), dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "int32", "int64", "bfloat16"])
def test_matmul_large(dtype):
    rng = np.random.default_rng(3)
    for (m, k, n) in [(1, 300, 1), (65, 129, 33), (200, 70, 150)]:
        if dtype in INTS:
            a, b = rng.integers(-9, 10, (m, k)).astype(dtype), rng.integers(-9, 10, (k, n)).astype(dtype)
        elif dtype == "bfloat16":
            a, b = (rng.integers(-8, 9, (m, k)) / 4).astype(np.float32), (rng.integers(-8, 9, (k, n)) / 4).astype(np.float32)
        else:
            a, b = rng.uniform(-1, 1, (m, k)).astype(dtype), rng.uniform(-1, 1, (k, n)).astype(dtype)
        exp = a.astype(np.float64) @ b.astype(np.float64)
        scale = np.abs(a.astype(np.float64)) @ np.abs(b.astype(np.float64))
        rtol = {"float16": 2e-3, "bfloat16": 1.6e-2, "float32": 1e-5, "float64": 1e-12}.get(dtype, 0)
        ta, tb = _t(a, dtype), _t(b, dtype)
        tat = ops.transpose(_t(np.array(a.T, order="C"), dtype), (1, 0))  # column-major operand
        for x in (ta, tat):
            r = ops.matmul(x, tb)
            assert dtname(r.dtype) == dtype
            got = r.asnumpy().astype(np.float64)
            assert np.all(np.abs(got - exp) <= rtol * scale + 1e-12), dtype
        rb = ops.BatchMatMul(transpose_b=True)(ops.stack([ta, ta]), _t(np.array(b.T, order="C"), dtype))
        got = rb.asnumpy().astype(np.float64)
        assert np.all(np.abs(got - exp[None]) <= rtol * scale[None] + 1e-12)


# ------------------------------------------------------------------------------------- aliases and variants
@HYP
@given(case=tensor_and_array(NP_FLOATS + ["int32"], lo=-6, hi=6))
def test_gelu_approximate(case):
    t, a, dtype = case
    x = a.astype(np.float64)
    odt = dtype if dtype in FLOATS else "float32"
    tanh_form = 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))
    rtol = {"float16": 4e-3, "float32": 1e-5, "float64": 1e-12}[odt]
    check(ops.gelu(t, approximate="tanh"), tanh_form, odt, rtol=rtol, atol=rtol)
    check(ops.gelu(t), _gelu(x), odt, rtol=rtol, atol=rtol)
    with pytest.raises(ValueError, match=r"gelu\(\): argument 'approximate' must be 'none' or 'tanh', got 'fast'"):
        ops.gelu(t, approximate="fast")


@pytest.mark.parametrize("alias,ref", [("eq", np.equal), ("ne", np.not_equal), ("gt", np.greater),
                                       ("ge", np.greater_equal), ("lt", np.less), ("le", np.less_equal),
                                       ("multiply", np.multiply), ("subtract", np.subtract),
                                       ("true_divide", np.true_divide), ("floor_divide", np.floor_divide),
                                       ("remainder", np.mod)])
def test_binary_aliases(alias, ref):
    a = np.array([[-3, 5, 7], [0, 2, -8]], np.int32)
    b = np.array([2, -3, 7], np.int32)
    r = getattr(ops, alias)(Tensor(a), Tensor(b))
    exp = ref(a, b)
    check(r, exp, "float32" if alias == "true_divide" else "bool" if exp.dtype == bool else "int32")
    check(getattr(ops, alias)(Tensor(a), 2), ref(a, np.int32(2)),
          "float32" if alias == "true_divide" else "bool" if exp.dtype == bool else "int32")


def test_clip_by_value():
    x = Tensor(np.array([-2.0, 0.5, 3.0], np.float32))
    check(ops.clip_by_value(x, Tensor(np.float32(0)), Tensor(np.float32(1))), [0, 0.5, 1], "float32")
    check(ops.clip_by_value(x, clip_value_max=1), [-2, 0.5, 1], "float32")
    with pytest.raises(ValueError, match=r"clip_by_value\(\): at least one of 'min' and 'max'"):
        ops.clip_by_value(x)
