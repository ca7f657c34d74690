"""Shape ops (reshape, transpose, permute, expand_dims, squeeze, flatten, broadcast_to, tile, pad), joining
and splitting (concat, stack, split, chunk, unbind), gathering (gather, gather_elements, index_select,
one_hot, masked_select, masked_fill, nonzero) and their primitive classes, against NumPy over random
shapes, strided inputs and dtypes, plus every error path."""
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import dynastat as ms
from dynastat import Tensor, ops
from ops_testutil import (HYP, LAYOUTS, NP_DTYPES, ORDER, arrays, as_np, check, dtname, msdt, promote, shapes,
                          tensor_and_array, to_tensor)


def _same(r, exp, dtype=None):
    """Exact comparison (shape ops move elements, they never compute)."""
    got = r.asnumpy()
    exp = np.asarray(exp)
    assert got.shape == exp.shape, (got.shape, exp.shape)
    if dtype is not None:
        assert dtname(r.dtype) == dtype, (r.dtype, dtype)
    np.testing.assert_array_equal(got, exp.astype(got.dtype) if dtype != "bfloat16" else exp)


# ------------------------------------------------------------------------------------- reshape & co
@HYP
@given(case=tensor_and_array(ORDER), data=st.data())
def test_reshape(case, data):
    t, a, dtype = case
    a = as_np(a, dtype)
    # a random target shape with the same number of elements: permute the flat factors of the shape
    dims = list(a.shape)
    n = a.size
    target = data.draw(st.permutations(dims)) if dims else []
    if n and len(target) >= 2 and data.draw(st.booleans()):
        target = [target[0] * target[1]] + list(target[2:])
    if target and n and data.draw(st.booleans()):
        target[data.draw(st.integers(0, len(target) - 1))] = -1
    exp = a.reshape(target)
    _same(ops.reshape(t, tuple(target)), exp, dtype)
    _same(ops.Reshape()(t, list(target)), exp, dtype)
    _same(ops.reshape(t, (-1,)), a.reshape(-1), dtype)


def test_reshape_errors():
    x = Tensor(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match=r"reshape.*cannot reshape tensor of shape \[2, 3\].*into shape \[4, 2\]"):
        ops.reshape(x, (4, 2))
    with pytest.raises(ValueError, match=r"reshape.*only one dimension can be -1"):
        ops.reshape(x, (-1, -1))
    with pytest.raises(TypeError, match=r"reshape\(\): argument 'shape' must be an int or a tuple of ints, got str"):
        ops.reshape(x, "23")
    with pytest.raises(TypeError, match=r"reshape\(\): argument 'shape' must be a tuple of ints, got float at position 1"):
        ops.reshape(x, (2, 3.0))
    with pytest.raises(TypeError, match=r"reshape\(\): argument 'input' must be a Tensor, got ndarray"):
        ops.reshape(np.zeros(6), (2, 3))
    with pytest.raises(TypeError, match=r"Reshape\(\): argument 'shape'"):
        ops.Reshape()(x, None)


@HYP
@given(case=tensor_and_array(ORDER, min_dims=1), data=st.data())
def test_transpose_permute(case, data):
    t, a, dtype = case
    a = as_np(a, dtype)
    perm = data.draw(st.permutations(range(a.ndim)))
    neg = [p - a.ndim if data.draw(st.booleans()) else p for p in perm]
    exp = np.transpose(a, perm)
    _same(ops.transpose(t, tuple(neg)), exp, dtype)
    _same(ops.permute(t, list(perm)), exp, dtype)
    _same(ops.Transpose()(t, tuple(perm)), exp, dtype)
    if a.ndim >= 2:
        i, j = data.draw(st.integers(0, a.ndim - 1)), data.draw(st.integers(0, a.ndim - 1))
        _same(ops.swapaxes(t, i, j), np.swapaxes(a, i, j), dtype)
    if a.ndim <= 2:
        _same(ops.t(t), a.T, dtype)


def test_transpose_errors():
    x = Tensor(np.zeros((2, 3, 4), np.float32))
    with pytest.raises(ValueError, match=r"transpose\(\): argument 'input_perm' must have 3 entries for a 3-dim tensor, got 2"):
        ops.transpose(x, (1, 0))
    with pytest.raises(ValueError, match=r"transpose\(\): argument 'input_perm' must be a permutation"):
        ops.transpose(x, (0, 0, 1))
    with pytest.raises(ValueError, match=r"permute\(\): argument 'axis' must be a permutation"):
        ops.permute(x, (0, 1, 3))
    with pytest.raises(TypeError, match=r"transpose\(\): argument 'input_perm' must be a tuple or list of ints, got int"):
        ops.transpose(x, 1)
    with pytest.raises(ValueError, match=r"Transpose\(\): argument 'perm' must have 3 entries"):
        ops.Transpose()(x, (0, 1))
    with pytest.raises(ValueError, match=r"t\(\): argument 'input' must have at most 2 dims"):
        ops.t(x)
    with pytest.raises(ValueError, match=r"swapaxes\(\): argument 'axis1' = 3 is out of range"):
        ops.swapaxes(x, 0, 3)


