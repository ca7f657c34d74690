"""Functional ops and primitive classes generated from the C op table (include/dynastat_ops.def)."""
from .. import _C

__all__ = []


class Primitive:
    """Base of the primitive classes: attributes given at construction, tensors at call."""

    _op = None

    def __init__(self, **attrs):
        self._attrs = attrs

    def __call__(self, *args, **kwargs):
        return self._op(*args, **{**self._attrs, **kwargs})

    def __repr__(self):
        return f"Prim[{type(self).__name__}]"


def _make(name, f):
    g = globals()
    g[name] = f
    __all__.append(name)
    prim = f.info["prim"]
    if prim not in g:
        g[prim] = type(prim, (Primitive,), {"_op": f, "__doc__": f"Primitive form of ops.{name}."})
        __all__.append(prim)


# ops of the table that exist for the compiler and autodiff, not for users
_INTERNAL = {"tensor_list_new", "tensor_list_push", "tensor_list_drop", "split_like", "sum_like",
             "broadcast_like", "reshape_like", "index", "index_put", "softmax_grad", "log_softmax_grad",
             "softmax_cross_entropy_grad", "max_pool2d_grad", "max_pool2d_grad_grad", "avg_pool2d_grad",
             "adaptive_avg_pool2d_grad"}

for _name, _f in _C.ops.items():
    if _name not in _INTERNAL:
        _make(_name, _f)
__all__.append("Primitive")
