"""Shared helpers of the test_ops_*.py files: dtype tables, the promotion rule, hypothesis strategies for
arrays in several memory layouts, and tolerant comparison against NumPy references."""
import math
import os

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import dynastat as ms
from dynastat import Tensor

# modest example counts: the whole Python suite must run in a few minutes on 2 shared cores.
# DS_TEST_EXAMPLES=500 (say) runs a deeper search.
_EXAMPLES = int(os.environ.get("DS_TEST_EXAMPLES", "30"))
HYP = settings(max_examples=_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                            HealthCheck.data_too_large])
HYP_FEW = settings(max_examples=max(_EXAMPLES // 3, 5), deadline=None, suppress_health_check=[HealthCheck.too_slow])

ORDER = ["bool", "int8", "uint8", "int16", "int32", "int64", "float16", "bfloat16", "float32", "float64"]
NP_DTYPES = [d for d in ORDER if d != "bfloat16"]
FLOATS = ["float16", "bfloat16", "float32", "float64"]
NP_FLOATS = ["float16", "float32", "float64"]
INTS = ["int8", "uint8", "int16", "int32", "int64"]
SIGNED = ["int8", "int16", "int32", "int64"]


def msdt(name):
    """The dynastat dtype object of a dtype name."""
    return getattr(ms, "bool_" if name == "bool" else name)


def dtname(dt):
    """The lower-case name of a dynastat dtype ("float32")."""
    return str(dt).lower().replace("bool_", "bool")


def promote(a, b):
    """Tensor-Tensor promotion (docs/dtypes.md)."""
    if a == b:
        return a
    if {a, b} == {"int8", "uint8"}:
        return "int16"
    if {a, b} == {"float16", "bfloat16"}:
        return "float32"
    return a if ORDER.index(a) > ORDER.index(b) else b


def scalar_dtype(value, tensor_dtype):
    """The dtype a Python scalar takes against a tensor of tensor_dtype (docs/dtypes.md)."""
    if isinstance(value, bool):
        return tensor_dtype
    if isinstance(value, int):
        return "int64" if tensor_dtype == "bool" else tensor_dtype
    return tensor_dtype if tensor_dtype in FLOATS else "float32"


# ------------------------------------------------------------------------------------- strategies
def shapes(min_dims=0, max_dims=4, min_side=0, max_side=4):
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def elements(dtype, lo=None, hi=None):
    """Finite elements of a dtype in [lo, hi] (default [-100, 100], small enough for float16 products)."""
    lo = -100 if lo is None else lo
    hi = 100 if hi is None else hi
    if dtype == "bool":
        return st.booleans()
    if dtype in INTS:
        info = np.iinfo(dtype)
        return st.integers(max(info.min, math.ceil(lo)), min(info.max, math.floor(hi)))
    width = 16 if dtype == "float16" else 32 if dtype == "float32" else 64
    return st.floats(_exact(lo, dtype, 1), _exact(hi, dtype, -1), width=width, allow_nan=False,
                     allow_infinity=False)


def _exact(v, dtype, direction):
    """v rounded (inwards, in `direction`) to a value the dtype represents exactly."""
    t = np.dtype(dtype).type
    r = t(v)
    if (direction > 0 and r < v) or (direction < 0 and r > v):
        r = np.nextafter(r, t(direction * np.inf))
    return float(r)


def arrays(dtype, shape, lo=None, hi=None):
    """NumPy arrays (bfloat16 is drawn as float32 multiples of 1/4 within [-16, 16], which bfloat16
    represents exactly)."""
    if dtype == "bfloat16":
        a = -64 if lo is None else max(-64, math.ceil(lo * 4))
        b = 64 if hi is None else min(64, math.floor(hi * 4))
        return hnp.arrays(np.float32, shape, elements=st.integers(a, b).map(lambda i: i / 4.0))
    return hnp.arrays(np.dtype(dtype), shape, elements=elements(dtype, lo, hi))


LAYOUTS = ["contiguous", "transposed", "sliced"]


def to_tensor(a, layout="contiguous", dtype=None):
    """A Tensor with a's values (and dtype, or `dtype` for bfloat16) in the given memory layout:
    contiguous, a transposed view, or a view of every second element of the last dim."""
    dt = None if dtype is None else msdt(dtype)
    if layout == "transposed" and a.ndim >= 2:
        t = Tensor(np.array(a.T, order="C"), dt).T
    elif layout == "sliced" and a.ndim >= 1:
        t = Tensor(np.repeat(a, 2, axis=-1), dt)[..., ::2]
    else:
        t = Tensor(np.array(a, order="C"), dt)
    return t


@st.composite
def tensor_and_array(draw, dtypes, shape=None, lo=None, hi=None, min_dims=0, max_dims=4):
    """(Tensor in a random layout, NumPy array with its values, dtype name)."""
    dtype = draw(st.sampled_from(dtypes))
    shp = draw(shapes(min_dims, max_dims)) if shape is None else shape
    a = draw(arrays(dtype, shp, lo, hi))
    layout = draw(st.sampled_from(LAYOUTS))
    return to_tensor(a, layout, dtype if dtype == "bfloat16" else None), a, dtype


# ------------------------------------------------------------------------------------- comparisons
RTOL = {"float16": 2e-3, "bfloat16": 1.6e-2, "float32": 1e-6, "float64": 1e-12}


def check(result, expected, dtype=None, rtol=None, atol=None, equal_nan=True):
    """Asserts a Tensor's dtype, shape and values: exact for ints and bools, else within tolerance."""
    assert isinstance(result, Tensor), type(result)
    exp = np.asarray(expected)
    if dtype is not None:
        assert dtname(result.dtype) == dtype, (result.dtype, dtype)
    got = result.asnumpy()
    assert got.shape == exp.shape, (got.shape, exp.shape)
    name = dtname(result.dtype)
    if name not in FLOATS:
        np.testing.assert_array_equal(got, exp.astype(got.dtype))
        return
    if name in ("float16", "float32") and exp.dtype != got.dtype:
        with np.errstate(all="ignore"):
            exp = exp.astype(np.float64).astype(name)  # compare with the correctly rounded value
    r = RTOL[name] if rtol is None else rtol
    a = (r if atol is None else atol)
    np.testing.assert_allclose(got.astype(np.float64), exp.astype(np.float64), rtol=r, atol=a,
                               equal_nan=equal_nan)


def as_np(a, dtype):
    """a (drawn for `dtype`) as the NumPy array of the values a dynastat tensor of that dtype holds."""
    return a.astype(np.float32) if dtype == "bfloat16" else a
