"""Primitive classes whose constructor and call differ from the op table's raw form (the seeds'
spellings: ``ops.MatMul(transpose_b=True)(a, b)``, ``ops.ReduceSum(keep_dims=True)(x, axis)``...). Each
forwards to a functional op of ``functional.py``. ``ops/__init__.py`` re-exports ``__all__`` after the
generated primitives, so a class defined here replaces the generated one."""
from ..common import dtype as _dt
from ..common.tensor import Tensor
from ._generated import Primitive
from .functional import *  # noqa: F401,F403
from .functional import (_arg, _axes, _axis, _bool, _check_perm, _dtype, _int, _ints, _join_axis, _op, _pyany,
                         _pymax, _random_shape, _seed, _slice_masks, _split_sizes, _tensor, _tensors, _tname,
                         _to_tensor)

__all__ = []
# ------------------------------------------------------------------------------------- primitive classes
def _prim(cls):
    __all__.append(cls.__name__)
    return cls


class _Prim(Primitive):
    """A primitive whose constructor takes the seeds' attributes (not the op table's)."""

    def __init__(self, **attrs):
        super().__init__()
        self._attrs = attrs
        for k, v in attrs.items():
            setattr(self, k, v)

    def __repr__(self):
        return f"Prim[{type(self).__name__}]"


@_prim
class MatMul(_Prim):
    """MatMul(transpose_a=False, transpose_b=False)(x, y): the product of 2-D tensors (either transposed)."""

    def __init__(self, transpose_a=False, transpose_b=False):
        super().__init__(transpose_a=_bool("MatMul", "transpose_a", transpose_a),
                         transpose_b=_bool("MatMul", "transpose_b", transpose_b))

    def __call__(self, x, y):
        _tensor("MatMul", "x", x)
        _tensor("MatMul", "y", y)
        if x.ndim != 2 or y.ndim != 2:
            raise ValueError(f"MatMul(): inputs must be 2-D, got shapes {x.shape} and {y.shape} "
                             f"(use BatchMatMul or ops.matmul for batches)")
        return _op["matmul"](x, y, self.transpose_a, self.transpose_b)


@_prim
class BatchMatMul(_Prim):
    """BatchMatMul(transpose_a=False, transpose_b=False)(x, y): batched products of the last two dims."""

    def __init__(self, transpose_a=False, transpose_b=False):
        super().__init__(transpose_a=_bool("BatchMatMul", "transpose_a", transpose_a),
                         transpose_b=_bool("BatchMatMul", "transpose_b", transpose_b))

    def __call__(self, x, y):
        _tensor("BatchMatMul", "x", x)
        _tensor("BatchMatMul", "y", y)
        if x.ndim < 2 or y.ndim < 2:
            raise ValueError(f"BatchMatMul(): inputs need at least 2 dims, got shapes {x.shape} and {y.shape}")
        return _op["matmul"](x, y, self.transpose_a, self.transpose_b)


class _Reduce(_Prim):
    _opname = None

    def __init__(self, keep_dims=False):
        super().__init__(keep_dims=_bool(type(self).__name__, "keep_dims", keep_dims))

    def __call__(self, x, axis=()):
        name = type(self).__name__
        _tensor(name, "x", x)
        return _op[self._opname](x, _axes(name, "axis", axis, x.ndim), self.keep_dims)


@_prim
class ReduceSum(_Reduce):
    """ReduceSum(keep_dims=False)(x, axis=()): the sum over axis (() = all dims)."""
    _opname = "sum"

    def __init__(self, keep_dims=False, skip_mode=False):
        super().__init__(keep_dims)
        self.skip_mode = _bool("ReduceSum", "skip_mode", skip_mode)

    def __call__(self, x, axis=()):
        if self.skip_mode and (axis is None or axis == () or axis == []):
            return _tensor("ReduceSum", "x", x)
        return super().__call__(x, axis)


@_prim
class ReduceMean(_Reduce):
    """ReduceMean(keep_dims=False)(x, axis=()): the mean over axis (() = all dims)."""
    _opname = "mean"


@_prim
class ReduceMax(_Reduce):
    """ReduceMax(keep_dims=False)(x, axis=()): the maximum over axis (() = all dims)."""
    _opname = "amax"


@_prim
class ReduceMin(_Reduce):
    """ReduceMin(keep_dims=False)(x, axis=()): the minimum over axis (() = all dims)."""
    _opname = "amin"


@_prim
class ReduceProd(_Reduce):
    """ReduceProd(keep_dims=False)(x, axis=()): the product over axis (() = all dims)."""
    _opname = "prod"