@HYP
@given(case=tensor_and_array(NP_DTYPES, max_dims=4), data=st.data())
def test_expand_dims_unsqueeze_squeeze(case, data):
    t, a, dtype = case
    nd = a.ndim
    ax = data.draw(st.integers(-nd - 1, nd))
    exp = np.expand_dims(a, ax)
    _same(ops.expand_dims(t, ax), exp, dtype)
    _same(ops.unsqueeze(t, ax), exp, dtype)
    _same(ops.ExpandDims()(t, ax), exp, dtype)
    u = ops.expand_dims(t, ax)
    _same(ops.squeeze(u), np.squeeze(exp), dtype)
    _same(ops.squeeze(u, ax), a, dtype)
    _same(ops.Squeeze(ax)(u), a, dtype)
    _same(ops.Squeeze()(u), np.squeeze(exp), dtype)
    ones = tuple(i for i, s in enumerate(exp.shape) if s == 1)
    if ones:
        sub = tuple(data.draw(st.lists(st.sampled_from(ones), min_size=1, unique=True)))
        _same(ops.squeeze(u, sub), np.squeeze(exp, sub), dtype)
        _same(ops.Squeeze(sub)(u), np.squeeze(exp, sub), dtype)


def test_expand_squeeze_errors():
    x = Tensor(np.zeros((2, 1, 3), np.float32))
    with pytest.raises(ValueError, match=r"expand_dims\(\): argument 'axis' = 4 is out of range for a 3-dim tensor \(expected \[-4, 3\]\)"):
        ops.expand_dims(x, 4)
    with pytest.raises(TypeError, match=r"unsqueeze\(\): argument 'dim' must be an int, got float"):
        ops.unsqueeze(x, 1.0)
    with pytest.raises(ValueError, match=r"squeeze\(\): cannot squeeze axis 0: its size is 2, not 1"):
        ops.squeeze(x, 0)
    with pytest.raises(ValueError, match=r"squeeze\(\): argument 'axis' = 3 is out of range"):
        ops.squeeze(x, 3)
    with pytest.raises(ValueError, match=r"Squeeze\(\): cannot squeeze axis 2"):
        ops.Squeeze(2)(x)
    with pytest.raises(ValueError, match=r"ExpandDims\(\): argument 'axis' = -5 is out of range"):
        ops.ExpandDims()(x, -5)
    with pytest.raises(TypeError, match=r"Squeeze\(\): argument 'axis' must be an int or a tuple of ints, got str"):
        ops.Squeeze("0")


@HYP
@given(case=tensor_and_array(NP_DTYPES), data=st.data())
def test_flatten(case, data):
    t, a, dtype = case
    nd = a.ndim
    if nd <= 1:
        _same(ops.flatten(t), a.reshape(-1), dtype)
        return
    _same(ops.flatten(t), a.reshape(a.shape[0], int(np.prod(a.shape[1:]))), dtype)  # default start_dim=1 keeps the batch dim
    s = data.draw(st.integers(-nd, nd - 1))
    e = data.draw(st.integers(-nd, nd - 1))
    assume(s % nd <= e % nd)
    s0, e0 = s % nd, e % nd
    exp = a.reshape(a.shape[:s0] + (int(np.prod(a.shape[s0:e0 + 1])),) + a.shape[e0 + 1:])
    _same(ops.flatten(t, start_dim=s, end_dim=e), exp, dtype)
    f = a.T
    _same(ops.flatten(t, "F", start_dim=0), f.reshape(-1), dtype)


def test_flatten_errors():
    x = Tensor(np.zeros((2, 3, 4), np.float32))
    with pytest.raises(ValueError, match=r"flatten\(\): 'start_dim' \(2\) must not come after 'end_dim' \(1\)"):
        ops.flatten(x, start_dim=2, end_dim=1)
    with pytest.raises(ValueError, match=r"flatten\(\): argument 'order' must be 'C' or 'F', got 'K'"):
        ops.flatten(x, "K")
    with pytest.raises(TypeError, match=r"flatten\(\): argument 'order' must be a str"):
        ops.flatten(x, 1)
    with pytest.raises(ValueError, match=r"flatten\(\): argument 'end_dim' = 3 is out of range"):
        ops.flatten(x, end_dim=3)
    with pytest.raises(TypeError, match=r"flatten\(\): argument 'start_dim' must be an int"):
        ops.flatten(x, start_dim=None)


