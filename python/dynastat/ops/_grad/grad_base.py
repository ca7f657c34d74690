"""Registering an op's gradient from Python, as the seeds write it::

    from dynastat.ops._grad.grad_base import bprop_getters

    @bprop_getters.register(ops.Mul)
    def get_bprop_mul(self):
        mul_func = ops.Mul()

        def bprop(x, y, out, dout):
            return binop_grad_common(x, y, mul_func(y, dout), mul_func(x, dout))

        return bprop

Every op has a gradient rule in C (src/autodiff/rules*.c). Registering a getter overrides it for eager
recording (process-wide): while registered, the tape records the op as a node whose backward calls
``bprop(*inputs, out, dout)``, where ``bprop = getter(prim)`` and ``prim`` is the primitive class
instance with the op's attributes (``prim.transpose_a`` ...). ``out`` / ``dout`` are the output and
its gradient (tuples for several outputs). It returns one gradient per tensor input (a tuple; None
for none), each of that input's shape. Attributes are not inputs here (the seeds pass some of them as
inputs); read them from ``prim``. ``del bprop_getters[ops.Mul]`` (or ``pop``) restores the C rule.
Ops that draw random numbers or write in place cannot be overridden.
"""
import inspect

from ... import _C
from ...common import autograd as _ag

__all__ = ["bprop_getters", "binop_grad_common", "Registry"]

_PRIM_TO_OP = {}
for _name, _f in _C.ops.items():
    _PRIM_TO_OP.setdefault(_f.info["prim"], _name)


def _op_name(prim):
    """The op-table name of a primitive class / instance / name ("Mul", "mul", ops.Mul, ops.Mul())."""
    if isinstance(prim, str):
        if prim in _C.ops:
            return prim
        if prim in _PRIM_TO_OP:
            return _PRIM_TO_OP[prim]
        raise ValueError(f"bprop_getters: unknown op '{prim}'")
    cls = prim if isinstance(prim, type) else type(prim)
    f = getattr(cls, "_op", None)
    if f is not None and hasattr(f, "info"):
        return f.info["name"]
    for c in cls.__mro__:
        if c.__name__ in _PRIM_TO_OP:
            return _PRIM_TO_OP[c.__name__]
    raise ValueError(f"bprop_getters: {cls.__name__} is not a primitive of the op table "
                     f"(no op has the primitive name '{cls.__name__}')")


def _prim_instance(prim, opname, attrs):
    """The `self` given to a getter: an instance of the primitive class carrying the op's attributes."""
    if not isinstance(prim, (type, str)):
        return prim
    if isinstance(prim, type):
        obj = prim.__new__(prim)
    else:
        obj = type(prim, (), {})()
    attrs = dict(attrs or {})
    try:
        obj.__dict__.update(attrs)
        obj.__dict__.setdefault("_attrs", attrs)
        obj.__dict__.setdefault("name", opname)
    except AttributeError:
        pass
    return obj


def _make_backward(prim, opname, getter):
    getter_name = getattr(getter, "__name__", "getter")
    prim_name = _C.ops[opname].info["prim"]
    who = f"the bprop registered for {prim_name} ({getter_name})"
    cache = {}

    def backward(inputs, outputs, douts, need, attrs):
        key = tuple(sorted((attrs or {}).items(), key=lambda kv: kv[0]))
        try:
            bprop = cache.get(key)
        except TypeError:  # unhashable attribute value
            bprop, key = None, None
        if bprop is None:
            bprop = getter(_prim_instance(prim, opname, attrs))
            if not callable(bprop):
                raise TypeError(f"{getter_name}, registered with bprop_getters for {prim_name}, must return the bprop "
                                f"function, got {type(bprop).__name__}")
            try:
                inspect.signature(bprop).bind(*inputs, None, None)
            except TypeError:
                raise TypeError(f"{who} must take the op's {len(inputs)} input{'s' if len(inputs) != 1 else ''} "
                                f"followed by out and dout, but its signature is {inspect.signature(bprop)}") from None
            except ValueError:
                pass
            if key is not None:
                cache[key] = bprop
        out = outputs[0] if len(outputs) == 1 else tuple(outputs)
        dout = douts[0] if len(douts) == 1 else tuple(douts)
        res = bprop(*inputs, out, dout)
        return _ag._check_grads(who, res, list(inputs))

    return backward


class Registry(dict):
    """A dict from op name to gradient getter whose entries take effect in eager recording;
    ``register(prim)`` is the decorator the seeds use. Keys may be given as primitive classes, instances
    or names."""

    def register(self, prim):
        def deco(getter):
            if not callable(getter):
                raise TypeError(f"bprop_getters.register: the getter must be callable, got {type(getter).__name__}")
            self[prim] = getter
            return getter
        return deco

    def __setitem__(self, prim, getter):
        name = _op_name(prim)
        _C.set_op_bprop(name, _make_backward(prim, name, getter))
        super().__setitem__(name, getter)

    def __getitem__(self, prim):
        return super().__getitem__(_op_name(prim))

    def __contains__(self, prim):
        try:
            return super().__contains__(_op_name(prim))
        except ValueError:
            return False

    def get(self, prim, default=None):
        try:
            return super().get(_op_name(prim), default)
        except ValueError:
            return default

    def __delitem__(self, prim):
        name = _op_name(prim)
        super().__delitem__(name)
        _C.set_op_bprop(name, None)

    def pop(self, prim, *default):
        name = _op_name(prim)
        if super().__contains__(name):
            _C.set_op_bprop(name, None)
        return super().pop(name, *default)

    def clear(self):
        for name in list(self.keys()):
            _C.set_op_bprop(name, None)
        super().clear()

    def update(self, *args, **kwargs):
        for k, v in dict(*args, **kwargs).items():
            self[k] = v


#: The registry of Python gradient definitions (the seeds' ``bprop_getters``).
bprop_getters = Registry()


def binop_grad_common(x, y, dx, dy):
    """The gradients dx, dy of a broadcasting binary op, summed over the broadcast dimensions to the
    shapes of x and y (what the seeds' binary bprops return)."""
    sum_like = _C.ops["sum_like"]
    rx = dx if tuple(dx.shape) == tuple(x.shape) else sum_like(dx, x)
    ry = dy if tuple(dy.shape) == tuple(y.shape) else sum_like(dy, y)
    return rx, ry
