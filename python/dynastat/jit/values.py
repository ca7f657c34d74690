"""Helpers on the values the interpreter handles: Python objects, concrete tensors and symbolic
tensors (tensors with a graph value in the current trace)."""
import numbers

from .. import _C
from ..common import dtype as _dt
from . import state

_ops = _C.ops
SCALARS = (bool, int, float)


class Undefined:
    """A variable assigned on only one path of a tensor-dependent branch or inside a loop body."""
    __slots__ = ("name", "why")

    def __init__(self, name, why):
        self.name, self.why = name, why


def is_tensor(x):
    return isinstance(x, _C.TensorBase)


def is_symbolic(x):
    comp = state.current()
    return comp is not None and comp.is_symbolic(x)


def contains_symbolic(x):
    if is_symbolic(x):
        return True
    if isinstance(x, (list, tuple)):
        return any(contains_symbolic(v) for v in x)
    if isinstance(x, dict):
        return any(contains_symbolic(v) for v in x.values())
    return False


def scalar_tensor(v):
    """A 0-d tensor holding a Python scalar (bool -> bool, int -> int64, float -> float32)."""
    from ..common.tensor import Tensor
    if isinstance(v, bool):
        return Tensor(v, _dt.bool_)
    if isinstance(v, numbers.Integral):
        return Tensor(int(v), _dt.int64)
    return Tensor(float(v), _dt.float32)


def as_condition(x, what, loc):
    """A bool scalar tensor from a symbolic condition value (one element required)."""
    if x.dtype != _dt.bool_:
        x = _ops["not_equal"](x, 0)
    shape = x.shape
    n = 1
    for d in shape:
        if d is None:
            n = None
            break
        n *= d
    if n != 1:
        from .errors import where
        raise ValueError(f"the condition of {what} is a tensor of shape {list(shape)}: its truth value is ambiguous "
                         f"(only one-element tensors can be conditions; use .any() or .all())\n{where(*loc)}")
    if len(shape):
        x = _ops["reshape"](x, ())
    return x


def describe(v):
    if is_tensor(v):
        shape = ["?" if d is None else d for d in v.shape]
        return f"Tensor[{v.dtype}, shape {shape}]"
    if isinstance(v, (list, tuple)):
        return f"{type(v).__name__} of {len(v)}"
    return f"{type(v).__name__} {v!r}" if isinstance(v, SCALARS + (str, type(None))) else type(v).__name__


def is_namedtuple(v):
    return isinstance(v, tuple) and type(v) is not tuple and hasattr(type(v), "_fields")


def flatten(v, leaves):
    """Flattens v into leaves (tensors and Python scalars); returns a template to rebuild it."""
    if is_namedtuple(v):
        return ("ntuple", type(v), [flatten(x, leaves) for x in v])
    if isinstance(v, tuple):
        return ("tuple", [flatten(x, leaves) for x in v])
    if isinstance(v, list):
        return ("list", [flatten(x, leaves) for x in v])
    if isinstance(v, dict):
        return ("dict", list(v.keys()), [flatten(x, leaves) for x in v.values()])
    if is_tensor(v) or (isinstance(v, SCALARS) and not isinstance(v, type(None))):
        leaves.append(v)
        return ("L", len(leaves) - 1)
    return ("C", v)


def unflatten(tpl, leaves):
    kind = tpl[0]
    if kind == "L":
        return leaves[tpl[1]]
    if kind == "C":
        return tpl[1]
    if kind == "tuple":
        return tuple(unflatten(t, leaves) for t in tpl[1])
    if kind == "list":
        return [unflatten(t, leaves) for t in tpl[1]]
    if kind == "ntuple":
        return tpl[1](*(unflatten(t, leaves) for t in tpl[2]))
    return dict(zip(tpl[1], (unflatten(t, leaves) for t in tpl[2])))


def same_template(a, b):
    if a[0] != b[0]:
        return False
    if a[0] == "L":
        return True
    if a[0] == "C":
        return a[1] is b[1] or (type(a[1]) is type(b[1]) and a[1] == b[1])
    if a[0] in ("dict", "ntuple") and a[1] != b[1]:
        return False
    ca, cb = a[-1], b[-1]
    return len(ca) == len(cb) and all(same_template(x, y) for x, y in zip(ca, cb))