@HYP
@given(data=st.data())
def test_broadcast_to(data):
    shape, target = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=1, max_dims=4, max_side=4)), None
    src = shape.input_shapes[0]
    target = list(shape.result_shape)
    dtype = data.draw(st.sampled_from(NP_DTYPES))
    a = data.draw(arrays(dtype, src))
    t = to_tensor(a, data.draw(st.sampled_from(LAYOUTS)))
    exp = np.broadcast_to(a, target)
    _same(ops.broadcast_to(t, tuple(target)), exp, dtype)
    # -1 keeps the input's dim
    if src:
        k = data.draw(st.integers(0, len(src) - 1))
        target[len(target) - len(src) + k] = -1
        _same(ops.broadcast_to(t, target), exp, dtype)
        _same(ops.BroadcastTo(tuple(target))(t), exp, dtype)


def test_broadcast_to_errors():
    x = Tensor(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match=r"broadcast_to\(\): cannot broadcast a tensor of shape \(2, 3\) to \(4, 3\)"):
        ops.broadcast_to(x, (4, 3))
    with pytest.raises(ValueError, match=r"broadcast_to\(\).*fewer dims"):
        ops.broadcast_to(x, (3,))
    with pytest.raises(ValueError, match=r"broadcast_to\(\): -1 at position 0.*has no matching input dim"):
        ops.broadcast_to(x, (-1, 2, 3))
    with pytest.raises(ValueError, match=r"broadcast_to\(\): argument 'shape' has an invalid dim -2"):
        ops.broadcast_to(x, (-2, 3))


@HYP
@given(case=tensor_and_array(ORDER, max_dims=3), data=st.data())
def test_tile(case, data):
    t, a, dtype = case
    a = as_np(a, dtype)
    reps = tuple(data.draw(st.lists(st.integers(0, 3), min_size=0, max_size=4)))
    exp = np.tile(a, reps)
    _same(ops.tile(t, reps), exp, dtype)
    _same(ops.Tile()(t, reps), exp, dtype)
    _same(ops.tile(t, list(reps)), exp, dtype)


def test_tile_errors():
    x = Tensor(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match=r"tile\(\): argument 'multiples' must be non-negative"):
        ops.tile(x, (1, -1))
    with pytest.raises(TypeError, match=r"tile\(\): argument 'multiples' must be a tuple of ints, got float"):
        ops.tile(x, (1, 2.0))
    with pytest.raises(TypeError, match=r"Tile\(\): argument 'multiples' must be a tuple or list of ints, got int"):
        ops.Tile()(x, 2)


@HYP
@given(case=tensor_and_array(ORDER, min_dims=1, max_dims=3), data=st.data(),
       value=st.one_of(st.none(), st.integers(-5, 5)))
def test_pad_constant(case, data, value):
    t, a, dtype = case
    a = as_np(a, dtype)
    nd = a.ndim
    k = data.draw(st.integers(1, nd))  # pad the last k dims
    pairs = [(data.draw(st.integers(0, 3)), data.draw(st.integers(0, 3))) for _ in range(k)]
    padding = tuple(x for p in pairs for x in p)  # (last_before, last_after, second_last_before, ...)
    np_pad = [(0, 0)] * (nd - k) + list(reversed(pairs))
    fill = 0 if value is None else value
    exp = np.pad(a, np_pad, constant_values=np.array(fill).astype(a.dtype))
    _same(ops.pad(t, padding, value=value), exp, dtype)
    _same(ops.pad(t, list(padding), "constant", value), exp, dtype)
    _same(ops.Pad(tuple(np_pad))(t), np.pad(a, np_pad), dtype)


def test_pad_negative_crops():
    a = np.arange(20, dtype=np.float32).reshape(4, 5)
    check(ops.pad(Tensor(a), (-1, 2, 1, -2)), np.pad(a[:2, 1:], ((1, 0), (0, 2))), "float32")


def test_pad_errors():
    x = Tensor(np.zeros((2, 3), np.float32))
    with pytest.raises(NotImplementedError, match=r"pad\(\): mode 'reflect' is not implemented yet"):
        ops.pad(x, (1, 1), mode="reflect")
    with pytest.raises(ValueError, match=r"pad\(\): argument 'mode' must be 'constant'.*got 'edge'"):
        ops.pad(x, (1, 1), mode="edge")
    with pytest.raises(ValueError, match=r"pad\(\): argument 'padding' must have an even number of entries, got 3"):
        ops.pad(x, (1, 1, 1))
    with pytest.raises(ValueError, match=r"pad\(\): argument 'padding' has 6 entries, at most 4"):
        ops.pad(x, (1, 1, 1, 1, 1, 1))
    with pytest.raises(ValueError, match=r"pad\(\): padding \(-2, -2\) would make dim 1 of size 3 negative"):
        ops.pad(x, (-2, -2))
    with pytest.raises(TypeError, match=r"pad\(\): argument 'padding' must be a tuple or list of ints, got int"):
        ops.pad(x, 1)
    with pytest.raises(ValueError, match=r"Pad\(\): argument 'paddings' must hold \(before, after\) pairs"):
        ops.Pad(((1, 2, 3),))
    with pytest.raises(ValueError, match=r"Pad\(\): 1 padding pairs given for a 2-dim tensor"):
        ops.Pad(((1, 2),))(x)


