"""Functional ops and primitive classes whose signature differs from the op table's raw form.

The op table (include/dynastat_ops.def) gives every op one C callable, ``_C.ops[name]``, taking the
tensor inputs then the attributes. The seeds' API (MindSpore 2.x) spells many ops differently: other
argument names and orders, dtype defaults, (values, indices) tuples, padding pairs from the last dim,
split by chunk size. This module adapts those spellings to the C ops. It is thin on purpose: argument
checking and shape bookkeeping in Python, every element computed by a C op.

``ops/__init__.py`` re-exports ``__all__`` after the generated ops, so a name defined here replaces the
generated one.
"""
import builtins
import math
import operator

from .. import _C
from ..common import dtype as _dt
from ..common.tensor import Tensor
from ._generated import Primitive

_op = _C.ops
_pyint, _pyfloat, _pybool = builtins.int, builtins.float, builtins.bool
_pymax, _pymin, _pysum, _pyall, _pyany = builtins.max, builtins.min, builtins.sum, builtins.all, builtins.any
_MAX_SPLIT = 64  # most outputs one split call returns (DS_OP_MAX_OUT)

__all__ = []


def _export(f):
    __all__.append(f.__name__)
    return f


# ------------------------------------------------------------------------------------- argument checks
def _tname(v):
    return type(v).__name__


def _is_tensor(x):
    return isinstance(x, _C.TensorBase)


def _tensor(op, name, x):
    """x itself if it is a Tensor, else a TypeError naming op and argument."""
    if not _is_tensor(x):
        raise TypeError(f"{op}(): argument '{name}' must be a Tensor, got {_tname(x)}")
    return x


def _to_tensor(op, name, x):
    """x as a Tensor: Tensors as they are, numbers / sequences / arrays converted."""
    if _is_tensor(x):
        return x
    try:
        return Tensor(x)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{op}(): argument '{name}' must be a Tensor or tensor-like, got {_tname(x)} ({e})") from None


def _int(op, name, v):
    """v as a Python int (bools are refused)."""
    if isinstance(v, bool):
        raise TypeError(f"{op}(): argument '{name}' must be an int, got bool")
    try:
        return operator.index(v)
    except TypeError:
        raise TypeError(f"{op}(): argument '{name}' must be an int, got {_tname(v)}") from None


def _bool(op, name, v):
    if isinstance(v, bool):
        return v
    if _is_tensor(v) and v.dtype == _dt.bool_ and v.size == 1:
        return builtins.bool(v)
    raise TypeError(f"{op}(): argument '{name}' must be a bool, got {_tname(v)}")


def _number(op, name, v):
    """v as a Python int or float (bool counts as int; 1-element tensors are read)."""
    if isinstance(v, (bool, _pyint, _pyfloat)):
        return v
    if _is_tensor(v):
        if v.size != 1:
            raise ValueError(f"{op}(): argument '{name}' must be a number or a one-element Tensor, "
                             f"got a Tensor of shape {v.shape}")
        return v.item()
    if not isinstance(v, (str, bytes)):
        try:
            return operator.index(v)
        except TypeError:
            pass
        try:
            return _pyfloat(v)
        except (TypeError, ValueError):
            pass
    raise TypeError(f"{op}(): argument '{name}' must be a number, got {_tname(v)}")


def _ints(op, name, v, allow_int=True):
    """v (an int, or a list / tuple / 1-D integer Tensor of ints) as a tuple of Python ints."""
    if _is_tensor(v):
        if v.dtype not in _INT_DTYPES or v.ndim > 1:
            raise TypeError(f"{op}(): argument '{name}' must be a tuple of ints, got a {v.dtype} Tensor "
                            f"of shape {v.shape}")
        v = v.tolist()
        return tuple(v) if isinstance(v, list) else (v,)
    if isinstance(v, (list, tuple)):
        out = []
        for i, e in enumerate(v):
            if isinstance(e, bool):
                raise TypeError(f"{op}(): argument '{name}' must be a tuple of ints, got bool at position {i}")
            try:
                out.append(operator.index(e))
            except TypeError:
                raise TypeError(f"{op}(): argument '{name}' must be a tuple of ints, got {_tname(e)} "
                                f"at position {i}") from None
        return tuple(out)
    if allow_int and not isinstance(v, bool):
        try:
            return (operator.index(v),)
        except TypeError:
            pass
    what = "an int or a tuple of ints" if allow_int else "a tuple or list of ints"
    raise TypeError(f"{op}(): argument '{name}' must be {what}, got {_tname(v)}")


def _shape(op, name, v):
    """A shape argument: an int or a sequence of non-negative ints."""
    s = _ints(op, name, v)
    for d in s:
        if d < 0:
            raise ValueError(f"{op}(): argument '{name}' must not contain negative dims, got {s}")
    return s


def _axes(op, name, v, ndim=None):
    """A reduction axis argument: None (all), an int, or a tuple / list of ints (empty means all). With
    ndim, each axis is checked to lie in [-ndim, ndim) (a 0-d tensor accepts 0 and -1)."""
    if v is None:
        return None
    a = _ints(op, name, v)
    if ndim is not None:
        lim = _pymax(ndim, 1)
        for x in a:
            if not -lim <= x < lim:
                raise ValueError(f"{op}(): argument '{name}' = {x} is out of range for a {ndim}-dim tensor "
                                 f"(expected [{-lim}, {lim - 1}])")
    return a if a else None


def _axis(op, name, v, ndim):
    """An int axis normalised against ndim (ValueError when out of [-ndim, ndim))."""
    a = _int(op, name, v)
    if not -ndim <= a < ndim:
        lo, hi = -ndim, ndim - 1
        raise ValueError(f"{op}(): argument '{name}' = {a} is out of range for a {ndim}-dim tensor "
                         f"(expected [{lo}, {hi}])")
    return a % ndim if ndim else 0


def _dtype(op, name, v, default=None):
    if v is None:
        return default
    try:
        return _C.as_dtype(v)
    except (TypeError, ValueError):
        raise TypeError(f"{op}(): argument '{name}' must be a dtype (such as ms.float32), got {v!r}") from None


def _seed(op, name, v):
    if v is None:
        return None
    s = _int(op, name, v)
    if s < 0:
        raise ValueError(f"{op}(): argument '{name}' must be a non-negative int, got {s}")
    return s


def _tensors(op, name, seq):
    if _is_tensor(seq) or not isinstance(seq, (list, tuple)):
        raise TypeError(f"{op}(): argument '{name}' must be a list or tuple of Tensors, got {_tname(seq)}")
    if not seq:
        raise ValueError(f"{op}(): argument '{name}' must hold at least one Tensor, got an empty {_tname(seq)}")
    for i, t in enumerate(seq):
        if not _is_tensor(t):
            raise TypeError(f"{op}(): argument '{name}' must be a list or tuple of Tensors, got {_tname(t)} "
                            f"at position {i}")
    return list(seq)


_INT_DTYPES = (_dt.int8, _dt.uint8, _dt.int16, _dt.int32, _dt.int64)
_FLOAT_DTYPES = (_dt.float16, _dt.bfloat16, _dt.float32, _dt.float64)


