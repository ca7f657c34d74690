"""dynastat.Tensor: the C tensor type plus methods that forward to ops.

Construction, properties, operators, indexing, printing and conversions are implemented in C
(bind/tensor.c); the methods here are thin forwards to the op functions of the op table.
"""
from .. import _C

_ops = _C.ops


class Tensor(_C.TensorBase):
    """A strided n-d array of one dtype, on the CPU.

    ``Tensor(input_data=None, dtype=None, shape=None, init=None)``: from a NumPy array, nested lists,
    a scalar or another Tensor (copied); or, with ``shape`` and ``dtype`` only, a declared tensor whose
    dims may be None (unknown), as used in ``input_signature``.
    """

    __slots__ = ()
    __array_ufunc__ = None  # NumPy defers binary operators to Tensor's reflected methods
    __array_priority__ = 1000

    @staticmethod
    def _from_dlpack(obj):
        return _C.from_dlpack(obj)

    def __round__(self, ndigits=None):
        if ndigits is not None:
            raise TypeError("round(tensor, ndigits) is not supported; scale, round and rescale")
        return _ops["round"](self)

    # shape manipulation ------------------------------------------------------------------------------
    def reshape(self, *shape):
        if len(shape) == 1 and not isinstance(shape[0], int):
            shape = tuple(shape[0])
        return _ops["reshape"](self, shape)

    view = reshape

    def flatten(self, start_dim=0, end_dim=-1):
        nd = self.ndim
        if nd == 0:
            return self.reshape(1)
        s, e = start_dim % nd, end_dim % nd
        shape = self.shape
        n = 1
        for d in shape[s:e + 1]:
            n *= d
        return self.reshape(shape[:s] + (n,) + shape[e + 1:])

    def transpose(self, *perm):
        if len(perm) == 1 and not isinstance(perm[0], int):
            perm = tuple(perm[0])
        return _ops["transpose"](self, perm if perm else None)

    permute = transpose

    def swapaxes(self, a, b):
        perm = list(range(self.ndim))
        perm[a], perm[b] = perm[b], perm[a]
        return _ops["transpose"](self, perm)

    def squeeze(self, axis=None):
        return _ops["squeeze"](self, axis)

    def expand_dims(self, axis):
        return _ops["unsqueeze"](self, axis)

    unsqueeze = expand_dims

    def broadcast_to(self, shape):
        return _ops["broadcast_to"](self, shape)

    def expand_as(self, other):
        return _ops["broadcast_to"](self, other.shape)

    def copy(self):
        return _ops["copy"](self)

    def tile(self, multiples):
        return _ops["tile"](self, multiples)

    # reductions ---------------------------------------------------------------------------------------
    def sum(self, axis=None, dtype=None, keepdims=False):
        r = _ops["sum"](self, axis, keepdims)
        return r if dtype is None else r.astype(dtype)

    def mean(self, axis=None, keep_dims=False):
        return _ops["mean"](self, axis, keep_dims)

    def prod(self, axis=None, keep_dims=False):
        return _ops["prod"](self, axis, keep_dims)

    def max(self, axis=None, keepdims=False):
        return _ops["amax"](self, axis, keepdims)

    def min(self, axis=None, keepdims=False):
        return _ops["amin"](self, axis, keepdims)

    def all(self, axis=None, keep_dims=False):
        return _ops["all"](self, axis, keep_dims)

    def any(self, axis=None, keep_dims=False):
        return _ops["any"](self, axis, keep_dims)

    def var(self, axis=None, ddof=0, keepdims=False):
        return _ops["var"](self, axis, keepdims, ddof)

    def std(self, axis=None, ddof=0, keepdims=False):
        return _ops["std"](self, axis, keepdims, ddof)

    def argmax(self, axis=None, keepdims=False):
        return _ops["argmax"](self, axis, keepdims)

    def argmin(self, axis=None, keepdims=False):
        return _ops["argmin"](self, axis, keepdims)

    # elementwise --------------------------------------------------------------------------------------
    def clip(self, xmin=None, xmax=None):
        return _ops["clip"](self, xmin, xmax)

    def matmul(self, other):
        return _ops["matmul"](self, other)

    def __rmatmul__(self, other):
        return _ops["matmul"](other, self)


def _method(f):
    def method(self, *args, **kwargs):
        return f(self, *args, **kwargs)
    method.__name__ = f.__name__
    method.__doc__ = f"Tensor method form of ops.{f.__name__}."
    return method


def _add_elementwise_methods():
    for name, f in _ops.items():
        if f.info["kind"] in ("unary", "binary") and not hasattr(Tensor, name):
            setattr(Tensor, name, _method(f))


_add_elementwise_methods()
_C._set_tensor_type(Tensor)


def from_numpy(array):
    """A Tensor sharing memory with a NumPy array (no copy). A read-only array is copied instead,
    because tensors are writable."""
    return _C.from_buffer(array)