@_prim
class ReduceAll(_Reduce):
    """ReduceAll(keep_dims=False)(x, axis=()): logical and over axis."""
    _opname = "all"


@_prim
class ReduceAny(_Reduce):
    """ReduceAny(keep_dims=False)(x, axis=()): logical or over axis."""
    _opname = "any"


class _ArgPrim(_Prim):
    _opname = None

    def __init__(self, axis=-1, output_type=_dt.int32):
        name = type(self).__name__
        dt = _dtype(name, "output_type", output_type)
        if dt not in (_dt.int32, _dt.int64):
            raise TypeError(f"{name}(): argument 'output_type' must be int32 or int64, got {dt}")
        super().__init__(axis=_int(name, "axis", axis), output_type=dt)

    def __call__(self, x):
        name = type(self).__name__
        _tensor(name, "x", x)
        if x.ndim == 0:
            return _op["full"]((), 0, self.output_type)
        ax = _axis(name, "axis", self.axis, x.ndim)
        return _op["cast"](_op[self._opname](x, ax, False), self.output_type)


@_prim
class Argmax(_ArgPrim):
    """Argmax(axis=-1, output_type=int32)(x): index of the first maximum along axis."""
    _opname = "argmax"


@_prim
class Argmin(_ArgPrim):
    """Argmin(axis=-1, output_type=int32)(x): index of the first minimum along axis."""
    _opname = "argmin"


class _ArgWithValue(_Prim):
    _red = _arg = None

    def __init__(self, axis=0, keep_dims=False):
        name = type(self).__name__
        super().__init__(axis=_int(name, "axis", axis), keep_dims=_bool(name, "keep_dims", keep_dims))

    def __call__(self, x):
        name = type(self).__name__
        _tensor(name, "x", x)
        if x.ndim == 0:
            return _op["full"]((), 0, _dt.int32), x
        ax = _axis(name, "axis", self.axis, x.ndim)
        idx = _op["cast"](_op[self._arg](x, ax, self.keep_dims), _dt.int32)
        return idx, _op[self._red](x, ax, self.keep_dims)


@_prim
class ArgMaxWithValue(_ArgWithValue):
    """ArgMaxWithValue(axis=0, keep_dims=False)(x) -> (int32 index, value) of the maximum along axis."""
    _red, _arg = "amax", "argmax"


@_prim
class ArgMinWithValue(_ArgWithValue):
    """ArgMinWithValue(axis=0, keep_dims=False)(x) -> (int32 index, value) of the minimum along axis."""
    _red, _arg = "amin", "argmin"


@_prim
class Transpose(_Prim):
    """Transpose()(x, perm): dims permuted."""

    def __call__(self, x, perm):
        _tensor("Transpose", "x", x)
        p = _ints("Transpose", "perm", perm, allow_int=False)
        _check_perm("Transpose", "perm", p, x.ndim)
        return _op["transpose"](x, p)


@_prim
class Reshape(_Prim):
    """Reshape()(x, shape): the same elements in a new shape."""

    def __call__(self, x, shape):
        _tensor("Reshape", "x", x)
        return _op["reshape"](x, _ints("Reshape", "shape", shape))


@_prim
class Cast(_Prim):
    """Cast()(x, dtype): x converted to dtype."""

    def __call__(self, x, dtype):
        x = _to_tensor("Cast", "x", x)
        dt = _dtype("Cast", "dtype", dtype)
        if dt is None:
            raise TypeError("Cast(): argument 'dtype' must be a dtype, got None")
        return _op["cast"](x, dt)


@_prim
class Concat(_Prim):
    """Concat(axis=0)(tensors): the tensors joined along axis."""

    def __init__(self, axis=0):
        super().__init__(axis=_int("Concat", "axis", axis))

    def __call__(self, tensors):
        ts = _tensors("Concat", "tensors", tensors)
        return _op["concat"](ts, _join_axis("Concat", self.axis, ts[0].ndim, False))


@_prim
class Stack(_Prim):
    """Stack(axis=0)(tensors): equal-shape tensors joined along a new axis."""

    def __init__(self, axis=0):
        super().__init__(axis=_int("Stack", "axis", axis))

    def __call__(self, tensors):
        ts = _tensors("Stack", "tensors", tensors)
        return _op["stack"](ts, _join_axis("Stack", self.axis, ts[0].ndim, True))