# ------------------------------------------------------------------------------------- joining & splitting
@st.composite
def join_case(draw, stack=False):
    nd = draw(st.integers(0 if stack else 1, 3))
    base = list(draw(shapes(nd, nd, max_side=3)))
    axis = draw(st.integers(-nd - 1, nd) if stack else st.integers(-nd, nd - 1))
    n = draw(st.integers(1, 4))
    arrs, dts = [], []
    for _ in range(n):
        s = list(base)
        if not stack:
            s[axis] = draw(st.integers(0, 3))
        dt = draw(st.sampled_from(NP_DTYPES))
        arrs.append(draw(arrays(dt, tuple(s))))
        dts.append(dt)
    layouts = [draw(st.sampled_from(LAYOUTS)) for _ in range(n)]
    return arrs, dts, axis, layouts


def _joined_dtype(dts):
    out = dts[0]
    for d in dts[1:]:
        out = promote(out, d)
    return out


@HYP
@given(case=join_case())
def test_concat_cat(case):
    arrs, dts, axis, layouts = case
    ts = [to_tensor(a, l) for a, l in zip(arrs, layouts)]
    odt = _joined_dtype(dts)
    exp = np.concatenate([a.astype(odt) for a in arrs], axis=axis)
    _same(ops.concat(ts, axis), exp, odt)
    _same(ops.cat(tuple(ts), axis=axis), exp, odt)
    _same(ops.Concat(axis)(ts), exp, odt)


@HYP
@given(case=join_case(stack=True))
def test_stack(case):
    arrs, dts, axis, layouts = case
    ts = [to_tensor(a, l) for a, l in zip(arrs, layouts)]
    odt = _joined_dtype(dts)
    exp = np.stack([a.astype(odt) for a in arrs], axis=axis)
    _same(ops.stack(ts, axis), exp, odt)
    _same(ops.Stack(axis=axis)(tuple(ts)), exp, odt)


def test_join_errors():
    a, b = Tensor(np.zeros((2, 3), np.float32)), Tensor(np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match=r"concat.*input 1 has shape \[2, 4\], expected \[\*, 3\]"):
        ops.concat([a, b])
    with pytest.raises(ValueError, match=r"stack.*input 1 has shape \[2, 4\], expected \[2, 3\]"):
        ops.stack([a, b])
    with pytest.raises(TypeError, match=r"concat\(\): argument 'tensors' must be a list or tuple of Tensors, got Tensor"):
        ops.concat(a)
    with pytest.raises(TypeError, match=r"cat\(\): argument 'tensors' must be a list or tuple of Tensors, got ndarray at position 1"):
        ops.cat([a, np.zeros((2, 3))])
    with pytest.raises(ValueError, match=r"stack\(\): argument 'tensors' must hold at least one Tensor"):
        ops.stack([])
    with pytest.raises(ValueError, match=r"concat\(\): argument 'axis' = 2 is out of range for 2-dim tensors \(expected \[-2, 1\]\)"):
        ops.concat([a, a], 2)
    with pytest.raises(ValueError, match=r"stack\(\): argument 'axis' = -4 is out of range for a new dim of 2-dim tensors \(expected \[-3, 2\]\)"):
        ops.stack([a, a], -4)
    with pytest.raises(ValueError, match=r"Concat\(\): argument 'axis' = 5"):
        ops.Concat(5)([a, a])
    with pytest.raises(ValueError, match=r"concat\(\): zero-dimensional tensors cannot be concatenated"):
        ops.concat([Tensor(1.0), Tensor(2.0)])
    with pytest.raises(TypeError, match=r"Concat\(\): argument 'axis' must be an int"):
        ops.Concat(axis="0")


@HYP
@given(case=tensor_and_array(NP_DTYPES, min_dims=1, max_dims=3), data=st.data())
def test_split_by_size_and_sections(case, data):
    t, a, dtype = case
    ax = data.draw(st.integers(-a.ndim, a.ndim - 1))
    dim = a.shape[ax]
    k = data.draw(st.integers(1, 5))
    parts = ops.split(t, k, ax)
    cuts = list(range(k, dim, k))
    exp = np.split(a, cuts, axis=ax) if dim else [a]
    assert isinstance(parts, tuple) and len(parts) == len(exp)
    for p, e in zip(parts, exp):
        _same(p, e, dtype)
    sizes = data.draw(st.lists(st.integers(0, dim), min_size=1, max_size=4))
    sizes[-1] = dim - sum(sizes[:-1])
    assume(sizes[-1] >= 0)
    parts = ops.split(t, sizes, axis=ax)
    exp = np.split(a, np.cumsum(sizes)[:-1], axis=ax)
    assert len(parts) == len(sizes)
    for p, e in zip(parts, exp):
        _same(p, e, dtype)


