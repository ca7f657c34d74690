"""Shared helpers of the nn package: argument checks with the layer's name in every message, access to
the C ops (with a clear error for an op this build lacks), and the Parameter / autograd entry points."""
import numbers

from .. import _C
from ..common.parameter import Parameter, ParameterTuple, PARAMETER_NAME_DEFAULT  # noqa: F401

_ops = _C.ops


def op(name):
    """The C op `name` (dynastat._C.ops[name]); a clear error if this build does not have it."""
    f = _ops.get(name)
    if f is None:
        raise NotImplementedError(f"the op '{name}' is not available in this build of dynastat "
                                  f"(include/dynastat_ops.def has no entry for it)")
    return f


def is_tensor(x):
    return isinstance(x, _C.TensorBase)


# ------------------------------------------------------------------------------------------ Parameter
def param_name(p):
    return getattr(p, "name", None)


def set_param_name(p, name):
    p.name = name


def requires_grad(p):
    return bool(getattr(p, "requires_grad", True))


# ------------------------------------------------------------------------------------------ autograd
def autograd():
    """The eager autograd module (dynastat.common.autograd)."""
    from ..common import autograd as ag
    return ag


# ------------------------------------------------------------------------------------------ checks
def check_int(cls, name, v, minimum=None):
    if isinstance(v, bool) or not isinstance(v, numbers.Integral):
        raise TypeError(f"{cls}: argument '{name}' must be an int, got {type(v).__name__}")
    v = int(v)
    if minimum is not None and v < minimum:
        raise ValueError(f"{cls}: argument '{name}' must be at least {minimum}, got {v}")
    return v


def check_bool(cls, name, v):
    if not isinstance(v, bool):
        raise TypeError(f"{cls}: argument '{name}' must be a bool, got {type(v).__name__}")
    return v


def check_float(cls, name, v, lo=None, hi=None, lo_open=False, hi_open=False):
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise TypeError(f"{cls}: argument '{name}' must be a float, got {type(v).__name__}")
    v = float(v)
    bad = (lo is not None and (v <= lo if lo_open else v < lo)) or \
          (hi is not None and (v >= hi if hi_open else v > hi))
    if bad:
        lb = "(" if lo_open else "["
        rb = ")" if hi_open else "]"
        raise ValueError(f"{cls}: argument '{name}' must be in {lb}{lo}, {hi}{rb}, got {v}")
    return v


def tuple_n(cls, name, v, n, minimum=1):
    """An int or a tuple of n ints as a tuple of n ints, each >= minimum."""
    if isinstance(v, numbers.Integral) and not isinstance(v, bool):
        v = (int(v),) * n
    elif isinstance(v, (list, tuple)) and len(v) == n and all(
            isinstance(e, numbers.Integral) and not isinstance(e, bool) for e in v):
        v = tuple(int(e) for e in v)
    else:
        raise TypeError(f"{cls}: argument '{name}' must be an int or a tuple of {n} ints, got {v!r}")
    for e in v:
        if e < minimum:
            raise ValueError(f"{cls}: argument '{name}' must hold ints >= {minimum}, got {v}")
    return v


def check_reduction(cls, reduction):
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{cls}: argument 'reduction' must be 'mean', 'sum' or 'none', got {reduction!r}")
    return reduction


def check_input(cls, x, name="x"):
    if not is_tensor(x):
        raise TypeError(f"{cls}: input '{name}' must be a Tensor, got {type(x).__name__}")
    return x


def shape_str(shape):
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"
