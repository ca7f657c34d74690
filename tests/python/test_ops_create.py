"""Creation ops (zeros, ones, full, fill, *_like, arange, linspace, eye and their primitives) against NumPy,
and the random ops (uniform, normal, standard_normal, rand, randn, *_like, bernoulli, StandardNormal,
UniformReal): ranges, statistics (with fixed seeds, so deterministic), reproducibility after ms.set_seed,
and every error path."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import dynastat as ms
from dynastat import Tensor, ops
from ops_testutil import HYP, HYP_FEW, INTS, NP_DTYPES, ORDER, check, dtname, msdt, shapes, tensor_and_array

DTYPE_ARG = st.sampled_from([None] + ORDER)


def _shape_arg(draw, shape):
    """The shape as a tuple, a list, or (1-d) an int."""
    forms = [tuple(shape), list(shape)] + ([shape[0]] if len(shape) == 1 else [])
    return draw(st.sampled_from(forms))


@HYP
@given(shape=shapes(0, 4), dtype=DTYPE_ARG, data=st.data())
def test_zeros_ones(shape, dtype, data):
    size = _shape_arg(data.draw, shape)
    dt = None if dtype is None else msdt(dtype)
    odt = dtype or "float32"
    check(ops.zeros(size, dt), np.zeros(shape), odt)
    check(ops.ones(size, dt), np.ones(shape), odt)
    check(ops.zeros(size, dtype=dt), np.zeros(shape), odt)
    check(ops.Zeros()(size, dt), np.zeros(shape), odt)
    check(ops.Ones()(size, dt), np.ones(shape), odt)


@HYP
@given(shape=shapes(0, 3), dtype=DTYPE_ARG, value=st.one_of(st.integers(-100, 100), st.floats(-100, 100),
                                                            st.booleans()), data=st.data())
def test_full_fill(shape, dtype, value, data):
    size = _shape_arg(data.draw, shape)
    odt = dtype or "float32"
    npdt = np.float32 if odt == "bfloat16" else (bool if odt == "bool" else odt)
    if odt in INTS and isinstance(value, float):
        exp = np.full(shape, math.trunc(value)).astype(npdt)
    else:
        exp = np.full(shape, value).astype(npdt)
    rtol = 1.6e-2 if odt == "bfloat16" else None
    check(ops.full(size, value, dtype=None if dtype is None else msdt(dtype)), exp, odt, rtol=rtol)
    if dtype is not None:
        check(ops.fill(msdt(dtype), size, value), exp, odt, rtol=rtol)
        check(ops.Fill()(msdt(dtype), size, value), exp, odt, rtol=rtol)
    check(ops.full(size, Tensor(np.float32(2.5))), np.full(shape, 2.5), "float32")


@HYP
@given(case=tensor_and_array(ORDER), dtype=DTYPE_ARG, value=st.integers(-5, 5))
def test_like_ops(case, dtype, value):
    t, a, src = case
    odt = dtype or src
    dt = None if dtype is None else msdt(dtype)
    npdt = np.float32 if odt == "bfloat16" else (bool if odt == "bool" else odt)
    check(ops.zeros_like(t, dtype=dt), np.zeros(a.shape, npdt), odt)
    check(ops.ones_like(t, dtype=dt), np.ones(a.shape, npdt), odt)
    check(ops.full_like(t, value, dtype=dt), np.full(a.shape, value).astype(npdt), odt)
    if dtype is None:
        check(ops.ZerosLike()(t), np.zeros(a.shape, npdt), odt)
        check(ops.OnesLike()(t), np.ones(a.shape, npdt), odt)


def test_creation_errors():
    with pytest.raises(ValueError, match=r"zeros\(\): argument 'size' must not contain negative dims, got \(2, -1\)"):
        ops.zeros((2, -1))
    with pytest.raises(TypeError, match=r"ones\(\): argument 'shape' must be a tuple of ints, got float at position 0"):
        ops.ones((2.0, 3))
    with pytest.raises(TypeError, match=r"zeros\(\): argument 'dtype' must be a dtype \(such as ms.float32\), got 'f'"):
        ops.zeros((2,), "f")
    with pytest.raises(TypeError, match=r"full\(\): argument 'fill_value' must be a number, got str"):
        ops.full((2,), "x")
    with pytest.raises(ValueError, match=r"full\(\): argument 'fill_value' must be a number or a one-element Tensor"):
        ops.full((2,), Tensor(np.ones(2, np.float32)))
    with pytest.raises(TypeError, match=r"fill\(\): argument 'type' must be a dtype, got None"):
        ops.fill(None, (2,), 1)
    with pytest.raises(TypeError, match=r"zeros_like\(\): argument 'input' must be a Tensor, got list"):
        ops.zeros_like([1, 2])
    with pytest.raises(TypeError, match=r"full_like\(\): argument 'dtype' must be a dtype"):
        ops.full_like(Tensor([1.0]), 1, dtype=3)
    with pytest.raises(TypeError, match=r"zeros\(\): argument 'size' must be an int or a tuple of ints, got NoneType"):
        ops.zeros(None)


# ------------------------------------------------------------------------------------- arange / linspace / eye
@HYP
@given(start=st.integers(-20, 20), length=st.integers(0, 30), step=st.integers(1, 5), neg=st.booleans())
def test_arange_ints(start, length, step, neg):
    if neg:
        step = -step
    end = start + length * step // abs(step) if length else start
    r = ops.arange(start, end, step)
    check(r, np.arange(start, end, step), "int64")
    check(ops.arange(abs(end)), np.arange(abs(end)), "int64")
    check(ops.arange(start, end, step, dtype=ms.int32), np.arange(start, end, step), "int32")
    check(ops.arange(Tensor(np.int32(start)), end, step), np.arange(start, end, step), "int64")


@HYP
@given(start=st.floats(-10, 10), length=st.floats(0, 10), step=st.sampled_from([0.1, 0.25, 0.5, 1.0, 1.5, -0.5]))
def test_arange_floats(start, length, step):
    end = start + length * (1 if step > 0 else -1)
    exp = np.arange(start, end, step)
    r = ops.arange(start, end, step)
    assert r.dtype == ms.float32
    assert r.shape == exp.shape
    np.testing.assert_allclose(r.asnumpy(), exp.astype(np.float32), rtol=1e-6, atol=1e-5)
    r64 = ops.arange(start, end, step, dtype=ms.float64)
    np.testing.assert_allclose(r64.asnumpy(), exp, rtol=1e-12, atol=1e-12)


def test_arange_dtype_rule_and_forms():
    check(ops.arange(5), np.arange(5), "int64")
    check(ops.arange(1, 4), [1, 2, 3], "int64")
    check(ops.arange(0, 2, 0.5), [0, 0.5, 1.0, 1.5], "float32")
    check(ops.arange(0.0, 3), [0, 1, 2], "float32")
    check(ops.arange(0, 3.0), [0, 1, 2], "float32")
    check(ops.arange(Tensor(np.float32(3))), [0, 1, 2], "float32")
    check(ops.arange(5, 1, -2), [5, 3], "int64")
    check(ops.arange(2, 2), np.zeros(0), "int64")
    check(ops.arange(0, 5, 2, dtype=ms.float16), [0, 2, 4], "float16")
    check(ops.arange(start=1, end=3), [1, 2], "int64")


def test_arange_errors():
    with pytest.raises(ValueError, match=r"arange\(\): argument 'step' must not be zero"):
        ops.arange(0, 5, 0)
    with pytest.raises(ValueError, match=r"arange\(\): with step 1, end \(0\) must be on the same side"):
        ops.arange(5, 0)
    with pytest.raises(ValueError, match=r"arange\(\): with step -1"):
        ops.arange(0, 5, -1)
    with pytest.raises(TypeError, match=r"arange\(\): argument 'end' must be an int or a float, got str"):
        ops.arange(0, "5")
    with pytest.raises(TypeError, match=r"arange\(\): argument 'start' must be an int or a float, got bool"):
        ops.arange(True, 5)
    with pytest.raises(TypeError, match=r"arange\(\): dtype bool is not supported"):
        ops.arange(5, dtype=ms.bool_)
    with pytest.raises(ValueError, match=r"arange\(\): argument 'end' must be finite"):
        ops.arange(0, float("inf"))
    with pytest.raises(ValueError, match=r"arange\(\): argument 'start' must be a number or a one-element Tensor"):
        ops.arange(Tensor(np.zeros(2, np.float32)), 3)


@HYP
@given(start=st.floats(-100, 100), end=st.floats(-100, 100), steps=st.integers(1, 50))
def test_linspace(start, end, steps):
    exp = np.linspace(start, end, steps)
    r = ops.linspace(start, end, steps)
    assert r.dtype == ms.float32
    np.testing.assert_allclose(r.asnumpy(), exp.astype(np.float32), rtol=1e-6, atol=1e-4)
    assert r.asnumpy()[0] == np.float32(start)
    if steps > 1:
        assert r.asnumpy()[-1] == np.float32(end)
    r2 = ops.linspace(Tensor(np.float32(start)), Tensor(np.float32(end)), Tensor(np.int64(steps)))
    np.testing.assert_allclose(r2.asnumpy(), np.linspace(np.float32(start), np.float32(end), steps), rtol=1e-6,
                               atol=1e-4)


def test_linspace_errors():
    with pytest.raises(ValueError, match=r"linspace\(\): argument 'steps' must be positive, got 0"):
        ops.linspace(0, 1, 0)
    with pytest.raises(TypeError, match=r"linspace\(\): argument 'steps' must be an int, got float"):
        ops.linspace(0, 1, 2.5)
    with pytest.raises(TypeError, match=r"linspace\(\): argument 'start' must be an int or a float"):
        ops.linspace(None, 1, 2)


@HYP
@given(n=st.integers(0, 6), m=st.one_of(st.none(), st.integers(0, 6)), dtype=DTYPE_ARG)
def test_eye(n, m, dtype):
    odt = dtype or "float32"
    npdt = np.float32 if odt == "bfloat16" else (bool if odt == "bool" else odt)
    exp = np.eye(n, m).astype(npdt)
    check(ops.eye(n, m, None if dtype is None else msdt(dtype)), exp, odt)
    check(ops.Eye()(n, n if m is None else m, msdt(odt)), exp, odt)


def test_eye_errors():
    with pytest.raises(ValueError, match=r"eye\(\): arguments 'n' and 'm' must be non-negative, got n=-1, m=2"):
        ops.eye(-1, 2)
    with pytest.raises(TypeError, match=r"eye\(\): argument 'n' must be an int, got float"):
        ops.eye(2.0)
    with pytest.raises(TypeError, match=r"eye\(\): argument 'm' must be an int, got str"):
        ops.eye(2, "3")


# ------------------------------------------------------------------------------------- random
N = 20000


def _ks_uniform(x, lo, hi):
    """Kolmogorov-Smirnov distance of the samples to U(lo, hi)."""
    x = np.sort((np.asarray(x, np.float64).ravel() - lo) / (hi - lo))
    n = x.size
    i = np.arange(1, n + 1)
    return max(np.max(i / n - x), np.max(x - (i - 1) / n))


def _ks_normal(x, mean, std):
    z = np.sort((np.asarray(x, np.float64).ravel() - mean) / std)
    cdf = 0.5 * (1 + np.vectorize(math.erf)(z / math.sqrt(2)))
    n = z.size
    i = np.arange(1, n + 1)
    return max(np.max(i / n - cdf), np.max(cdf - (i - 1) / n))


KS_LIMIT = 1.95 / math.sqrt(N)  # the 0.1% critical value; the seeds are fixed, so no flakiness


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
def test_uniform_statistics(dtype):
    ms.set_seed(1234)
    r = ops.uniform((N,), Tensor(-2.0), Tensor(3.0), dtype=msdt(dtype))
    assert dtname(r.dtype) == dtype and r.shape == (N,)
    x = r.asnumpy().astype(np.float64)
    assert x.min() >= -2.0 and x.max() < 3.0 or (dtype == "float16" and x.max() <= 3.0)
    assert _ks_uniform(x, -2.0, 3.0) < KS_LIMIT + (2e-3 if dtype == "float16" else 0)
    assert abs(x.mean() - 0.5) < 5 * 5 / math.sqrt(12 * N)


def test_uniform_int_and_tensor_bounds():
    ms.set_seed(7)
    r = ops.uniform((N,), Tensor(np.int32(-3)), Tensor(np.int32(4)), dtype=ms.int32)
    assert r.dtype == ms.int32
    x = r.asnumpy()
    assert set(np.unique(x)) == set(range(-3, 4))
    counts = np.bincount(x + 3)
    assert np.all(np.abs(counts - N / 7) < 5 * math.sqrt(N / 7))
    lo = Tensor(np.array([0.0, 10.0], np.float32))
    hi = Tensor(np.array([1.0, 20.0], np.float32))
    r = ops.uniform((N // 2, 2), lo, hi).asnumpy()
    assert r.shape == (N // 2, 2)
    assert r[:, 0].min() >= 0 and r[:, 0].max() < 1 and r[:, 1].min() >= 10 and r[:, 1].max() < 20
    assert _ks_uniform(r[:, 1], 10, 20) < 1.95 / math.sqrt(N // 2)


@pytest.mark.parametrize("form", ["standard_normal", "randn", "StandardNormal", "normal", "normal_tensor"])
def test_normal_statistics(form):
    ms.set_seed(99)
    mean, std = 0.0, 1.0
    if form == "standard_normal":
        r = ops.standard_normal((N,))
    elif form == "randn":
        r = ops.randn(N // 100, 100)
    elif form == "StandardNormal":
        r = ops.StandardNormal(seed=2)((N,))
    elif form == "normal":
        mean, std = 3.0, 0.5
        r = ops.normal((N,), mean, std)
    else:
        mean, std = -1.0, 2.0
        r = ops.normal((N,), Tensor(np.float32(mean)), Tensor(np.array([std], np.float32)))
    assert r.dtype == ms.float32 and r.size == N
    x = r.asnumpy().astype(np.float64)
    assert abs(x.mean() - mean) < 5 * std / math.sqrt(N)
    assert abs(x.std() - std) < 0.05 * std
    assert _ks_normal(x, mean, std) < KS_LIMIT


def test_normal_broadcast_tensor_params():
    ms.set_seed(3)
    m = Tensor(np.array([[0.0], [100.0]], np.float32))
    s = Tensor(np.array([1.0, 0.0, 2.0], np.float32))
    r = ops.normal((2, 3), m, s).asnumpy()
    assert r.shape == (2, 3)
    assert r[0, 1] == 0.0 and r[1, 1] == 100.0  # std 0
    assert abs(r[1, 0] - 100) < 6 and abs(r[0, 2]) < 12


@pytest.mark.parametrize("form", ["rand", "rand_tuple", "UniformReal", "rand_like"])
def test_rand_statistics(form):
    ms.set_seed(5)
    if form == "rand":
        r = ops.rand(N // 10, 10)
    elif form == "rand_tuple":
        r = ops.rand((N,), dtype=ms.float64)
    elif form == "UniformReal":
        r = ops.UniformReal(seed=1, seed2=2)((N,))
    else:
        r = ops.rand_like(Tensor(np.zeros(N, np.float16)))
    x = r.asnumpy().astype(np.float64)
    assert x.min() >= 0 and (x.max() < 1 or r.dtype == ms.float16)
    assert _ks_uniform(x, 0, 1) < KS_LIMIT + (1e-3 if r.dtype == ms.float16 else 0)


@pytest.mark.parametrize("dtype", ["float32", "int32", "bool", "float16"])
@pytest.mark.parametrize("p", [0.0, 0.3, 1.0])
def test_bernoulli_scalar_p(dtype, p):
    ms.set_seed(11)
    x = Tensor(np.zeros(N), msdt(dtype))
    r = ops.bernoulli(x, p)
    assert dtname(r.dtype) == dtype and r.shape == (N,)
    v = r.asnumpy().astype(np.float64)
    assert set(np.unique(v)) <= {0.0, 1.0}
    assert abs(v.mean() - p) < 5 * math.sqrt(p * (1 - p) / N) + 1e-12


def test_bernoulli_tensor_p():
    ms.set_seed(12)
    p = np.tile(np.array([0.0, 0.2, 0.9, 1.0], np.float32), N // 4)
    r = ops.bernoulli(Tensor(np.zeros(N, np.float32)), Tensor(p))
    v = r.asnumpy().reshape(-1, 4)
    assert v[:, 0].sum() == 0 and v[:, 3].sum() == N // 4
    for k, q in ((1, 0.2), (2, 0.9)):
        assert abs(v[:, k].mean() - q) < 5 * math.sqrt(q * (1 - q) / (N // 4))
    r = ops.bernoulli(Tensor(np.zeros((3, 4), np.int64)), Tensor(np.float32(1.0)))
    check(r, np.ones((3, 4)), "int64")


RANDOM_CALLS = {
    "uniform": lambda: ops.uniform((50,), Tensor(0.0), Tensor(1.0)),
    "uniform_int": lambda: ops.uniform((50,), Tensor(0), Tensor(100), dtype=ms.int32),
    "normal": lambda: ops.normal((50,), 1.0, 2.0),
    "standard_normal": lambda: ops.standard_normal((50,)),
    "rand": lambda: ops.rand(50),
    "randn": lambda: ops.randn(5, 10),
    "randn_like": lambda: ops.randn_like(Tensor(np.zeros(50, np.float32))),
    "bernoulli": lambda: ops.bernoulli(Tensor(np.zeros(50, np.float32)), 0.5),
    "StandardNormal": lambda: ops.StandardNormal()((50,)),
    "UniformReal": lambda: ops.UniformReal()((50,)),
}


@pytest.mark.parametrize("name", sorted(RANDOM_CALLS))
def test_random_reproducible_after_set_seed(name):
    f = RANDOM_CALLS[name]
    ms.set_seed(2024)
    a1, a2 = f().asnumpy(), f().asnumpy()
    ms.set_seed(2024)
    b1, b2 = f().asnumpy(), f().asnumpy()
    np.testing.assert_array_equal(a1, b1)
    np.testing.assert_array_equal(a2, b2)
    assert not np.array_equal(a1, a2)  # successive calls draw new values
    ms.set_seed(2025)
    assert not np.array_equal(f().asnumpy(), a1)


def test_random_sequence_independent_of_shape_split():
    """Reproducibility holds across calls of other ops in between (they do not consume random state)."""
    ms.set_seed(8)
    a = ops.rand(10).asnumpy()
    ms.set_seed(8)
    ops.add(ops.ones((3,)), 1)
    ops.arange(10)
    b = ops.rand(10).asnumpy()
    np.testing.assert_array_equal(a, b)


@HYP_FEW
@given(shape=shapes(0, 3, max_side=4))
def test_random_shapes(shape):
    for r in (ops.rand(*shape) if shape else ops.rand(()), ops.randn(shape), ops.standard_normal(shape),
              ops.normal(shape), ops.uniform(shape, 0.0, 2.0), ops.StandardNormal()(shape)):
        assert r.shape == tuple(shape)
        assert r.dtype == ms.float32


def test_random_errors():
    with pytest.raises(ValueError, match=r"uniform\(\): 'minval' \(2.0\) must not be greater than 'maxval' \(1.0\)"):
        ops.uniform((2,), Tensor(2.0), Tensor(1.0))
    with pytest.raises(ValueError, match=r"uniform\(\): for integer dtype Int32, 'minval' \(3\) must be less than"):
        ops.uniform((2,), 3, 3, dtype=ms.int32)
    with pytest.raises(TypeError, match=r"uniform\(\): argument 'shape' must be a tuple or list of ints, got int"):
        ops.uniform(3, 0.0, 1.0)
    with pytest.raises(ValueError, match=r"uniform\(\): argument 'seed' must be a non-negative int, got -1"):
        ops.uniform((2,), 0.0, 1.0, seed=-1)
    with pytest.raises(TypeError, match=r"uniform\(\): argument 'dtype' must be an integer or floating-point dtype"):
        ops.uniform((2,), 0.0, 1.0, dtype=ms.bool_)
    with pytest.raises(ValueError, match=r"normal\(\): argument 'stddev' must be non-negative, got -1"):
        ops.normal((2,), 0.0, -1.0)
    with pytest.raises(ValueError, match=r"normal\(\): argument 'shape' must not contain negative dims"):
        ops.normal((-2,))
    with pytest.raises(TypeError, match=r"rand\(\): argument 'dtype' must be a floating-point dtype, got Int32"):
        ops.rand(3, dtype=ms.int32)
    with pytest.raises(TypeError, match=r"randn\(\): argument 'size' must be a tuple of ints, got float"):
        ops.randn(2.5)
    with pytest.raises(TypeError, match=r"standard_normal\(\): argument 'seed2' must be an int, got str"):
        ops.standard_normal((2,), seed2="x")
    with pytest.raises(ValueError, match=r"bernoulli\(\): argument 'p' must be in \[0, 1\], got 1.5"):
        ops.bernoulli(Tensor(np.zeros(3, np.float32)), 1.5)
    with pytest.raises(ValueError, match=r"bernoulli.*probability 2 at element 1 is outside \[0, 1\]"):
        ops.bernoulli(Tensor(np.zeros(3, np.float32)), Tensor(np.array([0.5, 2.0, 0.1], np.float32)))
    with pytest.raises(TypeError, match=r"bernoulli\(\): argument 'input' must be a Tensor"):
        ops.bernoulli([0.0], 0.5)
    with pytest.raises(ValueError, match=r"StandardNormal\(\): argument 'seed' must be a non-negative int"):
        ops.StandardNormal(seed=-3)
    with pytest.raises(TypeError, match=r"UniformReal\(\): argument 'seed2' must be an int, got float"):
        ops.UniformReal(seed2=1.5)
    with pytest.raises(TypeError, match=r"UniformReal\(\): argument 'shape' must be a tuple or list of ints"):
        ops.UniformReal()(None)


def test_bernoulli_primitive():
    ms.set_seed(21)
    x = Tensor(np.zeros(N, np.float32))
    v = ops.Bernoulli(seed=5)(x, 0.25).asnumpy()
    assert abs(v.mean() - 0.25) < 5 * math.sqrt(0.25 * 0.75 / N)
    ms.set_seed(21)
    np.testing.assert_array_equal(ops.Bernoulli()(x, 0.25).asnumpy(), v)
    with pytest.raises(TypeError, match=r"Bernoulli\(\): argument 'seed' must be an int"):
        ops.Bernoulli(seed=0.5)