def _is_float(dt):
    return dt in _FLOAT_DTYPES


# ------------------------------------------------------------------------------------- shape ops
@_export
def reshape(input, shape):
    """reshape(input, shape): the same elements in a new shape (one dim may be -1)."""
    _tensor("reshape", "input", input)
    return _op["reshape"](input, _ints("reshape", "shape", shape))


@_export
def transpose(input, input_perm):
    """transpose(input, input_perm): dims permuted (output dim i is input dim input_perm[i])."""
    _tensor("transpose", "input", input)
    perm = _ints("transpose", "input_perm", input_perm, allow_int=False)
    _check_perm("transpose", "input_perm", perm, input.ndim)
    return _op["transpose"](input, perm)


def _check_perm(op, name, perm, ndim):
    if len(perm) != ndim:
        raise ValueError(f"{op}(): argument '{name}' must have {ndim} entries for a {ndim}-dim tensor, "
                         f"got {len(perm)}: {perm}")
    norm = sorted(p % ndim if -ndim <= p < ndim else p for p in perm)
    if norm != list(range(ndim)):
        raise ValueError(f"{op}(): argument '{name}' must be a permutation of the dims 0..{ndim - 1}, got {perm}")


@_export
def permute(input, axis):
    """permute(input, axis): dims permuted as transpose."""
    _tensor("permute", "input", input)
    perm = _ints("permute", "axis", axis, allow_int=False)
    _check_perm("permute", "axis", perm, input.ndim)
    return _op["transpose"](input, perm)


@_export
def swapaxes(input, axis0, axis1):
    """swapaxes(input, axis0, axis1): the two dims exchanged."""
    _tensor("swapaxes", "input", input)
    nd = input.ndim
    a, b = _axis("swapaxes", "axis0", axis0, nd), _axis("swapaxes", "axis1", axis1, nd)
    perm = list(range(nd))
    perm[a], perm[b] = perm[b], perm[a]
    return _op["transpose"](input, perm)


swapdims = swapaxes
__all__.append("swapdims")


@_export
def t(input):
    """t(input): the transpose of a tensor of at most 2 dims."""
    _tensor("t", "input", input)
    if input.ndim > 2:
        raise ValueError(f"t(): argument 'input' must have at most 2 dims, got {input.ndim}")
    return _op["transpose"](input, None)


@_export
def expand_dims(input_x, axis):
    """expand_dims(input_x, axis): a size-1 dim inserted at axis (in [-ndim-1, ndim])."""
    _tensor("expand_dims", "input_x", input_x)
    a = _int("expand_dims", "axis", axis)
    nd = input_x.ndim
    if not -nd - 1 <= a <= nd:
        raise ValueError(f"expand_dims(): argument 'axis' = {a} is out of range for a {nd}-dim tensor "
                         f"(expected [{-nd - 1}, {nd}])")
    return _op["unsqueeze"](input_x, a)


@_export
def unsqueeze(input, dim):
    """unsqueeze(input, dim): a size-1 dim inserted at dim."""
    _tensor("unsqueeze", "input", input)
    a = _int("unsqueeze", "dim", dim)
    nd = input.ndim
    if not -nd - 1 <= a <= nd:
        raise ValueError(f"unsqueeze(): argument 'dim' = {a} is out of range for a {nd}-dim tensor "
                         f"(expected [{-nd - 1}, {nd}])")
    return _op["unsqueeze"](input, a)


@_export
def squeeze(input, axis=None):
    """squeeze(input, axis=None): size-1 dims removed (all of them, or those in axis, which must be 1)."""
    _tensor("squeeze", "input", input)
    if axis is None:
        return _op["squeeze"](input, None)
    ax = _ints("squeeze", "axis", axis)
    if not ax:
        return _op["squeeze"](input, None)
    nd = input.ndim
    for a in ax:
        if not -nd <= a < nd and not (nd == 0 and a in (0, -1)):
            raise ValueError(f"squeeze(): argument 'axis' = {a} is out of range for a {nd}-dim tensor "
                             f"(expected [{-nd}, {nd - 1}])")
        if nd and input.shape[a] != 1:
            raise ValueError(f"squeeze(): cannot squeeze axis {a}: its size is {input.shape[a]}, not 1 "
                             f"(input shape {input.shape})")
    if nd == 0:
        return input
    return _op["squeeze"](input, ax)


@_export
def flatten(input, order="C", *, start_dim=1, end_dim=-1):
    """flatten(input, order='C', *, start_dim=1, end_dim=-1): dims start_dim..end_dim merged into one.

    As in MindSpore, the default keeps dim 0 (the batch); a 0-d or 1-d input becomes 1-d. With
    order='F' the dims are first reversed (Fortran order)."""
    _tensor("flatten", "input", input)
    if not isinstance(order, str):
        raise TypeError(f"flatten(): argument 'order' must be a str, got {_tname(order)}")
    if order not in ("C", "F"):
        raise ValueError(f"flatten(): argument 'order' must be 'C' or 'F', got {order!r}")
    s = _int("flatten", "start_dim", start_dim)
    e = _int("flatten", "end_dim", end_dim)
    nd = input.ndim
    if nd <= 1:
        return _op["reshape"](input, (-1,))
    if order == "F":
        input = _op["transpose"](input, None)
    s = _axis("flatten", "start_dim", s, nd)
    e = _axis("flatten", "end_dim", e, nd)
    if s > e:
        raise ValueError(f"flatten(): 'start_dim' ({start_dim}) must not come after 'end_dim' ({end_dim}) "
                         f"for a {nd}-dim tensor")
    if s == e:
        return input
    shape = input.shape
    n = 1
    for d in shape[s:e + 1]:
        n *= d
    return _op["reshape"](input, shape[:s] + (n,) + shape[e + 1:])


@_export
def broadcast_to(input, shape):
    """broadcast_to(input, shape): a broadcast view; -1 in shape keeps the input's dim."""
    _tensor("broadcast_to", "input", input)
    s = list(_ints("broadcast_to", "shape", shape))
    nd, n = input.ndim, len(s)
    if n < nd:
        raise ValueError(f"broadcast_to(): cannot broadcast a tensor of shape {input.shape} to {tuple(s)}: "
                         f"the target has fewer dims")
    for i, d in enumerate(s):
        if d == -1:
            k = i - (n - nd)
            if k < 0:
                raise ValueError(f"broadcast_to(): -1 at position {i} of shape {tuple(shape)} has no "
                                 f"matching input dim (input shape {input.shape})")
            s[i] = input.shape[k]
        elif d < 0:
            raise ValueError(f"broadcast_to(): argument 'shape' has an invalid dim {d} (only -1 is allowed)")
    for i in range(nd):
        a, b = input.shape[i], s[i + n - nd]
        if a != b and a != 1:
            raise ValueError(f"broadcast_to(): cannot broadcast a tensor of shape {input.shape} to "
                             f"{tuple(s)} (dim {i}: {a} vs {b})")
    return _op["broadcast_to"](input, s)