@HYP
@given(case=tensor_and_array(NP_DTYPES, min_dims=1, max_dims=3), data=st.data())
def test_chunk_unbind_and_split_primitive(case, data):
    t, a, dtype = case
    ax = data.draw(st.integers(-a.ndim, a.ndim - 1))
    dim = a.shape[ax]
    n = data.draw(st.integers(1, 5))
    parts = ops.chunk(t, n, ax)
    size = -(-dim // n)
    exp = np.split(a, list(range(size, dim, size)), axis=ax) if dim else [a]
    assert len(parts) == len(exp) <= n
    for p, e in zip(parts, exp):
        _same(p, e, dtype)
    ub = ops.unbind(t, ax)
    assert len(ub) == dim
    for i, p in enumerate(ub):
        _same(p, np.take(a, i, axis=ax), dtype)
    if dim and dim % n == 0:
        parts = ops.Split(axis=ax, output_num=n)(t)
        for p, e in zip(parts, np.split(a, n, axis=ax)):
            _same(p, e, dtype)


def test_split_many_parts():
    a = np.arange(300, dtype=np.int32).reshape(150, 2)
    parts = ops.split(Tensor(a), 1)  # more parts than one split op returns
    assert len(parts) == 150
    for i, p in enumerate(parts):
        _same(p, a[i:i + 1], "int32")
    parts = ops.Split(0, 75)(Tensor(a))
    assert len(parts) == 75
    _same(parts[74], a[148:], "int32")


def test_split_errors():
    x = Tensor(np.zeros((4, 6), np.float32))
    with pytest.raises(ValueError, match=r"split\(\): sections \[1, 2\] sum to 3, but axis 0 of the tensor \(shape \(4, 6\)\) has size 4"):
        ops.split(x, [1, 2])
    with pytest.raises(ValueError, match=r"split\(\): argument 'split_size_or_sections' must be a positive int, got 0"):
        ops.split(x, 0)
    with pytest.raises(TypeError, match=r"split\(\): argument 'split_size_or_sections' must be an int, got float"):
        ops.split(x, 2.0)
    with pytest.raises(ValueError, match=r"split\(\): argument 'axis' = 2 is out of range"):
        ops.split(x, 2, 2)
    with pytest.raises(ValueError, match=r"split\(\): cannot split a 0-d tensor"):
        ops.split(Tensor(1.0), 1)
    with pytest.raises(ValueError, match=r"Split\(\): axis 1 of size 6 \(shape \(4, 6\)\) cannot be split into 4 equal parts"):
        ops.Split(1, 4)(x)
    with pytest.raises(ValueError, match=r"Split\(\): argument 'output_num' must be positive"):
        ops.Split(0, 0)
    with pytest.raises(ValueError, match=r"chunk\(\): argument 'chunks' must be a positive int, got -1"):
        ops.chunk(x, -1)


# ------------------------------------------------------------------------------------- gathering
@st.composite
def gather_case(draw):
    nd = draw(st.integers(1, 3))
    shape = draw(shapes(nd, nd, min_side=1, max_side=4))
    dtype = draw(st.sampled_from(ORDER))
    a = draw(arrays(dtype, shape))
    axis = draw(st.integers(-nd, nd - 1))
    n = shape[axis]
    ishape = draw(shapes(0, 2, max_side=3))
    idt = draw(st.sampled_from(["int32", "int64", "int8", "uint8"]))
    lo = 0 if idt == "uint8" else -n
    idx = draw(hnp.arrays(np.dtype(idt), ishape, elements=st.integers(lo, n - 1)))
    return dtype, a, axis, idx, draw(st.sampled_from(LAYOUTS)), draw(st.sampled_from(LAYOUTS))


@HYP
@given(case=gather_case())
def test_gather_take(case):
    dtype, a, axis, idx, la, li = case
    t = to_tensor(a, la, dtype if dtype == "bfloat16" else None)
    ti = to_tensor(idx, li)
    exp = np.take(as_np(a, dtype), idx.astype(np.int64), axis=axis)
    _same(ops.gather(t, ti, axis), exp, dtype)
    _same(ops.Gather()(t, ti, axis), exp, dtype)
    if idx.ndim == 1:
        _same(ops.index_select(t, axis, ti), exp, dtype)


@HYP
@given(data=st.data())
def test_gather_batch_dims(data):
    b = data.draw(st.integers(1, 2))
    batch = data.draw(shapes(b, b, min_side=1, max_side=3))
    rest = data.draw(shapes(1, 2, min_side=1, max_side=3))
    pshape = batch + rest
    axis = data.draw(st.integers(b, len(pshape) - 1))
    n = pshape[axis]
    ishape = batch + data.draw(shapes(0, 2, max_side=3))
    a = data.draw(arrays("float32", pshape))
    idx = data.draw(hnp.arrays(np.int64, ishape, elements=st.integers(-n, n - 1)))
    exp = np.empty(pshape[:axis] + ishape[b:] + pshape[axis + 1:], np.float32)
    for bi in np.ndindex(*batch):  # reference: each batch takes with its own indices
        exp[bi] = np.take(a[bi], idx[bi], axis=axis - b)
    t = to_tensor(a, data.draw(st.sampled_from(LAYOUTS)))
    _same(ops.gather(t, Tensor(idx), axis, batch_dims=b), exp, "float32")
    _same(ops.Gather(batch_dims=b)(t, Tensor(idx), axis), exp, "float32")


def test_gather_errors():
    x = Tensor(np.zeros((2, 3), np.float32))
    with pytest.raises(IndexError, match=r"gather.*index 3 is out of bounds for axis 1 with size 3"):
        ops.gather(x, Tensor(np.array([0, 3])), 1)
    with pytest.raises(TypeError, match=r"gather.*indices must be an integer tensor, got float32"):
        ops.gather(x, Tensor(np.array([0.0], np.float32)), 0)
    with pytest.raises(ValueError, match=r"gather\(\): argument 'axis' = 2 is out of range"):
        ops.gather(x, Tensor(np.array([0])), 2)
    with pytest.raises(TypeError, match=r"gather\(\): argument 'input_indices' must be a Tensor, got list"):
        ops.gather(x, [0, 1], 0)
    with pytest.raises(ValueError, match=r"gather\(\): the first 1 \(batch\) dims"):
        ops.gather(x, Tensor(np.zeros((3, 1), np.int64)), 1, batch_dims=1)
    with pytest.raises(IndexError, match=r"gather\(\): an index of input_indices is out of bounds for axis 1"):
        ops.gather(x, Tensor(np.array([[0], [5]])), 1, batch_dims=1)
    with pytest.raises(ValueError, match=r"index_select\(\): argument 'index' must be 1-D"):
        ops.index_select(x, 0, Tensor(np.zeros((1, 1), np.int64)))


@st.composite
def gather_elements_case(draw):
    nd = draw(st.integers(1, 3))
    shape = draw(shapes(nd, nd, min_side=1, max_side=4))
    dtype = draw(st.sampled_from(NP_DTYPES))
    a = draw(arrays(dtype, shape))
    axis = draw(st.integers(-nd, nd - 1))
    ishape = tuple(draw(st.integers(0, s)) if d != axis % nd else draw(st.integers(0, 4))
                   for d, s in enumerate(shape))
    n = shape[axis]
    idx = draw(hnp.arrays(np.int64, ishape, elements=st.integers(-n, n - 1)))
    return dtype, a, axis, idx, draw(st.sampled_from(LAYOUTS))


@HYP
@given(case=gather_elements_case())
def test_gather_elements(case):
    dtype, a, axis, idx, layout = case
    ax = axis % a.ndim
    sub = a[tuple(slice(0, s) if d != ax else slice(None) for d, s in enumerate(idx.shape))]
    exp = np.take_along_axis(sub, np.where(idx < 0, idx + a.shape[ax], idx), axis=ax)
    t = to_tensor(a, layout)
    ti = to_tensor(idx, layout)
    _same(ops.gather_elements(t, axis, ti), exp, dtype)
    _same(ops.gather_d(t, axis, ti), exp, dtype)
    _same(ops.GatherD()(t, axis, ti), exp, dtype)


def test_gather_elements_errors():
    x = Tensor(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match=r"gather_elements.*index has shape \[2\] \(1 dims\) but input has shape \[2, 3\]"):
        ops.gather_elements(x, 0, Tensor(np.array([0, 1])))
    with pytest.raises(IndexError, match=r"gather_elements.*index 2 is out of bounds for axis 0 with size 2"):
        ops.gather_elements(x, 0, Tensor(np.array([[0, 2]])))
    with pytest.raises(TypeError, match=r"gather_elements\(\): argument 'dim' must be an int"):
        ops.gather_elements(x, None, Tensor(np.array([[0]])))
    with pytest.raises(ValueError, match=r"gather_d\(\): argument 'dim' = 2 is out of range"):
        ops.gather_d(x, 2, Tensor(np.array([[0]])))


@HYP
@given(data=st.data())
def test_one_hot(data):
    ishape = data.draw(shapes(0, 3, max_side=4))
    depth = data.draw(st.integers(0, 5))
    idt = data.draw(st.sampled_from(["int32", "int64", "uint8"]))
    idx = data.draw(hnp.arrays(np.dtype(idt), ishape, elements=st.integers(0 if idt == "uint8" else -2, depth + 1)))
    axis = data.draw(st.integers(-1, len(ishape)))
    on_dt = data.draw(st.sampled_from(["float32", "float16", "int32", "int64", "float64"]))
    on, off = np.array(3, on_dt), np.array(-1, on_dt)
    exp = np.where(idx[..., None] == np.arange(depth), on, off).astype(on_dt)
    exp = np.moveaxis(exp, -1, axis if axis >= 0 else -1)
    ti = to_tensor(idx, data.draw(st.sampled_from(LAYOUTS)))
    _same(ops.one_hot(ti, depth, Tensor(on), Tensor(off), axis), exp, on_dt)
    _same(ops.OneHot(axis=axis)(ti, depth, Tensor(on), Tensor(off)), exp, on_dt)
    # Python scalars: ints give int64, floats float32
    e01 = np.moveaxis((idx[..., None] == np.arange(depth)), -1, axis if axis >= 0 else -1)
    _same(ops.one_hot(ti, depth, axis=axis), e01.astype(np.int64), "int64")
    _same(ops.one_hot(ti, depth, 1.0, 0.0, axis), e01.astype(np.float32), "float32")


def test_one_hot_errors():
    i = Tensor(np.array([0, 1]))
    with pytest.raises(ValueError, match=r"one_hot\(\): argument 'depth' must be non-negative, got -1"):
        ops.one_hot(i, -1)
    with pytest.raises(ValueError, match=r"one_hot\(\): argument 'axis' = 2 must be in \[-1, 1\]"):
        ops.one_hot(i, 3, axis=2)
    with pytest.raises(TypeError, match=r"one_hot.*indices must be an integer tensor, got float32"):
        ops.one_hot(Tensor(np.array([0.0], np.float32)), 3)
    with pytest.raises(TypeError, match=r"one_hot\(\): argument 'depth' must be an int, got float"):
        ops.one_hot(i, 3.0)
    with pytest.raises(ValueError, match=r"one_hot\(\): argument 'on_value' must be a number or a one-element Tensor"):
        ops.one_hot(i, 3, Tensor(np.ones(2, np.float32)), 0.0)


@HYP
@given(data=st.data())
def test_masked_select_and_fill(data):
    sa, sm = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=4)).input_shapes
    dtype = data.draw(st.sampled_from(NP_DTYPES))
    a = data.draw(arrays(dtype, sa))
    m = data.draw(arrays("bool", sm))
    t, tm = to_tensor(a, data.draw(st.sampled_from(LAYOUTS))), to_tensor(m, data.draw(st.sampled_from(LAYOUTS)))
    shape = np.broadcast_shapes(sa, sm)
    exp = np.broadcast_to(a, shape)[np.broadcast_to(m, shape)]
    _same(ops.masked_select(t, tm), exp, dtype)
    filled = np.where(m, np.array(1).astype(a.dtype), a)
    _same(ops.masked_fill(t, tm, 1), filled, dtype)
    _same(ops.masked_fill(t, tm, Tensor(np.array(1, np.int8))), filled, dtype)


