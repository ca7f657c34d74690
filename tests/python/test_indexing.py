"""Tensor.__getitem__ / __setitem__ against NumPy.

Basic indices (ints, slices, None, Ellipsis) give views sharing memory; integer and boolean arrays
(lists, NumPy arrays, Tensors) are advanced indices following NumPy's rules, including where the
broadcast index dims go (in place when the advanced indices are adjacent, first otherwise).
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import dynastat as ms
from dynastat import Tensor

HYP = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def base(shape, dtype=np.float32):
    a = np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape)
    if dtype == np.bool_:
        return np.asarray(a % 3 == 1)
    return a.astype(dtype)


def check_same(got, expect):
    assert isinstance(got, Tensor), type(got)
    assert got.shape == expect.shape, (got.shape, expect.shape)
    g = got.asnumpy()
    assert g.dtype == expect.dtype, (g.dtype, expect.dtype)
    np.testing.assert_array_equal(g, expect)


# ---------------------------------------------------------------------------- index specs
# An index item is an int, slice, None, Ellipsis, or Arr (an integer/bool array given to dynastat
# as a list, a NumPy array or a Tensor).
class Arr:
    def __init__(self, a, kind):
        self.a = np.asarray(a)
        self.kind = kind

    def to_ds(self):
        if self.kind == "list":
            return self.a.tolist()
        if self.kind == "ndarray":
            return self.a
        return Tensor(self.a)

    def __repr__(self):
        return f"{self.kind}({self.a.tolist()!r}, {self.a.dtype})"


def to_np(key):
    if isinstance(key, tuple):
        return tuple(to_np(k) for k in key)
    return key.a if isinstance(key, Arr) else key


def to_ds(key):
    if isinstance(key, tuple):
        return tuple(to_ds(k) for k in key)
    return key.to_ds() if isinstance(key, Arr) else key


def variants(key):
    """The key with every Arr given as a list, an ndarray and a Tensor."""
    def conv(k, kind):
        if isinstance(k, tuple):
            return tuple(conv(x, kind) for x in k)
        if isinstance(k, (list, np.ndarray)):
            return Arr(np.asarray(k), kind)
        return k

    has_arr = any(isinstance(k, (list, np.ndarray)) for k in (key if isinstance(key, tuple) else (key,)))
    kinds = ["list", "ndarray", "tensor"] if has_arr else ["list"]
    return [conv(key, kind) for kind in kinds]


# ---------------------------------------------------------------------------- strategies
shapes = st.lists(st.integers(1, 4), min_size=0, max_size=4).map(tuple)
shapes_with_zero = st.lists(st.integers(0, 4), min_size=1, max_size=3).map(tuple)
kinds = st.sampled_from(["list", "ndarray", "tensor"])
steps = st.sampled_from([None, 1, 2, 3, -1, -2, -3])


@st.composite
def slices(draw, size):
    bound = st.one_of(st.none(), st.integers(-size - 2, size + 2))
    return slice(draw(bound), draw(bound), draw(steps))


@st.composite
def index_keys(draw, shape, advanced=True, out_of_bounds=False):
    """A random index for an array of `shape`: walks the dims, picking an item for each, with
    occasional None and one Ellipsis; advanced items share a broadcastable index shape."""
    items = []
    ndim = len(shape)
    d = 0
    used_ellipsis = False
    bshape = draw(st.sampled_from([(1,), (2,), (3,), (2, 1), (1, 3), (2, 3)]))
    int_dtype = draw(st.sampled_from([np.int64, np.int32, np.int16, np.int8, np.uint8]))
    stop_at = draw(st.integers(0, ndim))  # dims left to the end (implicit full slices)
    n_none = 0  # at most 2, so results stay within dynastat's 8 dims
    while d < stop_at:
        size = shape[d]
        kind = draw(st.sampled_from(["int", "slice", "slice", "none", "ellipsis", "intarr", "boolarr"]
                                    if advanced else ["int", "slice", "slice", "none", "ellipsis"]))
        if kind == "none":
            if n_none < 2:
                items.append(None)
                n_none += 1
            continue
        if kind == "ellipsis":
            if used_ellipsis:
                continue
            used_ellipsis = True
            # the ellipsis stands for some dims; the items after it index the last dims
            stop_at = ndim
            skip = draw(st.integers(0, stop_at - d))
            items.append(Ellipsis)
            d += skip
            continue
        if size == 0 and kind in ("int", "intarr"):
            kind = "slice"
        if kind == "int":
            lo, hi = (-size - 2, size + 1) if out_of_bounds else (-size, size - 1)
            items.append(draw(st.integers(lo, hi)))
            d += 1
        elif kind == "slice":
            items.append(draw(slices(size)))
            d += 1
        elif kind == "intarr":
            ishape = draw(st.sampled_from([bshape, bshape[-1:], (1,) * len(bshape), ()]))
            lo, hi = (-size - 1, size) if out_of_bounds else (-size, size - 1)
            n = int(np.prod(ishape))
            vals = draw(st.lists(st.integers(lo, hi), min_size=n, max_size=n))
            arr = np.array(vals, dtype=np.int64).reshape(ishape)
            dt = int_dtype if (arr.min(initial=0) >= 0 or int_dtype != np.uint8) else np.int64
            items.append(Arr(arr.astype(dt), draw(kinds)))
            d += 1
        else:  # boolean mask over 1 or 2 dims
            span = draw(st.integers(1, min(2, ndim - d)))
            mshape = shape[d:d + span]
            n = int(np.prod(mshape))
            vals = draw(st.lists(st.booleans(), min_size=n, max_size=n))
            # an empty list cannot carry a mask's shape or dtype ([] indexes like an empty int array)
            kind_of_mask = draw(kinds) if n > 0 else "ndarray"
            items.append(Arr(np.array(vals, dtype=bool).reshape(mshape), kind_of_mask))
            d += span
    if n_none < 2 and draw(st.booleans()):
        items.extend([None] * draw(st.integers(0, 1)))
    if out_of_bounds and stop_at == ndim and draw(st.integers(0, 3)) == 0:
        items.append(draw(st.sampled_from([0, slice(None), slice(None, None, -1)])))  # one index too many
    if len(items) == 1 and draw(st.booleans()):
        return items[0]  # a bare (non-tuple) key
    return tuple(items)


@st.composite
def array_and_key(draw, advanced=True, out_of_bounds=False):
    shape = draw(st.one_of(shapes, shapes_with_zero) if not out_of_bounds else shapes)
    dtype = draw(st.sampled_from([np.float32, np.float32, np.int16, np.bool_, np.float16, np.int64]))
    key = draw(index_keys(shape, advanced=advanced, out_of_bounds=out_of_bounds))
    return base(shape, dtype), key


# ---------------------------------------------------------------------------- getitem: random keys vs NumPy
@HYP
@given(array_and_key())
def test_getitem_random_matches_numpy(ak):
    a, key = ak
    t = Tensor(a)
    try:
        expect = a[to_np(key)]
    except IndexError:
        with pytest.raises(IndexError):
            t[to_ds(key)]
        return
    check_same(t[to_ds(key)], expect)


@HYP
@given(array_and_key(advanced=False))
def test_getitem_basic_random_is_view(ak):
    a, key = ak
    t = Tensor(a)
    expect = a[to_np(key)]
    got = t[to_ds(key)]
    check_same(got, expect)
    if expect.size:
        assert got.shares_memory(t)
        assert np.shares_memory(got.asnumpy(), t.asnumpy())


@HYP
@given(array_and_key(out_of_bounds=True))
def test_getitem_random_errors_match_numpy(ak):
    a, key = ak
    t = Tensor(a)
    try:
        expect = a[to_np(key)]
    except IndexError as e:
        with pytest.raises(IndexError) as ei:
            t[to_ds(key)]
        if "out of bounds" in str(e):
            assert "out of bounds" in str(ei.value)
        return
    check_same(t[to_ds(key)], expect)


@HYP
@given(st.lists(st.integers(1, 4), min_size=2, max_size=4).map(tuple), st.data())
def test_getitem_on_noncontiguous_view(shape, data):
    a = base(shape)
    # index a transposed, reversed view (negative and permuted strides)
    av = a.T[::-1]
    t = Tensor(a).T[::-1]
    key = data.draw(index_keys(av.shape))
    try:
        expect = av[to_np(key)]
    except IndexError:
        with pytest.raises(IndexError):
            t[to_ds(key)]
        return
    check_same(t[to_ds(key)], expect)


# ---------------------------------------------------------------------------- setitem: random keys vs NumPy
@st.composite
def setitem_case(draw):
    a, key = draw(array_and_key())
    return a, key, draw(st.integers(0, 4)), draw(kinds)


@HYP
@given(setitem_case())
def test_setitem_random_matches_numpy(case):
    a, key, vchoice, vkind = case
    nkey = to_np(key)
    try:
        region = a[nkey]
    except IndexError:
        t = Tensor(a)
        with pytest.raises(IndexError):
            t[to_ds(key)] = 1
        return
    # positions written; with duplicates only a scalar value has a defined result
    pos = np.arange(a.size).reshape(a.shape)[nkey]
    dup = np.unique(pos).size < pos.size
    rshape = region.shape
    if vchoice == 0 or dup or not rshape:
        value = np.array(7, dtype=a.dtype)
    elif vchoice == 1:  # full result shape
        value = (np.arange(int(np.prod(rshape))).reshape(rshape) + 100).astype(a.dtype)
    elif vchoice == 2:  # trailing dims only (broadcast over leading ones)
        value = (np.arange(rshape[-1]) + 50).astype(a.dtype)
    elif vchoice == 3:  # size-1 dims broadcast
        vs = tuple(1 if i % 2 == 0 else s for i, s in enumerate(rshape))
        value = (np.arange(int(np.prod(vs))).reshape(vs) + 30).astype(a.dtype)
    else:  # a different dtype, converted to the tensor's
        value = (np.arange(int(np.prod(rshape))).reshape(rshape) % 5).astype(np.float64 if a.dtype != np.float64
                                                                            else np.int32)
    expect = a.copy()
    expect[nkey] = value
    t = Tensor(a)
    if vkind == "list" and value.size == 0:
        v = value  # tolist() would lose the shape
    elif vkind == "list":
        v = value.tolist()
        if isinstance(v, list) and value.dtype.kind == "f" and a.dtype.kind in "iub":
            v = value  # Python floats from a list would be float32: keep the array for exact equality
    elif vkind == "ndarray":
        v = value
    else:
        v = Tensor(value)
    t[to_ds(key)] = v
    check_same(t, expect)


@HYP
@given(array_and_key(advanced=False), st.integers(-5, 5))
def test_setitem_basic_through_view(ak, value):
    """Writing through a basic-indexed view writes the base tensor."""
    a, key = ak
    t = Tensor(a)
    v = t[to_ds(key)]
    v[...] = value
    expect = a.copy()
    expect[to_np(key)] = value
    check_same(t, expect)


# ---------------------------------------------------------------------------- getitem: explicit cases
A = base((3, 4, 5))
GETITEM_CASES = [
    np.s_[0], np.s_[-1], np.s_[2, -1], np.s_[-3, 0, -5], np.s_[1:], np.s_[:-1], np.s_[::2], np.s_[::-1],
    np.s_[::-2], np.s_[2:0:-1], np.s_[-1:-4:-2], np.s_[1:3, ::-1, 4:0:-3], np.s_[5:], np.s_[-100:100],
    np.s_[None], np.s_[None, None], np.s_[:, None], np.s_[..., None], np.s_[None, ..., None, 1],
    np.s_[...], np.s_[..., 0], np.s_[0, ...], np.s_[0, ..., 1], np.s_[1, None, ..., ::2], np.s_[()],
    np.s_[0, 1, 2], np.s_[:, :, -1],
    # integer arrays
    np.s_[[0, 2]], np.s_[[-1, 0, -1]], np.s_[[[0, 1], [2, 0]]], np.s_[:, [3, 0]], np.s_[..., [4, 4, 0]],
    np.s_[[0, 1], [1, 2]],  # several, adjacent
    np.s_[:, [0, 1], [1, 2]],  # adjacent, in the middle: broadcast dims stay in place
    np.s_[[0, 1], :, [1, 2]],  # separated by a slice: broadcast dims go first
    np.s_[[0, 2], ::-1, [[1], [3]]],  # separated, broadcast (2,) with (2, 1)
    np.s_[1, :, [0, 2]],  # int + array separated: the int counts as advanced
    np.s_[:, 1, [0, 2]],  # int + array adjacent
    np.s_[[[0]], [1, 2], [3]],  # three arrays broadcast to (1, 2)
    np.s_[None, [0, 1], None, [1, 2]],
    np.s_[[1], ..., [2]],
    np.s_[[0, 2], 1:3, 2],
    # boolean masks
    np.s_[[True, False, True]], np.s_[:, [False, True, True, False]],
    np.s_[np.array([[True, False, True, False], [False, False, True, True], [True, True, True, True]])],
    np.s_[..., np.ones((4, 5), dtype=bool)],
    np.s_[np.eye(3, 4, dtype=bool), 1:],
    np.s_[[False, False, False]],
    np.s_[np.ones((3, 4, 5), dtype=bool)],
    np.s_[[True, False, True], [1, 3]],  # mask + int array broadcast together
    np.s_[[True, False, True], :, [1, 3]],
    np.s_[[True, True, False], None, 0],
]


def case_id(key):
    def one(k):
        if k is None:
            return "None"
        if k is Ellipsis:
            return "..."
        if isinstance(k, slice):
            return ":".join("" if v is None else str(v) for v in (k.start, k.stop, k.step)).rstrip(":") or ":"
        if isinstance(k, np.ndarray):
            return f"{k.dtype.name}{list(k.shape)}"
        return repr(k).replace(" ", "")
    items = key if isinstance(key, tuple) else (key,)
    return ",".join(one(k) for k in items)[:60] or "()"


@pytest.mark.parametrize("key", GETITEM_CASES, ids=case_id)
def test_getitem_cases(key):
    t = Tensor(A)
    expect = A[key]
    for k in variants(key):
        check_same(t[to_ds(k)], expect)


@pytest.mark.parametrize("key", GETITEM_CASES, ids=case_id)
def test_getitem_cases_on_view(key):
    # the same (3, 4, 5) shape as A, as a permuted, stepped, reversed view of a bigger tensor
    expect_base = base((10, 4, 3)).transpose(2, 1, 0)[:, ::-1, ::2]
    src = Tensor(base((10, 4, 3))).transpose(2, 1, 0)[:, ::-1, ::2]
    assert src.shape == (3, 4, 5)
    np.testing.assert_array_equal(src.asnumpy(), expect_base)
    expect = expect_base[key]
    for k in variants(key):
        check_same(src[to_ds(k)], expect)


def test_int_index_is_a_view_and_returns_tensor():
    t = Tensor(base((3, 4)))
    r = t[1]
    assert isinstance(r, Tensor) and r.shape == (4,)
    assert r.shares_memory(t)
    s = t[1, 2]
    assert isinstance(s, Tensor) and s.shape == ()  # a 0-d tensor, not a Python scalar
    assert s.shares_memory(t)
    t[1, 2] = -1.0
    assert s.item() == -1.0 and r[2].item() == -1.0


@pytest.mark.parametrize("key", [np.s_[1:], np.s_[::-1], np.s_[:, ::2], np.s_[None, 0], np.s_[..., 1],
                                 np.s_[1, None, ::-2], np.s_[...], np.s_[()]], ids=case_id)
def test_basic_indexing_shares_memory(key):
    t = Tensor(base((3, 4)))
    v = t[key]
    assert v.shares_memory(t)
    assert np.shares_memory(v.asnumpy(), t.asnumpy())
    v[...] = 99.0
    expect = base((3, 4))
    expect[key] = 99.0
    check_same(t, expect)


@pytest.mark.parametrize("key", [np.s_[[0, 1]], np.s_[:, [1]], np.s_[[True, False, True]], np.s_[[0], [1]]],
                         ids=case_id)
def test_advanced_indexing_copies(key):
    t = Tensor(base((3, 4)))
    r = t[key]
    assert not r.shares_memory(t)
    r[...] = -5.0
    check_same(t, base((3, 4)))


def test_numpy_integer_scalars_are_basic_indices():
    t = Tensor(base((3, 4)))
    for i in (np.int64(1), np.int32(1), np.uint8(1), np.intp(-2)):
        r = t[i]
        check_same(r, base((3, 4))[i])
        assert r.shares_memory(t), type(i)
        check_same(t[i, 2], base((3, 4))[i, 2])
    check_same(t[np.int64(0), [1, 3]], base((3, 4))[0, [1, 3]])


def test_zero_d_tensor_index():
    t = Tensor(base((3, 4)))
    check_same(t[Tensor(2)], base((3, 4))[2])
    check_same(t[Tensor(-1, dtype=ms.int32), Tensor(0, dtype=ms.uint8)], base((3, 4))[-1, 0])
    check_same(t[:, Tensor(3)], base((3, 4))[:, 3])


def test_zero_d_bool_tensor_index():
    a = base((3, 4))
    t = Tensor(a)
    check_same(t[Tensor(True)], a[np.True_])
    check_same(t[Tensor(False)], a[np.False_])


def test_zero_d_bool_tensor_setitem():
    """x[cond] = v with a 0-d condition writes everything or nothing (NumPy's a[np.False_] = v writes nothing)."""
    a = base((2, 3))
    t = Tensor(a)
    t[Tensor(False)] = 0.0
    check_same(t, a)
    x = Tensor(np.arange(3, dtype=np.float32))
    x[x.sum() > 100] = -1.0
    check_same(x, np.arange(3, dtype=np.float32))
    x[x.sum() > 0] = -1.0
    check_same(x, np.full(3, -1.0, np.float32))


def test_empty_integer_list_index():
    a = base((3, 4))
    t = Tensor(a)
    check_same(t[[]], a[[]])  # NumPy: an empty list is an empty integer index
    check_same(t[:, []], a[:, []])


def test_empty_integer_array_index():
    a = base((3, 4))
    t = Tensor(a)
    check_same(t[np.array([], dtype=np.int64)], a[np.array([], dtype=np.int64)])
    check_same(t[Tensor(np.array([], dtype=np.int32))], a[np.array([], dtype=np.int32)])


def test_nd_bool_mask_after_ellipsis():
    a = base((2, 3, 4))
    m = (np.arange(12).reshape(3, 4) % 2).astype(bool)
    t = Tensor(a)
    for mk in (m, Tensor(m), m.tolist()):
        check_same(t[..., mk], a[..., m])
        check_same(t[0, mk], a[0, m])
        check_same(t[1, ..., mk], a[1, ..., m])


def test_nd_numpy_bool_mask_before_ellipsis_and_index():
    a = base((2, 3, 4))
    m = np.array([[True, False, True], [False, True, True]])
    t = Tensor(a)
    for mk in (m, Tensor(m), m.tolist()):
        check_same(t[mk, ..., 1], a[m, ..., 1])
        check_same(t[mk, 2], a[m, 2])


def test_indexing_zero_d_tensor():
    t = Tensor(3.5)
    check_same(t[()], np.array(3.5, np.float32))
    check_same(t[...], np.array(3.5, np.float32))
    check_same(t[None], np.array([3.5], np.float32))
    with pytest.raises(IndexError, match="too many indices"):
        t[0]
    with pytest.raises(IndexError):
        t[:]


def test_index_zero_size():
    a = np.zeros((0, 3), np.float32)
    t = Tensor(a)
    check_same(t[:, 1], a[:, 1])
    check_same(t[::-1], a[::-1])
    with pytest.raises(IndexError, match="out of bounds"):
        t[0]


def test_huge_slice_bounds():
    a = base((5,))
    t = Tensor(a)
    for k in (np.s_[-(2**62):2**62], np.s_[2**62:], np.s_[::2**62], np.s_[::-(2**62)], np.s_[2**70:]):
        check_same(t[k], a[k])


def test_tuple_inside_tuple_is_an_integer_array():
    a = base((3, 4))
    t = Tensor(a)
    check_same(t[(0, 2), 1], a[(0, 2), 1])
    check_same(t[:, (3, 0, 3)], a[:, (3, 0, 3)])
    check_same(t[((0, 1), (1, 2)),], a[((0, 1), (1, 2)),])


def test_index_with_objects_defining_index():
    class I:
        def __index__(self):
            return 2

    a = base((4, 3))
    t = Tensor(a)
    check_same(t[I()], a[I()])
    check_same(t[1:I()], a[1:I()])


# ---------------------------------------------------------------------------- setitem: explicit cases
SETITEM_CASES = [
    (np.s_[1], 5.0),
    (np.s_[-1, 2], -3),
    (np.s_[:, 1], np.array([10.0, 20.0, 30.0])),
    (np.s_[::2, ::-1], np.array([1.0, 2.0, 3.0, 4.0])),  # broadcast a row
    (np.s_[..., None], np.array([[[7.0]]])),
    (np.s_[:, None, 1:3], np.array([[1.0], [2.0], [3.0]])[:, :, None]),
    (np.s_[[0, 2]], 7.0),
    (np.s_[[0, 2]], np.array([1.0, 2.0, 3.0, 4.0])),
    (np.s_[[0, 2]], np.array([[1.0], [2.0]])),
    (np.s_[[0, 1], [1, 2]], np.array([10.0, 20.0])),
    (np.s_[[0, 1], [3, 0]], np.array([1.0, 2.0])),
    (np.s_[[0, 2], 1:3], np.array([[1.0, 2.0], [3.0, 4.0]])),
    (np.s_[1:, [0, 3]], np.array([[1.0, 2.0], [3.0, 4.0]])),
    (np.s_[[0, 2], ..., [1, 3]], np.array([5.0, 6.0])),
    (np.s_[[True, False, True]], 0.0),
    (np.s_[[True, False, True]], np.array([[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]])),
    (np.s_[:, [False, True, True, False]], np.array([9.0, 8.0])),
    (np.s_[np.array([[True, False, False, True]] * 3)], np.arange(6.0)),
    (np.s_[np.array([[True, False, False, True]] * 3)], 2.5),
    (np.s_[[[0], [2]], [1, 3]], np.array([[1.0, 2.0], [3.0, 4.0]])),
]


@pytest.mark.parametrize("key, value", SETITEM_CASES, ids=[f"{i}-{case_id(k)}" for i, (k, _) in enumerate(SETITEM_CASES)])
@pytest.mark.parametrize("vkind", ["scalar-or-ndarray", "tensor", "list"])
def test_setitem_cases(key, value, vkind):
    a = base((3, 4))
    for k in variants(key):
        expect = a.copy()
        expect[key] = value
        t = Tensor(a)
        if vkind == "tensor":
            v = Tensor(np.asarray(value, dtype=np.float32))
        elif vkind == "list" and isinstance(value, np.ndarray):
            v = value.tolist()
        else:
            v = value
        t[to_ds(k)] = v
        check_same(t, expect)


@pytest.mark.parametrize("np_dtype", [np.int32, np.int8, np.uint8, np.bool_, np.float16, np.float64])
def test_setitem_converts_value_to_tensor_dtype(np_dtype):
    a = base((2, 3), np_dtype)
    t = Tensor(a)
    t[0] = 2.75
    t[1, [0, 2]] = Tensor([1.0, 0.0], dtype=ms.float64)
    expect = a.copy()
    expect[0] = 2.75
    expect[1, [0, 2]] = np.array([1.0, 0.0])
    check_same(t, expect)
    assert t.dtype == ms.common.dtype.pytype_to_dtype(np_dtype)


def test_setitem_through_transposed_view_reaches_base():
    a = base((3, 4))
    t = Tensor(a)
    v = t.T
    v[[0, 3]] = -1.0
    v[1:3, ::2] = Tensor([[5.0, 6.0]])
    expect = a.copy()
    expect.T[[0, 3]] = -1.0
    expect.T[1:3, ::2] = [[5.0, 6.0]]
    check_same(t, expect)


def test_setitem_whole_tensor_and_0d():
    t = Tensor(base((2, 2)))
    t[...] = 4.0
    check_same(t, np.full((2, 2), 4.0, np.float32))
    t[:] = Tensor([1.0, 2.0])
    check_same(t, np.array([[1.0, 2.0], [1.0, 2.0]], np.float32))
    z = Tensor(1.0)
    z[()] = 9.0
    assert z.item() == 9.0
    z[...] = Tensor(3.0)
    assert z.item() == 3.0


def test_setitem_from_overlapping_self_view():
    a = base((6,))
    t = Tensor(a)
    t[1:] = t[:-1]
    expect = a.copy()
    expect[1:] = a[:-1].copy()  # NumPy semantics: as if the value were copied first
    check_same(t, expect)


def test_setitem_mask_from_comparison():
    a = base((3, 4))
    t = Tensor(a)
    t[t > 5] = 0.0
    expect = a.copy()
    expect[expect > 5] = 0.0
    check_same(t, expect)


# ---------------------------------------------------------------------------- errors
class TestErrors:
    def test_int_out_of_bounds(self):
        t = Tensor(base((3, 4)))
        with pytest.raises(IndexError, match=r"index 3 is out of bounds for axis 0 with size 3"):
            t[3]
        with pytest.raises(IndexError, match=r"index -4 is out of bounds for axis 0 with size 3"):
            t[-4]

    def test_int_out_of_bounds_names_the_original_axis(self):
        t = Tensor(base((3, 4)))
        with pytest.raises(IndexError, match=r"index 10 is out of bounds for axis 1 with size 4"):
            t[0, 10]
        with pytest.raises(IndexError, match=r"index 10 is out of bounds for axis 1 with size 4"):
            t[:, 10]

    def test_array_out_of_bounds(self):
        t = Tensor(base((3, 4)))
        with pytest.raises(IndexError, match=r"out of bounds"):
            t[[0, 3]]
        with pytest.raises(IndexError, match=r"out of bounds"):
            t[Tensor([-4])]
        with pytest.raises(IndexError, match=r"index 4 is out of bounds for axis 1 with size 4"):
            t[:, [4]]
        with pytest.raises(IndexError, match=r"index 9 is out of bounds for axis 1 with size 4"):
            t[[0, 1], [1, 9]]

    def test_setitem_out_of_bounds(self):
        t = Tensor(base((3, 4)))
        with pytest.raises(IndexError, match="out of bounds"):
            t[5] = 1.0
        with pytest.raises(IndexError, match="out of bounds"):
            t[[0, 5]] = 1.0
        check_same(t, base((3, 4)))  # nothing written

    def test_too_many_indices(self):
        t = Tensor(base((3, 4)))
        for key in (np.s_[0, 0, 0], np.s_[:, :, :], np.s_[0, ..., 0, 0], np.s_[[0], [0], [0]],
                    np.s_[None, 0, 0, 0], np.s_[np.ones((3, 4), bool), 0]):
            with pytest.raises(IndexError, match="too many indices"):
                t[key]
            with pytest.raises(IndexError, match="too many indices"):
                t[key] = 0.0

    @pytest.mark.parametrize("key", [np.s_[..., 1, :, :], np.s_[:, ..., 1, :], np.s_[1, ..., :, :],
                                     np.s_[0, ..., 0, 0], np.s_[..., 0, 0, 0], np.s_[None, ..., 0, :, 1]],
                             ids=case_id)
    def test_too_many_indices_with_ellipsis(self, key):
        t = Tensor(base((3, 4)))
        with pytest.raises(IndexError, match="too many indices"):
            t[key]
        with pytest.raises(IndexError, match="too many indices"):
            t[key] = 0.0
        check_same(t, base((3, 4)))

    def test_two_ellipses(self):
        with pytest.raises(IndexError, match="single ellipsis"):
            Tensor(base((3, 4)))[..., ...]

    def test_bool_mask_mismatch(self):
        t = Tensor(base((3, 4)))
        with pytest.raises(IndexError, match="boolean index did not match") as ei:
            t[[True, False]]
        assert "axis 0" in str(ei.value) and "3" in str(ei.value) and "2" in str(ei.value)
        with pytest.raises(IndexError, match="boolean index did not match.*axis 1"):
            t[:, Tensor([True, False, True])]
        with pytest.raises(IndexError, match="boolean index did not match"):
            t[np.ones((3, 3), dtype=bool)]
        with pytest.raises(IndexError, match="boolean index did not match"):
            t[[True, False]] = 1.0

    @pytest.mark.parametrize("key", [1.0, 1.5, np.float32(1), np.s_[0, 2.0], np.s_[:, 0.5]], ids=repr)
    def test_float_index(self, key):
        t = Tensor(base((3, 4)))
        with pytest.raises(IndexError, match="only integers|integer or boolean"):
            t[key]
        with pytest.raises(IndexError, match="only integers|integer or boolean"):
            t[key] = 1.0

    @pytest.mark.parametrize("key", [[0.0, 1.0], np.array([1.5]), "tensor"], ids=repr)
    def test_float_array_index(self, key):
        t = Tensor(base((3, 4)))
        if isinstance(key, str):
            key = Tensor([0.0, 1.0])
        with pytest.raises(IndexError, match="integer or boolean"):
            t[key]

    @pytest.mark.parametrize("key", ["a", object(), {1: 2}, 1j], ids=repr)
    def test_other_bad_index_types(self, key):
        t = Tensor(base((3, 4)))
        with pytest.raises(IndexError, match="only integers"):
            t[key]

    def test_slice_with_float_bounds(self):
        t = Tensor(base((3, 4)))
        with pytest.raises(TypeError):
            t[1.5:]
        with pytest.raises(ValueError, match="step cannot be zero"):
            t[::0]

    def test_python_bool_scalar_index(self):
        # as in NumPy, True adds an axis of size 1 and False one of size 0
        a = base((3, 4))
        t = Tensor(a)
        for key in (True, False, (True, 1), (Ellipsis, False)):
            assert t[key].shape == a[key].shape, key
            np.testing.assert_array_equal(t[key].asnumpy(), a[key])

    def test_index_arrays_not_broadcastable(self):
        t = Tensor(base((3, 4)))
        with pytest.raises(IndexError, match="shape mismatch"):
            t[[0, 1], [0, 1, 2]]
        with pytest.raises(IndexError, match="shape mismatch"):
            t[[True, False, True], [0, 1, 2]]

    def test_setitem_value_not_broadcastable(self):
        t = Tensor(base((3, 4)))
        with pytest.raises(ValueError) as ei:
            t[0] = np.ones(3)
        assert "3" in str(ei.value) and "4" in str(ei.value)
        with pytest.raises(ValueError):
            t[[0, 1]] = np.ones((3, 4))
        with pytest.raises(ValueError):
            t[:, [0, 1]] = Tensor(np.ones((2, 3)))
        check_same(t, base((3, 4)))

    def test_setitem_bad_value_type(self):
        t = Tensor(base((3, 4)))
        with pytest.raises(TypeError):
            t[0] = "abc"
        with pytest.raises(TypeError):
            t[0] = object()

    def test_deletion(self):
        t = Tensor(base((3, 4)))
        with pytest.raises(TypeError, match="cannot be deleted"):
            del t[0]
        with pytest.raises(TypeError, match="cannot be deleted"):
            del t[[0, 1]]

    def test_failed_index_leaks_nothing(self):
        import gc

        t = Tensor(base((3, 4)))
        bad = [np.s_[0, 0, 0], np.s_[[0, 9]], np.s_[[True]], np.s_[1.0], np.s_[..., ...],
               np.s_[[0, 1], [0, 1, 2]], np.s_[[0], :, :]]

        def churn():
            for _ in range(5):
                for k in bad:
                    for f in (lambda: t[k], lambda: t.__setitem__(k, 1.0)):
                        try:
                            f()
                        except (IndexError, ValueError):
                            pass

        churn()
        gc.collect()
        before = ms._C.alloc_live_blocks()
        churn()
        gc.collect()
        assert ms._C.alloc_live_blocks() == before