@_prim
class Split(_Prim):
    """Split(axis=0, output_num=1)(x): a tuple of output_num equal parts along axis."""

    def __init__(self, axis=0, output_num=1):
        n = _int("Split", "output_num", output_num)
        if n <= 0:
            raise ValueError(f"Split(): argument 'output_num' must be positive, got {n}")
        super().__init__(axis=_int("Split", "axis", axis), output_num=n)

    def __call__(self, x):
        _tensor("Split", "x", x)
        if x.ndim == 0:
            raise ValueError("Split(): cannot split a 0-d tensor")
        ax = _axis("Split", "axis", self.axis, x.ndim)
        dim, n = x.shape[ax], self.output_num
        if dim % n:
            raise ValueError(f"Split(): axis {ax} of size {dim} (shape {x.shape}) cannot be split into "
                             f"{n} equal parts")
        return _split_sizes(x, [dim // n] * n, ax)


@_prim
class ExpandDims(_Prim):
    """ExpandDims()(x, axis): a size-1 dim inserted at axis."""

    def __call__(self, x, axis):
        _tensor("ExpandDims", "x", x)
        a = _int("ExpandDims", "axis", axis)
        if not -x.ndim - 1 <= a <= x.ndim:
            raise ValueError(f"ExpandDims(): argument 'axis' = {a} is out of range for a {x.ndim}-dim tensor "
                             f"(expected [{-x.ndim - 1}, {x.ndim}])")
        return _op["unsqueeze"](x, a)


@_prim
class Squeeze(_Prim):
    """Squeeze(axis=())(x): size-1 dims removed (all, or those in axis)."""

    def __init__(self, axis=()):
        super().__init__(axis=_ints("Squeeze", "axis", axis))

    def __call__(self, x):
        _tensor("Squeeze", "x", x)
        nd = x.ndim
        for a in self.axis:
            if not -nd <= a < nd:
                raise ValueError(f"Squeeze(): argument 'axis' = {a} is out of range for a {nd}-dim tensor")
            if x.shape[a] != 1:
                raise ValueError(f"Squeeze(): cannot squeeze axis {a}: its size is {x.shape[a]}, not 1 "
                                 f"(input shape {x.shape})")
        return _op["squeeze"](x, list(self.axis) if self.axis else None)


@_prim
class Tile(_Prim):
    """Tile()(x, multiples): x repeated along each dim."""

    def __call__(self, x, multiples):
        _tensor("Tile", "x", x)
        m = _ints("Tile", "multiples", multiples, allow_int=False)
        if _pyany(k < 0 for k in m):
            raise ValueError(f"Tile(): argument 'multiples' must be non-negative, got {m}")
        return _op["tile"](x, m)


@_prim
class BroadcastTo(_Prim):
    """BroadcastTo(shape)(x): x broadcast to shape (-1 keeps a dim)."""

    def __init__(self, shape):
        super().__init__(shape=_ints("BroadcastTo", "shape", shape))

    def __call__(self, x):
        return broadcast_to(_tensor("BroadcastTo", "x", x), self.shape)


@_prim
class OneHot(_Prim):
    """OneHot(axis=-1)(indices, depth, on_value, off_value): result dtype is on_value's."""

    def __init__(self, axis=-1):
        super().__init__(axis=_int("OneHot", "axis", axis))

    def __call__(self, indices, depth, on_value, off_value):
        _tensor("OneHot", "indices", indices)
        return one_hot(indices, depth, on_value, off_value, self.axis)


@_prim
class Gather(_Prim):
    """Gather(batch_dims=0)(input_params, input_indices, axis): np.take along axis."""

    def __init__(self, batch_dims=0):
        super().__init__(batch_dims=_int("Gather", "batch_dims", batch_dims))

    def __call__(self, input_params, input_indices, axis):
        _tensor("Gather", "input_params", input_params)
        _tensor("Gather", "input_indices", input_indices)
        return gather(input_params, input_indices, axis, self.batch_dims)


@_prim
class GatherD(_Prim):
    """GatherD()(x, dim, index): same as gather_elements."""

    def __call__(self, x, dim, index):
        _tensor("GatherD", "x", x)
        _tensor("GatherD", "index", index)
        return _op["gather_elements"](x, index, _axis("GatherD", "dim", dim, _pymax(x.ndim, 1)))


@_prim
class Pad(_Prim):
    """Pad(paddings)(x): paddings is a tuple of (before, after) pairs, one per dim from dim 0."""

    def __init__(self, paddings):
        if not isinstance(paddings, (list, tuple)):
            raise TypeError(f"Pad(): argument 'paddings' must be a tuple of (before, after) pairs, got "
                            f"{_tname(paddings)}")
        flat = []
        for i, pr in enumerate(paddings):
            p = _ints("Pad", "paddings", pr, allow_int=False)
            if len(p) != 2:
                raise ValueError(f"Pad(): argument 'paddings' must hold (before, after) pairs, got {pr!r} at "
                                 f"position {i}")
            flat.extend(p)
        super().__init__(paddings=tuple(tuple(p) for p in paddings))
        self._flat = flat

    def __call__(self, x):
        _tensor("Pad", "x", x)
        if len(self._flat) != 2 * x.ndim:
            raise ValueError(f"Pad(): {len(self._flat) // 2} padding pairs given for a {x.ndim}-dim tensor")
        return _op["pad"](x, self._flat, 0)


@_prim
class Fill(_Prim):
    """Fill()(type, shape, value): a tensor of dtype `type` filled with value."""

    def __call__(self, type, shape, value):
        return fill(type, shape, value)


@_prim
class Zeros(_Prim):
    """Zeros()(size, type=None): a tensor of zeros."""

    def __call__(self, size, type=None):
        return zeros(size, type)


@_prim
class Ones(_Prim):
    """Ones()(shape, type=None): a tensor of ones."""

    def __call__(self, shape, type=None):
        return ones(shape, type)


@_prim
class ZerosLike(_Prim):
    """ZerosLike()(x): zeros of x's shape and dtype."""

    def __call__(self, x):
        return zeros_like(_tensor("ZerosLike", "x", x))


@_prim
class OnesLike(_Prim):
    """OnesLike()(x): ones of x's shape and dtype."""

    def __call__(self, x):
        return ones_like(_tensor("OnesLike", "x", x))


@_prim
class Select(_Prim):
    """Select()(cond, x, y): x where cond is True, else y."""

    def __call__(self, cond, x, y):
        _tensor("Select", "cond", cond)
        return _op["where"](cond, x, y)


class _RandomPrim(_Prim):
    def __init__(self, seed=0, seed2=0):
        name = type(self).__name__
        super().__init__(seed=_seed(name, "seed", seed), seed2=_seed(name, "seed2", seed2))


@_prim
class StandardNormal(_RandomPrim):
    """StandardNormal(seed=0, seed2=0)(shape): float32 values from N(0, 1)."""

    def __call__(self, shape):
        return _op["normal"](_random_shape("StandardNormal", shape), 0.0, 1.0, _dt.float32)


@_prim
class UniformReal(_RandomPrim):
    """UniformReal(seed=0, seed2=0)(shape): float32 values uniform in [0, 1)."""

    def __call__(self, shape):
        return _op["uniform"](_random_shape("UniformReal", shape), 0.0, 1.0, _dt.float32)


@_prim
class StridedSlice(_Prim):
    """StridedSlice(begin_mask=0, end_mask=0, ellipsis_mask=0, new_axis_mask=0, shrink_axis_mask=0)
    (x, begin, end, strides): see ops.strided_slice."""

    def __init__(self, begin_mask=0, end_mask=0, ellipsis_mask=0, new_axis_mask=0, shrink_axis_mask=0):
        names = ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask", "shrink_axis_mask")
        vals = (begin_mask, end_mask, ellipsis_mask, new_axis_mask, shrink_axis_mask)
        super().__init__(**{n: _int("StridedSlice", n, v) for n, v in zip(names, vals)})

    def __call__(self, x, begin, end, strides):
        _tensor("StridedSlice", "x", x)
        return _slice_masks("StridedSlice", x, begin, end, strides, self.begin_mask, self.end_mask,
                            self.ellipsis_mask, self.new_axis_mask, self.shrink_axis_mask)


@_prim
class Bernoulli(_Prim):
    """Bernoulli(seed=-1, offset=0)(x, p): 0/1 values of x's shape and dtype, 1 with probability p."""

    def __init__(self, seed=-1, offset=0):
        super().__init__(seed=_int("Bernoulli", "seed", seed), offset=_int("Bernoulli", "offset", offset))

    def __call__(self, x, p=0.5):
        return bernoulli(_tensor("Bernoulli", "x", x), p)


@_prim
class Shape(_Prim):
    """Shape()(x): x's shape as a tuple."""

    def __call__(self, x):
        return _tensor("Shape", "x", x).shape


@_prim
class Rank(_Prim):
    """Rank()(x): x's number of dims."""

    def __call__(self, x):
        return _tensor("Rank", "x", x).ndim


@_prim
class Size(_Prim):
    """Size()(x): x's number of elements."""

    def __call__(self, x):
        return _tensor("Size", "x", x).size