def test_masked_errors():
    x = Tensor(np.zeros((2, 3), np.float32))
    with pytest.raises(TypeError, match=r"masked_select\(\): argument 'mask' must be a bool Tensor, got Int64"):
        ops.masked_select(x, Tensor(np.array([1, 0, 1])))
    with pytest.raises(ValueError, match=r"masked_select\(\): shapes \(2, 3\) and \(1, 2\) cannot be broadcast"):
        ops.masked_select(x, Tensor(np.array([[True, False]])))
    with pytest.raises(TypeError, match=r"masked_fill\(\): argument 'mask' must be a bool Tensor"):
        ops.masked_fill(x, Tensor(np.array([1.0])), 0)


@HYP
@given(case=tensor_and_array(ORDER))
def test_nonzero(case):
    t, a, dtype = case
    a = as_np(a, dtype)
    _same(ops.nonzero(t), np.argwhere(a), "int64")
    tup = ops.nonzero(t, as_tuple=True)
    exp = np.nonzero(np.atleast_1d(a)) if a.ndim == 0 else np.nonzero(a)
    assert isinstance(tup, tuple) and len(tup) == max(a.ndim, 1)
    for r, e in zip(tup, exp):
        _same(r, e, "int64")
    _same(ops.NonZero()(t), np.argwhere(a), "int64")