@_export
def tile(input, multiples):
    """tile(input, multiples): input repeated multiples[i] times along dim i (as np.tile)."""
    _tensor("tile", "input", input)
    m = _ints("tile", "multiples", multiples)
    for k in m:
        if k < 0:
            raise ValueError(f"tile(): argument 'multiples' must be non-negative, got {m}")
    return _op["tile"](input, m)


@_export
def pad(input_x, padding, mode="constant", value=None):
    """pad(input_x, padding, mode='constant', value=None): padding pairs (before, after) from the LAST
    dim backwards, e.g. (1, 2) pads the last dim, (1, 2, 3, 4) the last two. Negative entries crop.
    Only 'constant' mode exists; new cells hold value (0 if None)."""
    _tensor("pad", "input_x", input_x)
    if not isinstance(mode, str):
        raise TypeError(f"pad(): argument 'mode' must be a str, got {_tname(mode)}")
    if mode != "constant":
        if mode in ("reflect", "replicate", "circular"):
            raise NotImplementedError(f"pad(): mode {mode!r} is not implemented yet; only 'constant' is")
        raise ValueError(f"pad(): argument 'mode' must be 'constant', 'reflect', 'replicate' or 'circular', "
                         f"got {mode!r}")
    p = _ints("pad", "padding", padding, allow_int=False)
    nd = input_x.ndim
    if len(p) % 2:
        raise ValueError(f"pad(): argument 'padding' must have an even number of entries, got {len(p)}")
    if len(p) > 2 * nd:
        raise ValueError(f"pad(): argument 'padding' has {len(p)} entries, at most {2 * nd} for a "
                         f"{nd}-dim tensor")
    full = [0] * (2 * nd)
    for k in range(len(p) // 2):
        d = nd - 1 - k
        full[2 * d], full[2 * d + 1] = p[2 * k], p[2 * k + 1]
        if input_x.shape[d] + p[2 * k] + p[2 * k + 1] < 0:
            raise ValueError(f"pad(): padding ({p[2 * k]}, {p[2 * k + 1]}) would make dim {d} of size "
                             f"{input_x.shape[d]} negative")
    v = 0 if value is None else _number("pad", "value", value)
    return _op["pad"](input_x, full, v)


# ------------------------------------------------------------------------------------- joining, splitting
def _join_axis(op, axis, ndim, new_dim):
    """The axis of concat (an existing dim) or stack (a new dim), checked."""
    a = _int(op, "axis", axis)
    if new_dim:
        ndim += 1
    elif ndim == 0:
        raise ValueError(f"{op}(): zero-dimensional tensors cannot be concatenated")
    if not -ndim <= a < ndim:
        raise ValueError(f"{op}(): argument 'axis' = {a} is out of range for {'a new dim of ' if new_dim else ''}"
                         f"{ndim - new_dim}-dim tensors (expected [{-ndim}, {ndim - 1}])")
    return a


@_export
def concat(tensors, axis=0):
    """concat(tensors, axis=0): the tensors joined along an existing axis."""
    ts = _tensors("concat", "tensors", tensors)
    return _op["concat"](ts, _join_axis("concat", axis, ts[0].ndim, False))


@_export
def cat(tensors, axis=0):
    """cat(tensors, axis=0): same as concat."""
    ts = _tensors("cat", "tensors", tensors)
    return _op["concat"](ts, _join_axis("cat", axis, ts[0].ndim, False))


@_export
def stack(tensors, axis=0):
    """stack(tensors, axis=0): equal-shape tensors joined along a new axis."""
    ts = _tensors("stack", "tensors", tensors)
    return _op["stack"](ts, _join_axis("stack", axis, ts[0].ndim, True))


def _split_sizes(x, sizes, axis):
    """x split into parts of the given sizes along axis (normalised), any number of parts."""
    if len(sizes) <= _MAX_SPLIT:
        return tuple(_op["split"](x, list(sizes), axis))
    groups = [sizes[i:i + _MAX_SPLIT] for i in range(0, len(sizes), _MAX_SPLIT)]
    out = []
    for part, g in zip(_split_sizes(x, [_pysum(g) for g in groups], axis), groups):
        out.extend(_split_sizes(part, g, axis))
    return tuple(out)


@_export
def split(tensor, split_size_or_sections, axis=0):
    """split(tensor, split_size_or_sections, axis=0): a tuple of parts along axis. An int is the size of
    each part (the last may be smaller); a list or tuple gives every part's size (summing to the dim)."""
    _tensor("split", "tensor", tensor)
    nd = tensor.ndim
    if nd == 0:
        raise ValueError("split(): cannot split a 0-d tensor")
    ax = _axis("split", "axis", axis, nd)
    dim = tensor.shape[ax]
    if isinstance(split_size_or_sections, (list, tuple)):
        sizes = list(_ints("split", "split_size_or_sections", split_size_or_sections))
        if not sizes:
            raise ValueError("split(): argument 'split_size_or_sections' must not be empty")
        if _pyany(s < 0 for s in sizes):
            raise ValueError(f"split(): argument 'split_size_or_sections' must be non-negative, got {sizes}")
        if _pysum(sizes) != dim:
            raise ValueError(f"split(): sections {sizes} sum to {_pysum(sizes)}, but axis {ax} of the "
                             f"tensor (shape {tensor.shape}) has size {dim}")
    else:
        k = _int("split", "split_size_or_sections", split_size_or_sections)
        if k <= 0:
            raise ValueError(f"split(): argument 'split_size_or_sections' must be a positive int, got {k}")
        sizes = [k] * (dim // k) + ([dim % k] if dim % k else [])
        if not sizes:
            sizes = [0]
    return _split_sizes(tensor, sizes, ax)


@_export
def chunk(input, chunks, axis=0):
    """chunk(input, chunks, axis=0): at most `chunks` parts of ceil(dim / chunks) (the last smaller)."""
    _tensor("chunk", "input", input)
    n = _int("chunk", "chunks", chunks)
    if n <= 0:
        raise ValueError(f"chunk(): argument 'chunks' must be a positive int, got {n}")
    if input.ndim == 0:
        raise ValueError("chunk(): cannot chunk a 0-d tensor")
    ax = _axis("chunk", "axis", axis, input.ndim)
    dim = input.shape[ax]
    size = -(-dim // n) if dim else 0
    if size == 0:
        return (input,) if dim == 0 else ()
    return split(input, size, ax)


@_export
def unbind(input, dim=0):
    """unbind(input, dim=0): the slices along dim, with dim removed."""
    _tensor("unbind", "input", input)
    if input.ndim == 0:
        raise ValueError("unbind(): cannot unbind a 0-d tensor")
    ax = _axis("unbind", "dim", dim, input.ndim)
    if input.shape[ax] == 0:
        return ()
    return tuple(_op["squeeze"](p, [ax]) for p in _split_sizes(input, [1] * input.shape[ax], ax))


# ------------------------------------------------------------------------------------- gathering
@_export
def gather(input_params, input_indices, axis, batch_dims=0):
    """gather(input_params, input_indices, axis, batch_dims=0): slices of input_params along axis picked
    by input_indices (np.take). With batch_dims = b, the first b dims of both are batch dims: each batch
    gathers with its own indices."""
    _tensor("gather", "input_params", input_params)
    _tensor("gather", "input_indices", input_indices)
    nd = input_params.ndim
    if nd == 0:
        raise ValueError("gather(): argument 'input_params' must have at least one dim")
    ax = _axis("gather", "axis", axis, nd)
    b = _int("gather", "batch_dims", batch_dims)
    ind = input_indices
    if b < 0:
        b += ind.ndim
    if b == 0:
        return _op["gather"](input_params, ind, ax)
    if not 0 <= b <= ind.ndim or b > ax:
        raise ValueError(f"gather(): argument 'batch_dims' = {batch_dims} must be in [0, {ind.ndim}] and at "
                         f"most 'axis' ({ax})")
    if input_params.shape[:b] != ind.shape[:b]:
        raise ValueError(f"gather(): the first {b} (batch) dims of input_params {input_params.shape} and "
                         f"input_indices {ind.shape} must be equal")
    # bring axis next to the batch dims, fold batch and axis into one dim, offset each batch's indices
    pshape = input_params.shape
    n = pshape[ax]
    perm = list(range(b)) + [ax] + [d for d in range(b, nd) if d != ax]
    p = _op["transpose"](input_params, perm)
    bsize = 1
    for d in pshape[:b]:
        bsize *= d
    p = _op["reshape"](p, (bsize * n,) + tuple(pshape[d] for d in perm[b + 1:]))
    bad = _op["any"](_op["logical_or"](_op["less"](ind, -n), _op["greater_equal"](ind, n)))
    if builtins.bool(bad):
        raise IndexError(f"gather(): an index of input_indices is out of bounds for axis {ax} with size {n}")
    ind = _op["where"](_op["less"](ind, 0), _op["add"](ind, n), ind)
    offs = _op["reshape"](_op["arange"](0, bsize * n, _pymax(n, 1), ind.dtype), pshape[:b] + (1,) * (ind.ndim - b))
    g = _op["gather"](p, _op["add"](ind, offs), 0)  # [batch..., idx..., pre..., post...]
    ni, npre = ind.ndim - b, ax - b
    order = (list(range(b)) + list(range(b + ni, b + ni + npre)) + list(range(b, b + ni))
             + list(range(b + ni + npre, g.ndim)))
    return _op["transpose"](g, order)


@_export
def gather_elements(input, dim, index):
    """gather_elements(input, dim, index): out[i][j][k] = input[index[i][j][k]][j][k] for dim 0, etc."""
    _tensor("gather_elements", "input", input)
    _tensor("gather_elements", "index", index)
    return _op["gather_elements"](input, index, _axis("gather_elements", "dim", dim, _pymax(input.ndim, 1)))


@_export
def gather_d(x, dim, index):
    """gather_d(x, dim, index): same as gather_elements."""
    _tensor("gather_d", "x", x)
    _tensor("gather_d", "index", index)
    return _op["gather_elements"](x, index, _axis("gather_d", "dim", dim, _pymax(x.ndim, 1)))


@_export
def index_select(input, axis, index):
    """index_select(input, axis, index): the slices of input along axis at the 1-D int tensor index."""
    _tensor("index_select", "input", input)
    _tensor("index_select", "index", index)
    if index.ndim > 1:
        raise ValueError(f"index_select(): argument 'index' must be 1-D, got shape {index.shape}")
    if input.ndim == 0:
        raise ValueError("index_select(): argument 'input' must have at least one dim")
    ax = _axis("index_select", "axis", axis, input.ndim)
    return _op["gather"](input, index, ax)


@_export
def one_hot(indices, depth, on_value=1, off_value=0, axis=-1):
    """one_hot(indices, depth, on_value=1, off_value=0, axis=-1): a new dim of size depth at axis, holding
    on_value where indices equals the position and off_value elsewhere. The result has on_value's
    dtype: a Tensor's dtype, int64 for a Python int, float32 for a Python float."""
    _tensor("one_hot", "indices", indices)
    d = _int("one_hot", "depth", depth)
    if d < 0:
        raise ValueError(f"one_hot(): argument 'depth' must be non-negative, got {d}")
    a = _int("one_hot", "axis", axis)
    if not -1 <= a <= indices.ndim:
        raise ValueError(f"one_hot(): argument 'axis' = {a} must be in [-1, {indices.ndim}]")
    if _is_tensor(on_value):
        dt = on_value.dtype
    elif isinstance(on_value, bool):
        dt = _dt.bool_
    elif isinstance(on_value, _pyint):
        dt = _dt.int64
    else:
        dt = _dt.float32
    on = _number("one_hot", "on_value", on_value)
    off = _number("one_hot", "off_value", off_value)
    return _op["one_hot"](indices, d, on, off, a, dt)


@_export
def masked_select(input, mask):
    """masked_select(input, mask): 1-D tensor of input's elements where the (broadcast) bool mask is True,
    in row-major order."""
    _tensor("masked_select", "input", input)
    _tensor("masked_select", "mask", mask)
    if mask.dtype != _dt.bool_:
        raise TypeError(f"masked_select(): argument 'mask' must be a bool Tensor, got {mask.dtype}")
    shape = _broadcast_shape("masked_select", input.shape, mask.shape)
    x = _op["reshape"](_op["broadcast_to"](input, shape), (-1,))
    m = _op["reshape"](_op["broadcast_to"](mask, shape), (-1,))
    idx = _op["reshape"](_op["nonzero"](m), (-1,))
    return _op["gather"](x, idx, 0)


@_export
def masked_fill(input_x, mask, value):
    """masked_fill(input_x, mask, value): input_x with value where the (broadcast) bool mask is True."""
    _tensor("masked_fill", "input_x", input_x)
    _tensor("masked_fill", "mask", mask)
    if mask.dtype != _dt.bool_:
        raise TypeError(f"masked_fill(): argument 'mask' must be a bool Tensor, got {mask.dtype}")
    if _is_tensor(value):
        value = _op["cast"](value, input_x.dtype)
    else:
        value = _number("masked_fill", "value", value)
        value = _op["full"]((), value, input_x.dtype)
    out = _op["where"](mask, value, input_x)
    return out


def _broadcast_shape(op, a, b):
    n = _pymax(len(a), len(b))
    a, b = (1,) * (n - len(a)) + tuple(a), (1,) * (n - len(b)) + tuple(b)
    out = []
    for x, y in zip(a, b):
        if x != y and x != 1 and y != 1:
            raise ValueError(f"{op}(): shapes {a} and {b} cannot be broadcast together")
        out.append(y if x == 1 else x)
    return tuple(out)


@_export
def nonzero(input, as_tuple=False):
    """nonzero(input, as_tuple=False): int64 [n, ndim] indices of the nonzero elements, or with
    as_tuple=True a tuple of ndim 1-D index tensors."""
    _tensor("nonzero", "input", input)
    r = _op["nonzero"](input)
    if not _bool("nonzero", "as_tuple", as_tuple):
        return r
    if input.ndim == 0:  # as for a 1-element 1-d tensor: ([0],) or ([],)
        return (_op["full"]((r.shape[0],), 0, _dt.int64),)
    cols = _split_sizes(r, [1] * input.ndim, 1)
    return tuple(_op["reshape"](c, (-1,)) for c in cols)


# ------------------------------------------------------------------------------------- creation
def _fill_value_dtype(v):
    if isinstance(v, bool):
        return _dt.bool_
    if isinstance(v, _pyint):
        return _dt.int64
    return _dt.float32


@_export
def zeros(size, dtype=None):
    """zeros(size, dtype=None): a tensor of zeros (float32 by default)."""
    return _op["full"](_shape("zeros", "size", size), 0, _dtype("zeros", "dtype", dtype, _dt.float32))


@_export
def ones(shape, dtype=None):
    """ones(shape, dtype=None): a tensor of ones (float32 by default)."""
    return _op["full"](_shape("ones", "shape", shape), 1, _dtype("ones", "dtype", dtype, _dt.float32))


@_export
def full(size, fill_value, *, dtype=None):
    """full(size, fill_value, *, dtype=None): a tensor filled with fill_value (float32 by default)."""
    s = _shape("full", "size", size)
    v = _number("full", "fill_value", fill_value)
    return _op["full"](s, v, _dtype("full", "dtype", dtype, _dt.float32))


@_export
def fill(type, shape, value):
    """fill(type, shape, value): a tensor of dtype `type` filled with value."""
    dt = _dtype("fill", "type", type)
    if dt is None:
        raise TypeError("fill(): argument 'type' must be a dtype, got None")
    return _op["full"](_shape("fill", "shape", shape), _number("fill", "value", value), dt)


@_export
def zeros_like(input, *, dtype=None):
    """zeros_like(input, *, dtype=None): zeros of input's shape (and dtype unless given)."""
    _tensor("zeros_like", "input", input)
    return _op["full"](input.shape, 0, _dtype("zeros_like", "dtype", dtype, input.dtype))


@_export
def ones_like(input, *, dtype=None):
    """ones_like(input, *, dtype=None): ones of input's shape (and dtype unless given)."""
    _tensor("ones_like", "input", input)
    return _op["full"](input.shape, 1, _dtype("ones_like", "dtype", dtype, input.dtype))


@_export
def full_like(input, fill_value, *, dtype=None):
    """full_like(input, fill_value, *, dtype=None): fill_value in input's shape (and dtype unless given)."""
    _tensor("full_like", "input", input)
    v = _number("full_like", "fill_value", fill_value)
    return _op["full"](input.shape, v, _dtype("full_like", "dtype", dtype, input.dtype))


def _range_number(op, name, v):
    """(value, is_float) of an arange/linspace bound: a Python number or a one-element Tensor."""
    if _is_tensor(v):
        if v.size != 1:
            raise ValueError(f"{op}(): argument '{name}' must be a number or a one-element Tensor, got a "
                             f"Tensor of shape {v.shape}")
        return v.item(), _is_float(v.dtype)
    if isinstance(v, bool):
        raise TypeError(f"{op}(): argument '{name}' must be an int or a float, got bool")
    if isinstance(v, _pyfloat):
        return v, True
    if not isinstance(v, (str, bytes)):
        try:
            return operator.index(v), False
        except TypeError:
            pass
        try:
            return _pyfloat(v), True
        except (TypeError, ValueError):
            pass
    raise TypeError(f"{op}(): argument '{name}' must be an int or a float, got {_tname(v)}")


@_export
def arange(start=0, end=None, step=1, *, dtype=None):
    """arange(start=0, end=None, step=1, *, dtype=None): start, start + step, ... before end. With one
    bound it is the end. All-int arguments give int64, any float gives float32 (unless dtype is given)."""
    if end is None:
        start, end = 0, start
    s, sf = _range_number("arange", "start", start)
    e, ef = _range_number("arange", "end", end)
    st, stf = _range_number("arange", "step", step)
    for name, v in (("start", s), ("end", e), ("step", st)):
        if not math.isfinite(v):
            raise ValueError(f"arange(): argument '{name}' must be finite, got {v}")
    if st == 0:
        raise ValueError("arange(): argument 'step' must not be zero")
    if (st > 0 and e < s) or (st < 0 and e > s):
        raise ValueError(f"arange(): with step {st}, end ({e}) must be on the same side of start ({s}) "
                         f"as the step points")
    default = _dt.float32 if (sf or ef or stf) else _dt.int64
    dt = _dtype("arange", "dtype", dtype, default)
    if dt == _dt.bool_:
        raise TypeError("arange(): dtype bool is not supported")
    return _op["arange"](s, e, st, dt)


@_export
def linspace(start, end, steps):
    """linspace(start, end, steps): steps evenly spaced float32 values from start to end inclusive."""
    s, _ = _range_number("linspace", "start", start)
    e, _ = _range_number("linspace", "end", end)
    n = _int("linspace", "steps", steps.item() if _is_tensor(steps) and steps.size == 1 else steps)
    if n <= 0:
        raise ValueError(f"linspace(): argument 'steps' must be positive, got {n}")
    return _op["linspace"](s, e, n, _dt.float32)


@_export
def eye(n, m=None, dtype=None):
    """eye(n, m=None, dtype=None): an n x m (n x n) matrix with ones on the diagonal (float32 default)."""
    rows = _int("eye", "n", n)
    cols = rows if m is None else _int("eye", "m", m)
    if rows < 0 or cols < 0:
        raise ValueError(f"eye(): arguments 'n' and 'm' must be non-negative, got n={rows}, m={cols}")
    return _op["eye"](rows, cols, _dtype("eye", "dtype", dtype, _dt.float32))


# ------------------------------------------------------------------------------------- reductions
def _reduce(name, opname, input, axis, keepdims, argname="axis", kwname="keepdims"):
    _tensor(name, "input", input)
    ax = _axes(name, argname, axis, input.ndim)
    return _op[opname](input, ax, _bool(name, kwname, keepdims))


@_export
def sum(input, dim=None, keepdim=False, *, dtype=None):
    """sum(input, dim=None, keepdim=False, *, dtype=None): the sum over dim (all dims when None); with
    dtype the input is converted first. Integer and bool inputs sum in int64."""
    _tensor("sum", "input", input)
    dt = _dtype("sum", "dtype", dtype)
    if dt is not None and dt != input.dtype:
        input = _op["cast"](input, dt)
    r = _op["sum"](input, _axes("sum", "dim", dim, input.ndim), _bool("sum", "keepdim", keepdim))
    if dt is not None and r.dtype != dt:
        r = _op["cast"](r, dt)
    return r


@_export
def mean(input, axis=None, keep_dims=False):
    """mean(input, axis=None, keep_dims=False): the mean over axis (all dims when None)."""
    return _reduce("mean", "mean", input, axis, keep_dims, kwname="keep_dims")


@_export
def prod(input, axis=None, keep_dims=False):
    """prod(input, axis=None, keep_dims=False): the product over axis (all dims when None)."""
    return _reduce("prod", "prod", input, axis, keep_dims, kwname="keep_dims")


def _extreme(name, opname, cmp, input, axis, keepdims, initial, where):
    _tensor(name, "input", input)
    ax = _axes(name, "axis", axis, input.ndim)
    kd = _bool(name, "keepdims", keepdims)
    if where is not None:
        _tensor(name, "where", where)
        if initial is None:
            raise ValueError(f"{name}(): argument 'initial' must be given together with 'where'")
        input = _op["where"](where, input, _number(name, "initial", initial))
    if initial is None:
        return _op[opname](input, ax, kd)
    init = _number(name, "initial", initial)
    if input.size == 0:
        return _op["full"](_reduced_shape(input.shape, ax, kd), init, input.dtype)
    r = _op[opname](input, ax, kd)
    return _op["cast"](_op[cmp](r, init), r.dtype)


def _reduced_shape(shape, axes, keepdims):
    nd = len(shape)
    red = set(range(nd)) if axes is None else {a % nd for a in axes}
    if keepdims:
        return tuple(1 if d in red else s for d, s in enumerate(shape))
    return tuple(s for d, s in enumerate(shape) if d not in red)


@_export
def amax(input, axis=None, keepdims=False, *, initial=None, where=None):
    """amax(input, axis=None, keepdims=False, *, initial=None, where=None): the maximum over axis."""
    return _extreme("amax", "amax", "maximum", input, axis, keepdims, initial, where)


@_export
def amin(input, axis=None, keepdims=False, *, initial=None, where=None):
    """amin(input, axis=None, keepdims=False, *, initial=None, where=None): the minimum over axis."""
    return _extreme("amin", "amin", "minimum", input, axis, keepdims, initial, where)


def _max_min(name, red, arg, cmp, input, axis, keepdims, initial, where):
    _tensor(name, "input", input)
    kd = _bool(name, "keepdims", keepdims)
    if axis is None:
        v = _extreme(name, red, cmp, input, None, False, initial, where)
        return v, _op["full"]((), 0, _dt.int32)
    nd = input.ndim
    ax = _axis(name, "axis", axis, _pymax(nd, 1))
    v = _extreme(name, red, cmp, input, ax, kd, initial, where)
    x = input if where is None else _op["where"](where, input, _number(name, "initial", initial))
    if nd == 0:
        return v, _op["full"]((), 0, _dt.int32)
    i = _op[arg](x, ax, kd)
    return v, _op["cast"](i, _dt.int32)


@_export
def max(input, axis=None, keepdims=False, *, initial=None, where=None):
    """max(input, axis=None, keepdims=False, *, initial=None, where=None) -> (values, indices).

    As in MindSpore, a tuple always: the maximum over axis and its (first) int32 index; with axis None
    the maximum of all elements and index 0."""
    return _max_min("max", "amax", "argmax", "maximum", input, axis, keepdims, initial, where)


@_export
def min(input, axis=None, keepdims=False, *, initial=None, where=None):
    """min(input, axis=None, keepdims=False, *, initial=None, where=None) -> (values, indices)."""
    return _max_min("min", "amin", "argmin", "minimum", input, axis, keepdims, initial, where)


def _arg(name, opname, input, axis, keepdims, argname, kwname):
    _tensor(name, "input", input)
    kd = _bool(name, kwname, keepdims)
    if axis is None:
        return _op[opname](input, None, False)
    ax = _axis(name, argname, axis, _pymax(input.ndim, 1))
    if input.ndim == 0:
        return _op["full"]((), 0, _dt.int64)
    return _op[opname](input, ax, kd)


@_export
def argmax(input, dim=None, keepdim=False):
    """argmax(input, dim=None, keepdim=False): int64 index of the (first) maximum along dim; of the
    flattened input when dim is None."""
    return _arg("argmax", "argmax", input, dim, keepdim, "dim", "keepdim")


@_export
def argmin(input, axis=None, keepdims=False):
    """argmin(input, axis=None, keepdims=False): int64 index of the (first) minimum along axis."""
    return _arg("argmin", "argmin", input, axis, keepdims, "axis", "keepdims")


@_export
def all(input, axis=None, keep_dims=False):
    """all(input, axis=None, keep_dims=False): whether every element is nonzero (bool)."""
    return _reduce("all", "all", input, axis, keep_dims, kwname="keep_dims")


@_export
def any(input, axis=None, keep_dims=False):
    """any(input, axis=None, keep_dims=False): whether some element is nonzero (bool)."""
    return _reduce("any", "any", input, axis, keep_dims, kwname="keep_dims")


def _ddof(name, ddof):
    if isinstance(ddof, bool):
        return 1 if ddof else 0
    d = _int(name, "ddof", ddof)
    if d < 0:
        raise ValueError(f"{name}(): argument 'ddof' must be non-negative, got {d}")
    return d


@_export
def var(input, axis=None, ddof=0, keepdims=False):
    """var(input, axis=None, ddof=0, keepdims=False): variance, divisor N - ddof (ddof=True means 1)."""
    _tensor("var", "input", input)
    ax = _axes("var", "axis", axis, input.ndim)
    return _op["var"](input, ax, _bool("var", "keepdims", keepdims), _ddof("var", ddof))


@_export
def std(input, axis=None, ddof=0, keepdims=False):
    """std(input, axis=None, ddof=0, keepdims=False): standard deviation, divisor N - ddof."""
    _tensor("std", "input", input)
    ax = _axes("std", "axis", axis, input.ndim)
    return _op["std"](input, ax, _bool("std", "keepdims", keepdims), _ddof("std", ddof))


# ------------------------------------------------------------------------------------- elementwise
@_export
def cast(input, dtype):
    """cast(input, dtype): input converted to dtype."""
    x = _to_tensor("cast", "input", input)
    dt = _dtype("cast", "dtype", dtype)
    if dt is None:
        raise TypeError("cast(): argument 'dtype' must be a dtype, got None")
    return _op["cast"](x, dt)


def _clamp(name, input, lo, hi):
    _tensor(name, "input", input)
    if lo is None and hi is None:
        raise ValueError(f"{name}(): at least one of 'min' and 'max' must be given")
    if _is_tensor(lo) or _is_tensor(hi):
        out = input
        if lo is not None:
            out = _op["maximum"](out, lo)
        if hi is not None:
            out = _op["minimum"](out, hi)
        return out
    lo = None if lo is None else _number(name, "min", lo)
    hi = None if hi is None else _number(name, "max", hi)
    if not _is_float(input.dtype) and (isinstance(lo, _pyfloat) or isinstance(hi, _pyfloat)):
        input = _op["cast"](input, _dt.float32)  # a float bound makes an integer input float32
    return _op["clip"](input, lo, hi)


@_export
def clamp(input, min=None, max=None):
    """clamp(input, min=None, max=None): elements limited to [min, max] (bounds may be numbers or Tensors)."""
    return _clamp("clamp", input, min, max)


@_export
def clip(input, min=None, max=None):
    """clip(input, min=None, max=None): same as clamp."""
    return _clamp("clip", input, min, max)


@_export
def where(condition, x, y):
    """where(condition, x, y): x where condition is True, else y (broadcast; x, y may be scalars)."""
    _tensor("where", "condition", condition)
    return _op["where"](condition, x, y)


@_export
def select(cond, x, y):
    """select(cond, x, y): same as where."""
    _tensor("select", "cond", cond)
    return _op["where"](cond, x, y)


@_export
def matmul(input, other):
    """matmul(input, other): the matrix product with NumPy's rules (1-D operands, broadcast batch dims)."""
    _tensor("matmul", "input", input)
    _tensor("matmul", "other", other)
    return _op["matmul"](input, other)


@_export
def bmm(input_x, mat2):
    """bmm(input_x, mat2): batched matrix product of (..., n, m) and (..., m, p) tensors (3 or more dims)."""
    _tensor("bmm", "input_x", input_x)
    _tensor("bmm", "mat2", mat2)
    if input_x.ndim < 3 or mat2.ndim < 3:
        raise ValueError(f"bmm(): both inputs must have at least 3 dims, got shapes {input_x.shape} and "
                         f"{mat2.shape}")
    return _op["matmul"](input_x, mat2)


@_export
def div(input, other, rounding_mode=None):
    """div(input, other, rounding_mode=None): true division (integers give float32); 'floor' rounds the
    quotient down, 'trunc' toward zero (integers stay integers for both)."""
    if not _is_tensor(input) and not _is_tensor(other):
        input = _to_tensor("div", "input", input)
    if rounding_mode is None:
        return _op["div"](input, other)
    if rounding_mode == "floor":
        return _op["floor_div"](input, other)
    if rounding_mode == "trunc":
        fq = _op["floor_div"](input, other)
        if _is_float(fq.dtype):
            q = _op["div"](input, other)
            return _op["where"](_op["less"](q, 0), _op["ceil"](q), _op["floor"](q))
        # exact integer arithmetic: the floor, plus one where the remainder is nonzero and signs differ
        r = _op["mod"](input, other)
        neg = _op["logical_xor"](_op["less"](input, 0), _op["less"](other, 0))
        fix = _op["logical_and"](_op["not_equal"](r, 0), neg)
        return _op["add"](fq, _op["cast"](fix, fq.dtype))
    if not isinstance(rounding_mode, str):
        raise TypeError(f"div(): argument 'rounding_mode' must be None, 'floor' or 'trunc', got "
                        f"{_tname(rounding_mode)}")
    raise ValueError(f"div(): argument 'rounding_mode' must be None, 'floor' or 'trunc', got {rounding_mode!r}")


@_export
def clip_by_value(x, clip_value_min=None, clip_value_max=None):
    """clip_by_value(x, clip_value_min=None, clip_value_max=None): same as clamp."""
    return _clamp("clip_by_value", x, clip_value_min, clip_value_max)


@_export
def gelu(input, approximate="none"):
    """gelu(input, approximate='none'): x * Phi(x) with the exact erf form, or with approximate='tanh'
    the tanh approximation 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))."""
    _tensor("gelu", "input", input)
    if approximate == "none":
        return _op["gelu"](input)
    if approximate != "tanh":
        raise ValueError(f"gelu(): argument 'approximate' must be 'none' or 'tanh', got {approximate!r}")
    x = input if _is_float(input.dtype) else _op["cast"](input, _dt.float32)
    inner = _op["mul"](_op["add"](x, _op["mul"](_op["mul"](_op["mul"](x, x), x), 0.044715)),
                       math.sqrt(2.0 / math.pi))
    return _op["mul"](_op["mul"](x, 0.5), _op["add"](_op["tanh"](inner), 1.0))


def _alias(name, opname, doc):
    f = _op[opname]

    def alias(input, other):
        return f(input, other)

    alias.__name__ = alias.__qualname__ = name
    alias.__doc__ = f"{name}(input, other): {doc}"
    globals()[name] = alias
    __all__.append(name)


for _n, _o, _d in (("eq", "equal", "input == other (bool)"), ("ne", "not_equal", "input != other (bool)"),
                   ("gt", "greater", "input > other (bool)"), ("ge", "greater_equal", "input >= other (bool)"),
                   ("lt", "less", "input < other (bool)"), ("le", "less_equal", "input <= other (bool)"),
                   ("multiply", "mul", "the elementwise product"), ("subtract", "sub", "input - other"),
                   ("true_divide", "div", "true division (integers give float32)"),
                   ("floor_divide", "floor_div", "the quotient rounded down"),
                   ("remainder", "mod", "the remainder of floor division (the sign of other)")):
    _alias(_n, _o, _d)


def _slice_masks(op, x, begin, end, strides, begin_mask, end_mask, ellipsis_mask, new_axis_mask,
                 shrink_axis_mask):
    b = list(_ints(op, "begin", begin, allow_int=False))
    e = list(_ints(op, "end", end, allow_int=False))
    s = list(_ints(op, "strides", strides, allow_int=False))
    if not len(b) == len(e) == len(s):
        raise ValueError(f"{op}(): 'begin', 'end' and 'strides' must have the same length, got {len(b)}, "
                         f"{len(e)} and {len(s)}")
    if len(b) > x.ndim:
        raise ValueError(f"{op}(): {len(b)} slice entries given for a {x.ndim}-dim tensor")
    masks = {}
    for name, m in (("begin_mask", begin_mask), ("end_mask", end_mask), ("ellipsis_mask", ellipsis_mask),
                    ("new_axis_mask", new_axis_mask), ("shrink_axis_mask", shrink_axis_mask)):
        masks[name] = _int(op, name, m)
        if masks[name] < 0:
            raise ValueError(f"{op}(): argument '{name}' must be non-negative, got {m}")
    if masks["ellipsis_mask"] or masks["new_axis_mask"]:
        raise NotImplementedError(f"{op}(): 'ellipsis_mask' and 'new_axis_mask' are not supported yet; index the "
                                  f"tensor with ... and None instead")
    shrink = []
    for i in range(len(b)):
        n, st = x.shape[i], s[i]
        if st == 0:
            raise ValueError(f"{op}(): strides[{i}] must not be zero")
        if masks["shrink_axis_mask"] >> i & 1:
            if not -n <= b[i] < n:
                raise IndexError(f"{op}(): begin[{i}] = {b[i]} is out of range for dim {i} of size {n}")
            b[i] %= n
            e[i], s[i] = b[i] + 1, 1
            shrink.append(i)
            continue
        if masks["begin_mask"] >> i & 1:
            b[i] = 0 if st > 0 else n - 1
        if masks["end_mask"] >> i & 1:
            e[i] = n if st > 0 else -n - 1
    r = _op["strided_slice"](x, b, e, s)
    return _op["squeeze"](r, shrink) if shrink else r


@_export
def strided_slice(input_x, begin, end, strides, begin_mask=0, end_mask=0, ellipsis_mask=0, new_axis_mask=0,
                  shrink_axis_mask=0):
    """strided_slice(input_x, begin, end, strides, begin_mask=0, end_mask=0, ellipsis_mask=0,
    new_axis_mask=0, shrink_axis_mask=0): input_x[begin[0]:end[0]:strides[0], ...] (a view). Bit i of
    begin_mask / end_mask ignores begin[i] / end[i]; bit i of shrink_axis_mask takes index begin[i] and
    removes dim i."""
    _tensor("strided_slice", "input_x", input_x)
    return _slice_masks("strided_slice", input_x, begin, end, strides, begin_mask, end_mask, ellipsis_mask,
                        new_axis_mask, shrink_axis_mask)


# ------------------------------------------------------------------------------------- random
def _random_shape(op, shape):
    if isinstance(shape, (list, tuple)) or _is_tensor(shape):
        return _shape(op, "shape", shape)
    raise TypeError(f"{op}(): argument 'shape' must be a tuple or list of ints, got {_tname(shape)}")


def _float_dtype(op, name, dtype, default=_dt.float32):
    dt = _dtype(op, name, dtype, default)
    if not _is_float(dt):
        raise TypeError(f"{op}(): argument '{name}' must be a floating-point dtype, got {dt}")
    return dt


def _scalar_like(v):
    return not _is_tensor(v) or v.size == 1


@_export
def uniform(shape, minval, maxval, seed=None, dtype=_dt.float32):
    """uniform(shape, minval, maxval, seed=None, dtype=float32): values uniform in [minval, maxval).

    Integer dtypes give integers in [minval, maxval). The values come from the global generator
    (reproducible after ms.set_seed); `seed` is checked but does not start a generator of its own."""
    s = _random_shape("uniform", shape)
    _seed("uniform", "seed", seed)
    dt = _dtype("uniform", "dtype", dtype, _dt.float32)
    if dt == _dt.bool_:
        raise TypeError("uniform(): argument 'dtype' must be an integer or floating-point dtype, got Bool")
    if _scalar_like(minval) and _scalar_like(maxval):
        lo, hi = _number("uniform", "minval", minval), _number("uniform", "maxval", maxval)
        if not lo <= hi:
            raise ValueError(f"uniform(): 'minval' ({lo}) must not be greater than 'maxval' ({hi})")
        if _is_float(dt):
            return _op["uniform"](s, lo, hi, dt)
        if lo == hi:
            raise ValueError(f"uniform(): for integer dtype {dt}, 'minval' ({lo}) must be less than 'maxval' ({hi})")
        u = _op["floor"](_op["uniform"](s, lo, hi, _dt.float64))
        return _op["cast"](_op["clip"](u, None, hi - 1), dt)
    lo = _to_tensor("uniform", "minval", minval)
    hi = _to_tensor("uniform", "maxval", maxval)
    bshape = _broadcast_shape("uniform", _broadcast_shape("uniform", s, lo.shape), hi.shape)
    u = _op["uniform"](bshape, 0, 1, dt if _is_float(dt) else _dt.float64)
    r = _op["add"](_op["mul"](u, _op["sub"](hi, lo)), lo)
    if not _is_float(dt):
        r = _op["floor"](r)
    return _op["cast"](r, dt)


@_export
def standard_normal(shape, seed=None, seed2=None):
    """standard_normal(shape, seed=None, seed2=None): float32 values from N(0, 1) (global generator)."""
    s = _random_shape("standard_normal", shape)
    _seed("standard_normal", "seed", seed)
    _seed("standard_normal", "seed2", seed2)
    return _op["normal"](s, 0.0, 1.0, _dt.float32)


@_export
def normal(shape, mean=0.0, stddev=1.0, seed=None):
    """normal(shape, mean=0.0, stddev=1.0, seed=None): float32 values from N(mean, stddev^2); mean and
    stddev may be Tensors, broadcast with shape."""
    s = _random_shape("normal", shape)
    _seed("normal", "seed", seed)
    if _scalar_like(mean) and _scalar_like(stddev):
        m, sd = _number("normal", "mean", mean), _number("normal", "stddev", stddev)
        if sd < 0:
            raise ValueError(f"normal(): argument 'stddev' must be non-negative, got {sd}")
        return _op["normal"](s, m, sd, _dt.float32)
    m = _to_tensor("normal", "mean", mean)
    sd = _to_tensor("normal", "stddev", stddev)
    bshape = _broadcast_shape("normal", _broadcast_shape("normal", s, m.shape), sd.shape)
    z = _op["normal"](bshape, 0.0, 1.0, _dt.float32)
    return _op["add"](_op["mul"](z, sd), m)


def _size_args(op, size):
    if len(size) == 1 and isinstance(size[0], (list, tuple)):
        size = size[0]
    return _shape(op, "size", tuple(size))


@_export
def rand(*size, dtype=None, seed=None):
    """rand(*size, dtype=None, seed=None): values uniform in [0, 1) (float32 by default)."""
    s = _size_args("rand", size)
    _seed("rand", "seed", seed)
    return _op["uniform"](s, 0.0, 1.0, _float_dtype("rand", "dtype", dtype))


@_export
def randn(*size, dtype=None, seed=None):
    """randn(*size, dtype=None, seed=None): values from N(0, 1) (float32 by default)."""
    s = _size_args("randn", size)
    _seed("randn", "seed", seed)
    return _op["normal"](s, 0.0, 1.0, _float_dtype("randn", "dtype", dtype))


@_export
def rand_like(input, seed=None, *, dtype=None):
    """rand_like(input, seed=None, *, dtype=None): uniform [0, 1) values of input's shape."""
    _tensor("rand_like", "input", input)
    _seed("rand_like", "seed", seed)
    default = input.dtype if _is_float(input.dtype) else _dt.float32
    return _op["uniform"](input.shape, 0.0, 1.0, _float_dtype("rand_like", "dtype", dtype, default))


@_export
def randn_like(input, seed=None, *, dtype=None):
    """randn_like(input, seed=None, *, dtype=None): N(0, 1) values of input's shape."""
    _tensor("randn_like", "input", input)
    _seed("randn_like", "seed", seed)
    default = input.dtype if _is_float(input.dtype) else _dt.float32
    return _op["normal"](input.shape, 0.0, 1.0, _float_dtype("randn_like", "dtype", dtype, default))


@_export
def bernoulli(input, p=0.5, seed=None):
    """bernoulli(input, p=0.5, seed=None): 0/1 values of input's shape and dtype, each 1 with
    probability p (a number, or a Tensor broadcast to input's shape)."""
    _tensor("bernoulli", "input", input)
    _seed("bernoulli", "seed", seed)
    if _is_tensor(p):
        pt = p if _is_float(p.dtype) else _op["cast"](p, _dt.float32)
        if pt.shape != input.shape:
            if _broadcast_shape("bernoulli", pt.shape, input.shape) != input.shape:
                raise ValueError(f"bernoulli(): argument 'p' of shape {p.shape} does not broadcast to the input's "
                                 f"shape {input.shape}")
            pt = _op["broadcast_to"](pt, input.shape)
        r = _op["bernoulli"](pt, None)
        return r if r.dtype == input.dtype else _op["cast"](r, input.dtype)
    pv = _number("bernoulli", "p", p)
    if not 0 <= pv <= 1:
        raise ValueError(f"bernoulli(): argument 'p' must be in [0, 1], got {pv}")
    return _op["bernoulli"](input, pv)
