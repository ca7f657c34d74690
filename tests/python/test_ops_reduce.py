"""Reductions (ops.sum, mean, prod, amax, amin, max, min, argmax, argmin, all, any, var, std and the
Reduce* / Argmax / ArgMaxWithValue primitives) against NumPy over random shapes, axis sets, keepdims,
strided inputs and dtypes, with the output dtypes of docs/dtypes.md and the error paths."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import dynastat as ms
from dynastat import Tensor, ops
from ops_testutil import (FLOATS, HYP, INTS, LAYOUTS, NP_DTYPES, ORDER, arrays, as_np, check, dtname, msdt,
                          shapes, to_tensor)


@st.composite
def reduce_case(draw, dtypes=ORDER, lo=None, hi=None, max_side=4, min_side=0, single_axis=False):
    dtype = draw(st.sampled_from(dtypes))
    shape = draw(shapes(0, 4, min_side=min_side, max_side=max_side))
    a = draw(arrays(dtype, shape, lo, hi))
    nd = len(shape)
    if single_axis:
        axis = draw(st.one_of(st.none(), st.integers(-max(nd, 1), max(nd, 1) - 1)))
    else:
        axis = draw(st.one_of(st.none(), hnp.valid_tuple_axes(nd, min_size=1) if nd else st.none(),
                              st.integers(-nd, nd - 1) if nd else st.none()))
    keep = draw(st.booleans())
    layout = draw(st.sampled_from(LAYOUTS))
    return to_tensor(a, layout, dtype if dtype == "bfloat16" else None), as_np(a, dtype), dtype, axis, keep


def _np_axis(axis, nd):
    if axis is None:
        return None
    if nd == 0:
        return None
    return tuple(axis) if isinstance(axis, tuple) else axis


def _sum_dtype(dtype):
    return "int64" if dtype in INTS or dtype == "bool" else dtype


def _mean_dtype(dtype):
    return "float32" if dtype in INTS or dtype == "bool" else dtype


def _check_accum(r, exp, scale, dtype):
    """Float accumulations: the error may reach rtol times the sum of magnitudes (elementwise)."""
    got = np.asarray(r.asnumpy() if hasattr(r, "asnumpy") else r, np.float64)
    exp = np.asarray(exp, np.float64)
    assert got.shape == exp.shape, (got.shape, exp.shape)
    rtol = {"float16": 2e-3, "bfloat16": 1.6e-2, "float32": 2e-6, "float64": 1e-12}[dtype]
    tol = rtol * np.broadcast_to(np.asarray(scale, np.float64), exp.shape) + rtol * np.abs(exp) + 1e-30
    both_nan = np.isnan(got) & np.isnan(exp)
    ok = both_nan | (np.abs(got - exp) <= tol)
    assert ok.all(), (got[~ok], exp[~ok])


@HYP
@given(case=reduce_case())
def test_sum(case):
    t, a, dtype, axis, keep = case
    ax = _np_axis(axis, a.ndim)
    odt = _sum_dtype(dtype)
    r = ops.sum(t, axis, keep)
    assert dtname(r.dtype) == odt
    if odt == "int64":
        check(r, np.sum(a.astype(np.int64), axis=ax, keepdims=keep), "int64")
    else:
        exp = np.sum(a.astype(np.float64), axis=ax, keepdims=keep)
        _check_accum(r, exp, np.sum(np.abs(a.astype(np.float64)), axis=ax, keepdims=keep), odt)
    # keyword spellings and the primitive form
    r2 = ops.sum(t, dim=axis, keepdim=keep)
    np.testing.assert_array_equal(r2.asnumpy(), r.asnumpy())
    r3 = ops.ReduceSum(keep_dims=keep)(t, () if axis is None else axis)
    np.testing.assert_array_equal(r3.asnumpy(), r.asnumpy())


@HYP
@given(case=reduce_case(dtypes=[d for d in ORDER if d != "bool"]))
def test_sum_with_dtype(case):
    t, a, dtype, axis, keep = case
    r = ops.sum(t, axis, keep, dtype=ms.float64)
    assert r.dtype == ms.float64
    exp = np.sum(a.astype(np.float64), axis=_np_axis(axis, a.ndim), keepdims=keep)
    np.testing.assert_allclose(r.asnumpy(), exp, rtol=1e-12, atol=1e-9)


@HYP
@given(case=reduce_case())
def test_mean(case):
    t, a, dtype, axis, keep = case
    ax = _np_axis(axis, a.ndim)
    odt = _mean_dtype(dtype)
    with np.errstate(all="ignore"):
        exp = np.mean(a.astype(np.float64), axis=ax, keepdims=keep)
        scale = np.mean(np.abs(a.astype(np.float64)), axis=ax, keepdims=keep)
    r = ops.mean(t, axis, keep)
    assert dtname(r.dtype) == odt
    _check_accum(r, exp, scale, odt)
    r2 = ops.ReduceMean(keep_dims=keep)(t, () if axis is None else axis)
    np.testing.assert_array_equal(r2.asnumpy(), r.asnumpy())
    np.testing.assert_array_equal(ops.mean(t, axis=axis, keep_dims=keep).asnumpy(), r.asnumpy())


@HYP
@given(case=reduce_case(lo=-1.5, hi=1.5, max_side=3))
def test_prod(case):
    t, a, dtype, axis, keep = case
    ax = _np_axis(axis, a.ndim)
    odt = _sum_dtype(dtype)
    r = ops.prod(t, axis, keep)
    assert dtname(r.dtype) == odt
    if odt == "int64":
        check(r, np.prod(a.astype(np.int64), axis=ax, keepdims=keep), "int64")
    else:
        exp = np.prod(a.astype(np.float64), axis=ax, keepdims=keep)
        rtol = {"float16": 1e-2, "bfloat16": 8e-2, "float32": 1e-5, "float64": 1e-12}[odt]
        np.testing.assert_allclose(r.asnumpy().astype(np.float64), exp, rtol=rtol, atol=rtol)
    r2 = ops.ReduceProd(keep_dims=keep)(t, () if axis is None else axis)
    np.testing.assert_array_equal(r2.asnumpy(), r.asnumpy())


@pytest.mark.parametrize("name", ["amax", "amin"])
@HYP
@given(case=reduce_case(min_side=1))
def test_amax_amin(name, case):
    t, a, dtype, axis, keep = case
    ax = _np_axis(axis, a.ndim)
    exp = getattr(np, name)(a, axis=ax, keepdims=keep)
    r = getattr(ops, name)(t, axis, keep)
    check(r, exp, dtype)
    prim = ops.ReduceMax if name == "amax" else ops.ReduceMin
    np.testing.assert_array_equal(prim(keep_dims=keep)(t, () if axis is None else axis).asnumpy(), r.asnumpy())


@pytest.mark.parametrize("name", ["amax", "amin"])
@HYP
@given(case=reduce_case(dtypes=["int32", "float32", "float64"], min_side=1), init=st.integers(-50, 50),
       data=st.data())
def test_amax_amin_initial_where(name, case, init, data):
    t, a, dtype, axis, keep = case
    ax = _np_axis(axis, a.ndim)
    w = data.draw(arrays("bool", a.shape))
    f = getattr(np, "max" if name == "amax" else "min")
    check(getattr(ops, name)(t, axis, keep, initial=init), f(a, axis=ax, keepdims=keep, initial=init), dtype)
    check(getattr(ops, name)(t, axis, keep, initial=init, where=Tensor(w)),
          f(a, axis=ax, keepdims=keep, initial=init, where=w), dtype)


@pytest.mark.parametrize("name", ["all", "any"])
@HYP
@given(case=reduce_case())
def test_all_any(name, case):
    t, a, dtype, axis, keep = case
    ax = _np_axis(axis, a.ndim)
    r = getattr(ops, name)(t, axis, keep)
    check(r, getattr(np, name)(a != 0, axis=ax, keepdims=keep), "bool")
    prim = ops.ReduceAll if name == "all" else ops.ReduceAny
    np.testing.assert_array_equal(prim(keep)(t, () if axis is None else axis).asnumpy(), r.asnumpy())
    np.testing.assert_array_equal(getattr(ops, name)(t, axis=axis, keep_dims=keep).asnumpy(), r.asnumpy())


@pytest.mark.parametrize("name", ["var", "std"])
@HYP
@given(case=reduce_case(min_side=2), ddof=st.sampled_from([0, 1, False, True]))
def test_var_std(name, case, ddof):
    t, a, dtype, axis, keep = case
    ax = _np_axis(axis, a.ndim)
    odt = _mean_dtype(dtype)
    exp = getattr(np, name)(a.astype(np.float64), axis=ax, keepdims=keep, ddof=int(ddof))
    r = getattr(ops, name)(t, axis, ddof, keep)
    assert dtname(r.dtype) == odt
    spread = np.max(np.abs(a.astype(np.float64))) if a.size else 0.0
    if name == "var":
        _check_accum(r, exp, np.full(exp.shape, spread ** 2 * 4), odt)
    else:  # std = sqrt(var): near 0 its error is the square root of var's, so its square gets var's bound
        _check_accum(r.asnumpy().astype(np.float64) ** 2, exp ** 2, np.full(exp.shape, spread ** 2 * 4), odt)
    np.testing.assert_array_equal(getattr(ops, name)(t, axis=axis, ddof=ddof, keepdims=keep).asnumpy(),
                                  r.asnumpy())


@pytest.mark.parametrize("name", ["argmax", "argmin"])
@HYP
@given(case=reduce_case(dtypes=NP_DTYPES, min_side=1, single_axis=True))
def test_argmax_argmin(name, case):
    t, a, dtype, axis, keep = case
    exp = getattr(np, name)(a, axis=None if a.ndim == 0 else axis, keepdims=keep and axis is not None)
    r = getattr(ops, name)(t, axis, keep)
    check(r, exp, "int64")
    # the primitive: default axis -1, int32 unless output_type says int64
    prim = ops.Argmax if name == "argmax" else ops.Argmin
    p_axis = -1 if axis is None else axis
    pexp = getattr(np, name)(a, axis=p_axis) if a.ndim else np.array(0)
    check(prim()(t) if axis is None else prim(axis=axis)(t), pexp, "int32")
    check(prim(axis=p_axis, output_type=ms.int64)(t), pexp, "int64")


@pytest.mark.parametrize("name", ["max", "min"])
@HYP
@given(case=reduce_case(dtypes=NP_DTYPES, min_side=1, single_axis=True))
def test_max_min_return_values_and_indices(name, case):
    t, a, dtype, axis, keep = case
    values, indices = getattr(ops, name)(t, axis, keep)
    red, arg = (np.max, np.argmax) if name == "max" else (np.min, np.argmin)
    if axis is None:
        check(values, red(a), dtype)
        check(indices, 0, "int32")  # as in MindSpore: index 0 when no axis is given
        return
    ax = axis if a.ndim else None
    check(values, red(a, axis=ax, keepdims=keep and a.ndim > 0), dtype)
    check(indices, arg(a, axis=ax, keepdims=keep and a.ndim > 0), "int32")
    prim = ops.ArgMaxWithValue if name == "max" else ops.ArgMinWithValue
    i2, v2 = prim(axis=axis, keep_dims=keep)(t)
    np.testing.assert_array_equal(i2.asnumpy(), indices.asnumpy())
    np.testing.assert_array_equal(v2.asnumpy(), values.asnumpy())


def test_flat_argmax_of_strided_input():
    """argmax over all dims of a strided input is the row-major flat index, not the memory position."""
    a = np.array([[-1, 0], [-1, -1]], np.int8)
    t = Tensor(np.array(a.T, order="C")).T  # values a, memory order [-1, -1, 0, -1]
    check(ops.argmax(t), np.argmax(a), "int64")  # 1, returns 2
    check(ops.argmin(Tensor(np.array([[1, 0], [2, 3]], np.float32)).T), 2, "int64")


def test_max_min_examples():
    x = Tensor(np.array([[0.0, 0.7, 0.3], [0.9, 0.1, 0.9]], np.float32))
    v, i = ops.max(x)
    check(v, np.float32(0.9), "float32")
    check(i, 0, "int32")
    v, i = ops.max(x, axis=1)
    check(v, [0.7, 0.9], "float32")
    check(i, [1, 0], "int32")  # first of equal maxima
    v, i = ops.min(x, 0, keepdims=True)
    check(v, [[0.0, 0.1, 0.3]], "float32")
    check(i, [[0, 1, 0]], "int32")
    v, i = ops.max(x, 1, initial=0.8)
    check(v, [0.8, 0.9], "float32")


def test_nan_propagation():
    x = Tensor(np.array([[1.0, np.nan, 3.0], [4.0, 5.0, 6.0]], np.float32))
    check(ops.amax(x, 1), [np.nan, 6.0], "float32")
    check(ops.amin(x, 1), [np.nan, 4.0], "float32")
    check(ops.sum(x, 1), [np.nan, 15.0], "float32")
    check(ops.argmax(x, 1), [1, 2], "int64")


def test_empty_reductions():
    e = Tensor(np.zeros((0, 3), np.float32))
    check(ops.sum(e), 0.0, "float32")
    check(ops.sum(e, 0), [0, 0, 0], "float32")
    check(ops.prod(e, 0), [1, 1, 1], "float32")
    check(ops.all(e), True, "bool")
    check(ops.any(e), False, "bool")
    check(ops.mean(e, 0), [np.nan] * 3, "float32")
    check(ops.amax(e, 1), np.zeros((0,), np.float32), "float32")
    check(ops.amax(e, 0, initial=-1.0), [-1, -1, -1], "float32")
    check(ops.argmax(e, 1), np.zeros((0,), np.int64), "int64")
    with pytest.raises(ValueError, match="amax.*zero-size array"):
        ops.amax(e, 0)
    with pytest.raises(ValueError, match="amin.*zero-size array"):
        ops.amin(e)
    with pytest.raises(ValueError, match="argmax.*empty sequence"):
        ops.argmax(e)
    with pytest.raises(ValueError, match="max.*zero-size array"):
        ops.max(e, 0)


def test_zero_dim_inputs():
    s = Tensor(np.float32(2.5))
    check(ops.sum(s), 2.5, "float32")
    check(ops.sum(s, 0), 2.5, "float32")
    check(ops.argmax(s), 0, "int64")
    check(ops.argmax(s, 0), 0, "int64")
    v, i = ops.max(s, 0)
    check(v, 2.5, "float32")
    check(i, 0, "int32")
    check(ops.Argmax()(s), 0, "int32")


def test_reduce_errors():
    x = Tensor(np.ones((2, 3), np.float32))
    with pytest.raises(ValueError, match=r"sum\(\): argument 'dim' = 2 is out of range for a 2-dim tensor"):
        ops.sum(x, 2)
    with pytest.raises(ValueError, match=r"mean\(\): argument 'axis' = -3 is out of range"):
        ops.mean(x, (0, -3))
    with pytest.raises(ValueError, match=r"sum.*duplicate value in 'axis'"):
        ops.sum(x, (0, -2))
    with pytest.raises(TypeError, match=r"sum\(\): argument 'dim' must be an int or a tuple of ints, got str"):
        ops.sum(x, "0")
    with pytest.raises(TypeError, match=r"sum\(\): argument 'keepdim' must be a bool"):
        ops.sum(x, 0, 1)
    with pytest.raises(TypeError, match=r"sum\(\): argument 'dtype' must be a dtype"):
        ops.sum(x, dtype="f32")
    with pytest.raises(TypeError, match=r"prod\(\): argument 'input' must be a Tensor, got list"):
        ops.prod([1, 2])
    with pytest.raises(ValueError, match=r"var\(\): argument 'ddof' must be non-negative"):
        ops.var(x, ddof=-1)
    with pytest.raises(TypeError, match=r"std\(\): argument 'ddof' must be an int"):
        ops.std(x, ddof=0.5)
    with pytest.raises(ValueError, match=r"amax\(\): argument 'initial' must be given together with 'where'"):
        ops.amax(x, where=Tensor(np.ones((2, 3), bool)))
    with pytest.raises(ValueError, match=r"argmax\(\): argument 'dim' = 5 is out of range"):
        ops.argmax(x, 5)
    with pytest.raises(ValueError, match=r"max\(\): argument 'axis' = 2 is out of range"):
        ops.max(x, 2)
    with pytest.raises(TypeError, match=r"max\(\): argument 'axis' must be an int"):
        ops.max(x, (0, 1))
    with pytest.raises(TypeError, match=r"ReduceSum\(\): argument 'keep_dims' must be a bool"):
        ops.ReduceSum(keep_dims=1)
    with pytest.raises(ValueError, match=r"ReduceMax\(\): argument 'axis' = 3 is out of range"):
        ops.ReduceMax()(x, 3)
    with pytest.raises(TypeError, match=r"Argmax\(\): argument 'output_type' must be int32 or int64"):
        ops.Argmax(output_type=ms.float32)
    with pytest.raises(TypeError, match=r"Argmin\(\): argument 'axis' must be an int"):
        ops.Argmin(axis=None)


def test_reduce_sum_skip_mode():
    x = Tensor(np.ones((2, 3), np.float32))
    assert ops.ReduceSum(skip_mode=True)(x) is x
    check(ops.ReduceSum(skip_mode=True)(x, 1), [3, 3], "float32")
    check(ops.ReduceSum(True)(x, [0]), [[2, 2, 2]], "float32")


# ------------------------------------------------------------------------------------- larger inputs
LARGE_SHAPES = [(70001,), (257, 33), (3, 1000, 7), (64, 2, 129)]


@pytest.mark.parametrize("shape", LARGE_SHAPES)
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "int32", "int8", "bool", "bfloat16"])
def test_reductions_large(shape, dtype):
    rng = np.random.default_rng(len(shape) * 100 + ORDER.index(dtype))
    if dtype == "bool":
        a = rng.random(shape) < 0.5
    elif dtype in INTS:
        a = rng.integers(-50, 51, shape).astype(dtype)
    elif dtype == "bfloat16":
        a = (rng.integers(-64, 65, shape) / 4).astype(np.float32)
    else:
        a = rng.uniform(-10, 10, shape).astype(dtype)
    t = Tensor(a, msdt(dtype)) if dtype == "bfloat16" else Tensor(a)
    nd = a.ndim
    axes = [None, 0, nd - 1] + ([(0, nd - 1), 1] if nd >= 2 else [])
    views = [(t, a)]
    if nd >= 2:  # a transposed view: the reduction must follow logical, not memory, order
        views.append((ops.swapaxes(t, 0, nd - 1), np.swapaxes(a, 0, nd - 1)))
    for tv, av in views:
        af = av.astype(np.float64)
        for ax in axes:
            sdt = _sum_dtype(dtype)
            r = ops.sum(tv, ax)
            if sdt == "int64":
                check(r, np.sum(av.astype(np.int64), axis=ax), "int64")
            else:
                _check_accum(r, np.sum(af, axis=ax), np.sum(np.abs(af), axis=ax), sdt)
            _check_accum(ops.mean(tv, ax), np.mean(af, axis=ax), np.mean(np.abs(af), axis=ax), _mean_dtype(dtype))
            check(ops.amax(tv, ax), np.max(av, axis=ax), dtype)
            check(ops.amin(tv, ax), np.min(av, axis=ax), dtype)
            check(ops.any(tv, ax), np.any(av != 0, axis=ax), "bool")
            check(ops.all(tv, ax), np.all(av != 0, axis=ax), "bool")
            v = ops.var(tv, ax, ddof=1)
            _check_accum(v, np.var(af, axis=ax, ddof=1), np.full(np.shape(np.var(af, axis=ax)), 400.0),
                         _mean_dtype(dtype))
            if ax is None or isinstance(ax, int):
                check(ops.argmax(tv, ax), np.argmax(av, axis=ax), "int64")
                check(ops.argmin(tv, ax), np.argmin(av, axis=ax), "int64")


def test_float32_sum_accuracy():
    """Float sums accumulate in double: a long float32 sum is correctly rounded, unlike naive float32."""
    a = np.full(1_000_001, 0.1, np.float32)
    r = ops.sum(Tensor(a)).asnumpy()
    assert r == np.float32(np.sum(a.astype(np.float64)))
    h = np.full(100_000, 0.1, np.float16)
    check(ops.sum(Tensor(h)), np.float16(np.sum(h.astype(np.float64))), "float16")