def test_shape_rank_size_primitives():
    x = Tensor(np.zeros((2, 3, 4), np.float32))
    assert ops.Shape()(x) == (2, 3, 4)
    assert ops.Rank()(x) == 3
    assert ops.Size()(x) == 24
    with pytest.raises(TypeError, match=r"Shape\(\): argument 'x' must be a Tensor"):
        ops.Shape()([1, 2])


# ------------------------------------------------------------------------------------- larger inputs
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "int8", "int64", "bool"])
def test_shape_ops_large(dtype):
    rng = np.random.default_rng(ORDER.index(dtype))
    a = (rng.random((37, 65, 9)) < 0.5) if dtype == "bool" else rng.integers(-100, 100, (37, 65, 9)).astype(dtype)
    t = Tensor(a)
    tt = ops.transpose(t, (2, 0, 1))
    at = np.transpose(a, (2, 0, 1))
    _same(ops.reshape(tt, (9, -1)), at.reshape(9, -1), dtype)
    _same(ops.flatten(tt, start_dim=0), at.reshape(-1), dtype)
    _same(ops.concat([tt, tt[:, ::2]], 1), np.concatenate([at, at[:, ::2]], 1), dtype)
    _same(ops.stack([tt, tt], -1), np.stack([at, at], -1), dtype)
    for p, e in zip(ops.split(tt, 10, 2), np.split(at, range(10, 65, 10), 2)):
        _same(p, e, dtype)
    _same(ops.tile(tt[:, :5], (2, 1, 3)), np.tile(at[:, :5], (2, 1, 3)), dtype)
    _same(ops.pad(tt, (3, 1, 0, 2)), np.pad(at, ((0, 0), (0, 2), (3, 1))), dtype)
    idx = rng.integers(-37, 37, (50, 3))
    _same(ops.gather(tt, Tensor(idx), 1), np.take(at, idx, axis=1), dtype)
    ix = rng.integers(0, 37, (9, 20, 65))
    _same(ops.gather_elements(tt, 1, Tensor(ix)), np.take_along_axis(at, ix, 1), dtype)
    m = rng.random(at.shape) < 0.3
    _same(ops.masked_select(tt, Tensor(m)), at[m], dtype)
    _same(ops.nonzero(tt), np.argwhere(at), "int64")
    _same(ops.broadcast_to(tt[:, :1], (9, 37, 65)), np.broadcast_to(at[:, :1], (9, 37, 65)), dtype)


