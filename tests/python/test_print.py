"""str(dynastat.Tensor(a)) prints exactly what NumPy's str(a) prints (default print options).

The C side (ds_tensor_format) is also checked against NumPy-generated golden strings in
tests/c/test_format.c; here random arrays of every NumPy-representable dtype, shape and value go
through the Python binding. bfloat16 has no NumPy dtype and is covered by the C tests only.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import dynastat

INT_DTYPES = [np.int8, np.uint8, np.int16, np.int32, np.int64]
FLOAT_DTYPES = [np.float16, np.float32, np.float64]
DTYPES = [np.bool_] + INT_DTYPES + FLOAT_DTYPES


def check(a):
    assert str(dynastat.Tensor(a)) == str(a), f"dtype={a.dtype} shape={a.shape}\n{a!r}"


def elements(dtype):
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return st.booleans()
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return st.integers(int(info.min), int(info.max))
    return st.floats(width=dtype.itemsize * 8, allow_nan=True, allow_infinity=True)


def scaled_floats(dtype):
    """Floats of a common magnitude, so positional printing and its padding get exercised."""
    hi = 60000 if np.dtype(dtype).itemsize == 2 else 10 ** 6
    return st.integers(-hi, hi).flatmap(
        lambda m: st.integers(0, 8).map(lambda k: float(np.dtype(dtype).type(m / 10.0 ** k))))


@st.composite
def arrays(draw, max_dims=4, max_side=6):
    dtype = draw(st.sampled_from(DTYPES))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=max_dims, min_side=0, max_side=max_side))
    elems = elements(dtype)
    if np.dtype(dtype).kind == "f" and draw(st.booleans()):
        elems = scaled_floats(dtype)
    a = draw(hnp.arrays(dtype, shape, elements=elems))
    # sometimes print a strided view instead of the contiguous array
    view = draw(st.sampled_from(["none", "reverse", "step", "transpose"]))
    if a.ndim >= 1 and view == "reverse":
        a = a[::-1]
    elif a.ndim >= 1 and view == "step":
        a = a[::2]
    elif a.ndim >= 2 and view == "transpose":
        a = a.T
    return a


@settings(max_examples=400, deadline=None)
@given(arrays())
def test_print_matches_numpy(a):
    check(a)


@settings(max_examples=100, deadline=None)
@given(arrays(max_dims=2, max_side=40))
def test_print_wide_rows_wrap_like_numpy(a):
    check(a)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape", [(1001,), (40, 40), (11, 11, 11), (3, 400), (7, 7, 7, 7)])
def test_print_summarised_like_numpy(dtype, shape):
    rng = np.random.default_rng(sum(shape))
    if np.dtype(dtype).kind == "b":
        a = rng.integers(0, 2, shape).astype(bool)
    elif np.dtype(dtype).kind in "iu":
        info = np.iinfo(dtype)
        a = rng.integers(info.min, info.max, shape, endpoint=True, dtype=np.int64).astype(dtype)
    else:
        a = (rng.standard_normal(shape) * 10.0 ** rng.integers(-3, 4, shape)).astype(dtype)
    check(a)
    check(a[..., ::-1])


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_print_0d_and_empty_like_numpy(dtype):
    for v in [0, 1, -1, 2.5, 1e-5, 1e7, float("nan"), float("-inf")]:
        if np.dtype(dtype).kind != "f" and not np.isfinite(v):
            continue
        with np.errstate(over="ignore", invalid="ignore"):
            check(np.array(v).astype(dtype))
    for shape in [(0,), (0, 3), (2, 0, 4)]:
        check(np.zeros(shape, dtype))


def test_print_seed_examples():
    a = np.full((1, 3, 3, 4), 2.0, np.float32)
    assert str(dynastat.Tensor(a)) == (
        "[[[[2. 2. 2. 2.]\n   [2. 2. 2. 2.]\n   [2. 2. 2. 2.]]\n\n"
        "  [[2. 2. 2. 2.]\n   [2. 2. 2. 2.]\n   [2. 2. 2. 2.]]\n\n"
        "  [[2. 2. 2. 2.]\n   [2. 2. 2. 2.]\n   [2. 2. 2. 2.]]]]")
    b = np.array([[9.02, 5.4, 7.2000003], [9.02, 5.4, 7.2000003]], np.float32)
    assert str(dynastat.Tensor(b)) == (
        "[[9.02      5.4       7.2000003]\n [9.02      5.4       7.2000003]]")
