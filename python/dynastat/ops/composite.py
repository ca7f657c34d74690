"""Composite operations of the seeds' ``mindspore.ops.composite``: ``GradOperation`` (the higher-order
gradient function), ``HookBackward``, and the functional ``grad`` / ``value_and_grad`` / ``vjp`` /
``stop_gradient`` (all on the eager autograd engine, dynastat.common.autograd)."""
import inspect

from .. import _C
from ..common import autograd as _ag
from ..common.autograd import grad, value_and_grad, vjp, stop_gradient  # noqa: F401

__all__ = ["GradOperation", "HookBackward", "grad", "value_and_grad", "vjp", "stop_gradient"]


def _positional_arity(fn):
    """(required, maximum) numbers of positional arguments of fn (maximum None: *args), or None."""
    target = fn
    construct = getattr(fn, "construct", None)
    if construct is not None and not inspect.isfunction(fn) and callable(construct):
        target = construct
    try:
        sig = inspect.signature(target)
    except (TypeError, ValueError):
        return None
    req, mx = 0, 0
    for p in sig.parameters.values():
        if p.kind == p.VAR_POSITIONAL:
            mx = None
        elif p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            if mx is not None:
                mx += 1
            if p.default is p.empty:
                req += 1
    return req, mx


def _expected_sens(fn, args, kwargs):
    """': expected <the output's description>' for a missing-sensitivity message (runs fn once)."""
    try:
        with _C.no_grad():
            out = fn(*args, **kwargs)
    except Exception:  # noqa: BLE001 - only an error message depends on it
        return ""
    return f" (expected {_ag._expected(out)})"


class GradOperation:
    """``GradOperation(get_all=False, get_by_list=False, sens_param=False)``: a higher-order function;
    ``GradOperation(...)(fn, weights=None)`` is the gradient function of ``fn``. Returns:

    - default: the gradient with respect to the first input (a Tensor);
    - ``get_all=True``: a tuple of the gradients with respect to every Tensor input;
    - ``get_by_list=True``: the gradients with respect to ``weights`` (a tuple for a ParameterTuple or
      list, a Tensor for a single Parameter);
    - both: ``((input gradients), (weight gradients))``.

    With ``sens_param=True`` the gradient function takes ``fn``'s inputs followed by the sensitivity
    (the gradient of the output; a tuple for several outputs), positionally or as ``sens=``; otherwise
    each output is seeded with ones.
    """

    def __init__(self, get_all=False, get_by_list=False, sens_param=False):
        for name, v in (("get_all", get_all), ("get_by_list", get_by_list), ("sens_param", sens_param)):
            if not isinstance(v, bool):
                raise TypeError(f"For 'GradOperation', the '{name}' should be bool, but got {type(v).__name__}")
        self.get_all = get_all
        self.get_by_list = get_by_list
        self.sens_param = sens_param

    def __repr__(self):
        return (f"GradOperation(get_all={self.get_all}, get_by_list={self.get_by_list}, "
                f"sens_param={self.sens_param})")

    def __call__(self, fn, weights=None):
        if not callable(fn):
            raise TypeError(f"GradOperation: the function to differentiate must be a function or a Cell, got "
                            f"{type(fn).__name__}")
        who = "GradOperation"
        if self.get_by_list:
            if weights is None:
                raise TypeError("GradOperation(get_by_list=True) needs the weights: GradOperation(...)(fn, weights) "
                                "with a ParameterTuple or a list of Parameters (e.g. net.trainable_params())")
            ws, single = _ag._weights_list(who, weights)
        else:
            ws, single = (), False
        get_all, get_by_list, sens_param = self.get_all, self.get_by_list, self.sens_param
        arity = _positional_arity(fn) if sens_param else None

        def after_grad(*args, **kwargs):
            sens = _ag._NO_SENS
            if sens_param:
                if "sens" in kwargs:
                    kwargs = dict(kwargs)
                    sens = kwargs.pop("sens")
                else:
                    if not args or (arity is not None and len(args) - 1 < arity[0]):
                        raise TypeError(f"GradOperation(sens_param=True): the gradient function takes the inputs of "
                                        f"{_ag._fn_name(fn)} followed by the sensitivity (the gradient of its output), "
                                        f"but it got {len(args)} argument{'s' if len(args) != 1 else ''}: the "
                                        f"sensitivity is missing{_expected_sens(fn, args, kwargs)}")
                    sens = args[-1]
                    args = args[:-1]
            if get_all:
                positions = tuple(i for i, a in enumerate(args) if _ag._is_tensor(a))
            elif get_by_list:
                positions = ()
            else:
                if not args:
                    raise TypeError(f"GradOperation: {_ag._fn_name(fn)} was called without inputs; the default "
                                    f"GradOperation() differentiates with respect to the first input")
                positions = (0,)
            out, aux, gi, gw = _ag._run(who, fn, args, kwargs, positions, ws, False, sens)
            wres = (gw[0] if single else tuple(gw)) if get_by_list else None
            if get_all and get_by_list:
                return tuple(gi), wres
            if get_all:
                return tuple(gi)
            if get_by_list:
                return wres
            return gi[0]

        after_grad.__name__ = f"grad_of_{getattr(fn, '__name__', type(fn).__name__)}"
        after_grad.__wrapped__ = fn
        return after_grad


class HookBackward:
    """``HookBackward(hook_fn, cell_id="")(*inputs)`` returns its inputs unchanged; in the backward,
    ``hook_fn(grad)`` is called with the tuple of their gradients and may return new ones (a tuple, or
    a Tensor for a single input) or None (PyNative only)."""

    def __init__(self, hook_fn, cell_id=""):
        if not callable(hook_fn):
            raise TypeError(f"HookBackward: 'hook_fn' must be a Python function, got {type(hook_fn).__name__}")
        self.hook_fn = hook_fn
        self.cell_id = cell_id

    def __call__(self, *inputs):
        if not inputs:
            raise TypeError("HookBackward: needs at least one input Tensor")
        for i, x in enumerate(inputs):
            if not _ag._is_tensor(x):
                raise TypeError(f"HookBackward: input {i} must be a Tensor, got {type(x).__name__}")
        with _C.no_grad():
            outs = [_ag._alias(x) for x in inputs]
        hook_fn = self.hook_fn
        who = f"the hook {_ag._fn_name(hook_fn)} of HookBackward"

        def backward(ins, outputs, douts, need, attrs):
            r = hook_fn(tuple(douts))
            if r is None:
                return douts
            return _ag._as_grads(who, r, list(inputs))

        _C.record_custom("HookBackward", list(inputs), outs, backward)
        return outs[0] if len(outs) == 1 else tuple(outs)