def test_concat_stack_many_inputs():
    parts = [np.full((2, i % 3 + 1), i, np.int16) for i in range(40)]
    _same(ops.concat([Tensor(p) for p in parts], 1), np.concatenate(parts, 1), "int16")
    same = [np.full((2, 3), i, np.float32) for i in range(40)]
    _same(ops.stack([Tensor(p).T for p in same], 1), np.stack([p.T for p in same], 1), "float32")


@HYP
@given(case=tensor_and_array(NP_DTYPES, min_dims=1, max_dims=3), data=st.data())
def test_strided_slice_with_masks(case, data):
    t, a, dtype = case
    k = data.draw(st.integers(1, a.ndim))
    begin, end, strides, index = [], [], [], []
    bm = em = sm = 0
    for i in range(k):
        n = a.shape[i]
        st_ = data.draw(st.sampled_from([1, 2, 3, -1, -2]))
        b, e = data.draw(st.integers(-n - 2, n + 2)), data.draw(st.integers(-n - 2, n + 2))
        begin.append(b), end.append(e), strides.append(st_)
        mb, me = data.draw(st.booleans()), data.draw(st.booleans())
        shrink = n > 0 and data.draw(st.integers(0, 3)) == 0 and -n <= b < n
        if shrink:
            sm |= 1 << i
            index.append(b)
            continue
        bm |= mb << i
        em |= me << i
        index.append(slice(None if mb else b, None if me else e, st_))
    exp = a[tuple(index)]
    _same(ops.strided_slice(t, begin, end, strides, bm, em, 0, 0, sm), exp, dtype)
    _same(ops.StridedSlice(bm, em, 0, 0, sm)(t, tuple(begin), tuple(end), tuple(strides)), exp, dtype)


def test_strided_slice_errors():
    x = Tensor(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match=r"strided_slice\(\): 'begin', 'end' and 'strides' must have the same length"):
        ops.strided_slice(x, (0,), (1, 1), (1, 1))
    with pytest.raises(ValueError, match=r"strided_slice\(\): strides\[0\] must not be zero"):
        ops.strided_slice(x, (0,), (1,), (0,))
    with pytest.raises(NotImplementedError, match=r"StridedSlice\(\): 'ellipsis_mask' and 'new_axis_mask'"):
        ops.StridedSlice(ellipsis_mask=1)(x, (0,), (1,), (1,))
    with pytest.raises(IndexError, match=r"strided_slice\(\): begin\[1\] = 3 is out of range for dim 1 of size 3"):
        ops.strided_slice(x, (0, 3), (1, 4), (1, 1), shrink_axis_mask=2)
    with pytest.raises(ValueError, match=r"strided_slice\(\): 3 slice entries given for a 2-dim tensor"):
        ops.strided_slice(x, (0, 0, 0), (1, 1, 1), (1, 1, 1))
