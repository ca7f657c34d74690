"""Eager automatic differentiation (PyNative): ``grad``, ``value_and_grad``, ``vjp``, custom backward
functions, tensor hooks, and ``no_grad``.

Everything runs on the C tape (``dynastat._C.Tape``, src/autodiff/tape.c). While a gradient function
runs ``fn``, a tape is active: every op ``fn`` runs on a tensor that requires grad is recorded by the C
dispatcher (no Python per op), as a node of an IR graph bound to the live tensors. The gradient is the
reverse pass of that graph (the same rules differentiate compiled graphs), run eagerly. Python control
flow simply unrolls: the tape sees the ops that ran.

Nesting: a gradient function called inside another one pushes its tape inside the outer one; both
record the ops, and the inner backward runs while the outer tape is active, so it is recorded there and
``grad(grad(f))`` works to any order.

Custom backward functions are tape nodes whose backward calls Python: ``custom_vjp`` (used for
``Cell.bprop``), ``Tensor.register_hook``, ``ops.HookBackward``, and op gradient overrides registered
with ``dynastat.ops._grad.grad_base.bprop_getters``.
"""
import inspect

from .. import _C
from ..jit import state as _jit_state
from . import dtype as _dt
from .tensor import Tensor

__all__ = ["grad", "value_and_grad", "vjp", "custom_vjp", "no_grad", "stop_gradient", "RemovableHandle"]

_TensorBase = _C.TensorBase
_ops = _C.ops
_FLOATS = (_dt.float16, _dt.bfloat16, _dt.float32, _dt.float64)

#: ``with no_grad(): ...`` runs without recording on any tape (its results do not require grad).
no_grad = _C.no_grad


def _is_tensor(x):
    return isinstance(x, _TensorBase)


def _is_float(t):
    return t.dtype in _FLOATS


def _tname(x):
    return type(x).__name__


def _shape(t):
    s = tuple(t.shape)
    return "(" + ", ".join(str(d) for d in s) + ("," if len(s) == 1 else "") + ")"


def _fn_name(fn):
    if isinstance(fn, type):
        return fn.__name__
    return getattr(fn, "__name__", None) or type(fn).__name__


# ----------------------------------------------------------------------------------------- structures
def _flatten(x, out):
    """The Tensors of a (nested) output, in order; other values are skipped."""
    if _is_tensor(x):
        out.append(x)
    elif isinstance(x, (tuple, list)):
        for e in x:
            _flatten(e, out)
    elif isinstance(x, dict):
        for e in x.values():
            _flatten(e, out)
    return out


def _unflatten(template, it):
    """template with its Tensors replaced, in order, by the items of iterator it."""
    if _is_tensor(template):
        return next(it)
    if isinstance(template, (tuple, list)):
        vals = [_unflatten(e, it) for e in template]
        return type(template)(vals) if type(template) in (tuple, list) else template.__class__(*vals)
    if isinstance(template, dict):
        return {k: _unflatten(v, it) for k, v in template.items()}
    return template


def _alias(t):
    """A new tensor object viewing t's data (a distinct leaf for the tape); recorded like any op."""
    return _ops["reshape"](t, tuple(t.shape))


def _zeros_like(t):
    return _ops["zeros_like"](t)


# ----------------------------------------------------------------------------------------- arguments
def _check_bool(who, name, v):
    if not isinstance(v, bool):
        raise TypeError(f"{who}: '{name}' must be a bool, got {_tname(v)}")
    return v


def _grad_positions(who, grad_position):
    """grad_position as a tuple of ints (None -> ())."""
    if grad_position is None:
        return ()
    if isinstance(grad_position, bool) or not isinstance(grad_position, (int, tuple)):
        raise TypeError(f"{who}: 'grad_position' must be an int, a tuple of ints or None, got {_tname(grad_position)}")
    pos = (grad_position,) if isinstance(grad_position, int) else grad_position
    out = []
    for p in pos:
        if isinstance(p, bool):
            p = int(p)
        if not isinstance(p, int):
            raise TypeError(f"{who}: the elements of 'grad_position' must be ints, got {_tname(p)}")
        if p < 0:
            raise ValueError(f"{who}: the elements of 'grad_position' must be >= 0, got {p}")
        out.append(p)
    if len(set(out)) != len(out):
        raise ValueError(f"{who}: 'grad_position' has duplicate positions: {grad_position}")
    return tuple(out)


def _weights_list(who, weights):
    """(tuple of weights, whether a single weight was given)."""
    if weights is None:
        return (), False
    if _is_tensor(weights):
        return (weights,), True
    try:
        ws = tuple(weights)
    except TypeError:
        raise TypeError(f"{who}: 'weights' must be a Parameter, a ParameterTuple or a list of Parameters, "
                        f"got {_tname(weights)}") from None
    for i, w in enumerate(ws):
        if not _is_tensor(w):
            raise TypeError(f"{who}: weights[{i}] must be a Parameter, got {_tname(w)}")
    return ws, False


def _weight_name(w, i):
    return getattr(w, "name", None) or f"weights[{i}]"


# ----------------------------------------------------------------------------------------- sensitivities
def _describe(x):
    if _is_tensor(x):
        return f"a Tensor of shape {_shape(x)} and dtype {x.dtype}"
    if isinstance(x, (tuple, list)):
        return f"a {_tname(x)} of {len(x)} elements"
    return f"{_tname(x)}"


def _expected(out):
    if _is_tensor(out):
        return f"a Tensor of shape {_shape(out)} and dtype {out.dtype} (the output's)"
    if isinstance(out, (tuple, list)):
        return "a tuple (" + ", ".join(_expected_short(o) for o in out) + ") matching the outputs"
    return "None (the output is not a Tensor)"


def _expected_short(o):
    if _is_tensor(o):
        return f"shape {_shape(o)}"
    if isinstance(o, (tuple, list)):
        return "(" + ", ".join(_expected_short(e) for e in o) + ")"
    return "None"


def _pair_sens(who, out, sens, pairs):
    """Pairs each Tensor of out with its sensitivity (same structure), checking shapes."""
    if _is_tensor(out):
        if isinstance(sens, (tuple, list)) and len(sens) == 1 and _is_tensor(sens[0]):
            sens = sens[0]
        if not _is_tensor(sens):
            raise ValueError(f"{who}: the sensitivity (gradient of the output) must be {_expected(out)}, "
                             f"got {_describe(sens)}")
        if tuple(sens.shape) != tuple(out.shape):
            raise ValueError(f"{who}: the sensitivity (gradient of the output) must be {_expected(out)}, got a "
                             f"Tensor of shape {_shape(sens)}")
        pairs.append((out, sens))
    elif isinstance(out, (tuple, list)):
        if not isinstance(sens, (tuple, list)) or len(sens) != len(out):
            raise ValueError(f"{who}: the output is a {_tname(out)} of {len(out)} elements, so the sensitivity must "
                             f"be {_expected(out)}, got {_describe(sens)}")
        for o, s in zip(out, sens):
            _pair_sens(who, o, s, pairs)
    return pairs


def _seeds(who, out, sens):
    """(differentiated outputs, their sensitivities) for tape.backward."""
    if sens is _NO_SENS:
        ys = [y for y in _flatten(out, []) if _is_float(y)]
        return ys, [None if y.size == 1 else _ops["ones_like"](y) for y in ys]
    pairs = _pair_sens(who, out, sens, [])
    ys, ss = [], []
    for y, s in pairs:
        if not _is_float(y):
            continue
        if s.dtype != y.dtype:
            s = s.astype(y.dtype)
        ys.append(y)
        ss.append(s)
    return ys, ss


_NO_SENS = object()


# ----------------------------------------------------------------------------------------- the engine
def _watch(tape, t):
    if _is_float(t):
        tape.watch(t)
        hooks = _hooks_of(t)
        if hooks is not None:
            tape.add_hook(t, hooks)


def _run(who, fn, args, kwargs, positions, weights, has_aux, sens=_NO_SENS):
    """Runs fn(*args, **kwargs) on a new tape and differentiates it.
    Returns (output, aux or None, input gradients (one per position), weight gradients).
    Inside a graph being compiled, the gradient is built into the graph instead (jit/graph_grad.py)."""
    if _jit_state.active and _jit_state.tracing():
        from ..jit import graph_grad
        return graph_grad.run(who, fn, args, kwargs, positions, weights, has_aux, sens, _NO_SENS)
    args = list(args)
    for p in positions:
        if p >= len(args):
            raise ValueError(f"{who}: grad_position {p} is out of range: {_fn_name(fn)} was called with "
                             f"{len(args)} positional arguments (positions must be in [0, {len(args)}))")
        if not _is_tensor(args[p]):
            raise TypeError(f"{who}: argument {p} of {_fn_name(fn)} is a {_tname(args[p])}; only Tensor arguments "
                            f"can be differentiated (grad_position={positions[0] if len(positions) == 1 else positions})")
    seen = set()
    for p in positions:  # the same tensor at two positions: each gets its own partial derivative
        if id(args[p]) in seen:
            args[p] = _alias(args[p])
        seen.add(id(args[p]))
    tape = _C.Tape()
    leaves = [args[p] for p in positions] + list(weights)
    for t in leaves:
        _watch(tape, t)
    with tape:
        out = fn(*args, **kwargs)
    aux = None
    grad_out = out
    if has_aux:
        if not isinstance(out, tuple) or len(out) < 2:
            raise ValueError(f"{who}: with has_aux=True, {_fn_name(fn)} must return a tuple of more than one output "
                             f"(the first is differentiated, the others are returned as they are), got "
                             f"{_describe(out)}")
        grad_out, aux = out[0], tuple(out[1:])
    ys, ss = _seeds(who, grad_out, sens)
    float_leaves = [t for t in leaves if _is_float(t)]
    grads = iter(tape.backward(ys, ss, float_leaves) if float_leaves else ())
    g = [next(grads) if _is_float(t) else _zeros_like(t) for t in leaves]
    return out, aux, g[:len(positions)], g[len(positions):]


def _pack(grad_position, positions, gi, weights, single_weight, gw, return_ids):
    if return_ids:
        gi = [(p, g) for p, g in zip(positions, gi)]
        gw = [(_weight_name(w, i), g) for i, (w, g) in enumerate(zip(weights, gw))]
    ins = None
    if grad_position is not None:
        ins = gi[0] if isinstance(grad_position, int) else tuple(gi)
    if not weights and not single_weight:
        ws = None
    else:
        ws = gw[0] if single_weight else tuple(gw)
    if ins is not None and ws is not None:
        return ins, ws
    return ins if ws is None else ws


def _make_grad(who, fn, grad_position, weights, has_aux, return_ids, with_value):
    if grad_position is None and weights is None:
        raise ValueError(f"{who}: `grad_position` and `weights` can not be None at the same time.")
    if not callable(fn):
        raise TypeError(f"{who}: 'fn' must be a function or a Cell, got {_tname(fn)}")
    _check_bool(who, "has_aux", has_aux)
    _check_bool(who, "return_ids", return_ids)
    positions = _grad_positions(who, grad_position)
    ws, single = _weights_list(who, weights)

    def grad_fn(*args, **kwargs):
        out, aux, gi, gw = _run(who, fn, args, kwargs, positions, ws, has_aux)
        res = _pack(grad_position, positions, gi, ws, single, gw, return_ids)
        if with_value:
            return out, res
        return (res, aux) if has_aux else res

    grad_fn.__name__ = f"{who}_of_{getattr(fn, '__name__', type(fn).__name__)}"
    grad_fn.__wrapped__ = fn
    return grad_fn


def grad(fn, grad_position=0, weights=None, has_aux=False, return_ids=False):
    """The gradient function of ``fn`` (a function or a Cell).

    - ``grad_position``: int -> the gradient of that input (a Tensor); tuple of ints -> a tuple of
      gradients; None -> no input gradients (``weights`` is then required).
    - ``weights``: a Parameter (-> its gradient), or a ParameterTuple / list of Parameters (-> a tuple).
    - With both, the gradient function returns ``(input_gradients, weight_gradients)``.
    - ``has_aux``: ``fn`` returns ``(out, aux...)``; only ``out`` is differentiated and the result is
      ``(gradients, (aux...))``.
    - ``return_ids``: every gradient becomes ``(position, gradient)`` or ``(parameter name, gradient)``.

    Non-scalar outputs are seeded with ones (the gradient of their sum); several outputs add up.
    """
    return _make_grad("grad", fn, grad_position, weights, has_aux, return_ids, False)


def value_and_grad(fn, grad_position=0, weights=None, has_aux=False, return_ids=False):
    """Like :func:`grad`, but the gradient function returns ``(fn's output, gradients)``; with
    ``has_aux`` the output is ``fn``'s whole output ``(out, aux...)`` (only ``out`` is differentiated)."""
    return _make_grad("value_and_grad", fn, grad_position, weights, has_aux, return_ids, True)


def vjp(fn, *inputs, weights=None, has_aux=False):
    """``(outputs, vjp_fn)`` (``(outputs[0], vjp_fn, aux)`` with has_aux): ``vjp_fn(v)`` returns the
    gradients of ``sum(outputs * v)`` with respect to every input, as a tuple (with weights:
    ``(input gradients, weight gradients)``). ``v`` has the outputs' structure and shapes. ``vjp_fn``
    may be called several times."""
    _check_bool("vjp", "has_aux", has_aux)
    for i, x in enumerate(inputs):
        if not _is_tensor(x):
            raise TypeError(f"vjp: the inputs must be Tensors, input {i} is a {_tname(x)}")
    ws, single = _weights_list("vjp", weights)
    args = list(inputs)
    seen = set()
    for i, a in enumerate(args):
        if id(a) in seen:
            args[i] = _alias(a)
        seen.add(id(args[i]))
    tape = _C.Tape()
    leaves = args + list(ws)
    for t in leaves:
        _watch(tape, t)
    with tape:
        res = fn(*args)
    out = res
    if has_aux:
        if not isinstance(res, tuple) or len(res) < 2:
            raise ValueError(f"vjp: with has_aux=True, {_fn_name(fn)} must return more than one output, "
                             f"got {_describe(res)}")
        out = res[0]

    def vjp_fn(*v):
        vv = v[0] if len(v) == 1 else v
        ys, ss = _seeds("vjp", out, vv)
        fl = [t for t in leaves if _is_float(t)]
        it = iter(tape.backward(ys, ss, fl) if fl else ())
        g = [next(it) if _is_float(t) else _zeros_like(t) for t in leaves]
        gi = tuple(g[:len(args)])
        if not ws:
            return gi
        return gi, (g[len(args)] if single else tuple(g[len(args):]))

    if has_aux:
        return out, vjp_fn, (res[1] if len(res) == 2 else res[1:])
    return res, vjp_fn


def stop_gradient(value):
    """``value`` (a Tensor, or a tuple / list of them) as constants for differentiation."""
    if _is_tensor(value):
        if _C.is_recording():  # a copy: views of it (indexing) must not be taken for views of value
            with no_grad():
                return _ops["copy"](value)
        return _ops["stop_gradient"](value)
    if isinstance(value, (tuple, list)):
        return type(value)(stop_gradient(v) for v in value)
    return value


# ----------------------------------------------------------------------------------------- custom backward
def _check_grads(who, res, inputs, names=None, allow_single=True):
    """The gradients a backward function returned, checked against the inputs: a list with one Tensor or
    None per input (Python numbers become Tensors of the input's dtype)."""
    n = len(inputs)
    if _is_tensor(res) and allow_single and n == 1:
        res = (res,)
    if not isinstance(res, (tuple, list)):
        raise TypeError(f"{who} must return a tuple of gradients (one per input), got {_describe(res)}")
    if len(res) != n:
        lst = f" ({', '.join(names)})" if names else ""
        raise ValueError(f"{who} returned {len(res)} gradient{'s' if len(res) != 1 else ''} for {n} "
                         f"input{'s' if n != 1 else ''}{lst}; it must return one gradient per input")
    out = []
    for i, (g, x) in enumerate(zip(res, inputs)):
        nm = f"input {i}" + (f" ('{names[i]}')" if names and i < len(names) else "")
        if g is None or not _is_tensor(x):
            out.append(None if not _is_tensor(g) else g)
            continue
        if isinstance(g, (int, float)) and not isinstance(g, bool):
            g = _ops["ones_like"](x) * g
        if not _is_tensor(g):
            raise TypeError(f"{who} returned a {_tname(g)} as the gradient of {nm}; it must be a Tensor or None")
        if tuple(g.shape) != tuple(x.shape):
            raise ValueError(f"{who} returned a gradient of shape {_shape(g)} for {nm} of shape {_shape(x)}")
        out.append(g)
    return out


def _param_names(fn, n):
    try:
        ps = [p.name for p in inspect.signature(fn).parameters.values()
              if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        return ps[:n] if len(ps) >= n else None
    except (TypeError, ValueError):
        return None


def _check_bprop_signature(who, bprop, n_args):
    """bprop must accept the n_args inputs followed by out and dout."""
    try:
        sig = inspect.signature(bprop)
    except (TypeError, ValueError):
        return
    try:
        sig.bind(*([None] * (n_args + 2)))
    except TypeError:
        raise TypeError(f"{who} must take the {n_args} input{'s' if n_args != 1 else ''} followed by out and dout "
                        f"(bprop({', '.join(['x%d' % i for i in range(n_args)] + ['out', 'dout'])})), but its "
                        f"signature is {sig}") from None


def _custom_call(who, fn, bprop, args, kwargs, cell=None):
    """fn(*args, **kwargs) with the backward bprop(*args, out, dout) -> one gradient per argument."""
    if not _C.is_recording():
        return fn(*args, **kwargs)
    _check_bprop_signature(who, bprop, len(args))
    with no_grad():
        out = fn(*args, **kwargs)
    t_idx = [i for i, a in enumerate(args) if _is_tensor(a)]
    outs = _flatten(out, [])
    if not t_idx or not outs:
        return out
    names = _param_names(bprop, len(args))

    def backward(inputs, outputs, douts, need, attrs):
        douts = list(douts)
        if cell is not None:
            douts = _run_pre_hooks(cell, douts, outs)
        dout = _unflatten(out, iter(douts))
        res = bprop(*args, out, dout)
        grads = _check_grads(who, res, args, names)
        gin = [grads[i] for i in t_idx]
        if cell is not None:
            gin = _run_post_hooks(cell, gin, douts, [args[i] for i in t_idx])
        return gin

    _C.record_custom(who, [args[i] for i in t_idx], outs, backward)
    return out


def custom_vjp(fn, bprop, name=None):
    """A function computing ``fn(*args, **kwargs)`` whose backward is ``bprop(*args, out, dout)``,
    returning one gradient per positional argument (a tuple; None for no gradient; the gradient of a
    non-Tensor argument is ignored). ``out`` is fn's output and ``dout`` its gradient, of the same
    structure. Inside, fn runs without recording: only bprop defines the gradient (Parameters fn reads
    get none). Ops bprop runs are recorded on outer tapes, so higher-order gradients go through it."""
    if not callable(fn) or not callable(bprop):
        raise TypeError("custom_vjp: fn and bprop must be callable")
    who = f"the bprop of {name or _fn_name(fn)}"

    def wrapped(*args, **kwargs):
        return _custom_call(who, fn, bprop, args, kwargs)

    wrapped.__name__ = getattr(fn, "__name__", "custom_vjp")
    wrapped.__wrapped__ = fn
    return wrapped


def record_custom(name, inputs, outputs, backward):
    """Low-level: on the active tapes, ``outputs`` (Tensors computed from ``inputs`` without recording)
    get the backward ``backward(douts) -> gradients of the inputs`` (a sequence with one Tensor or None per
    input; douts is a tuple with one Tensor per output, zeros where no gradient flows). No-op when no
    tape is active or no input requires grad."""
    inputs, outputs = list(inputs), list(outputs)
    who = f"the backward of {name}"

    def bw(ins, outs, douts, need, attrs):
        return _check_grads(who, backward(douts), inputs)

    _C.record_custom(name, inputs, outputs, bw)


# ----------------------------------------------------------------------------------------- Cell support
def _cell_name(cell):
    return getattr(cell, "cls_name", None) or type(cell).__name__


def _as_grads(who, r, like):
    if _is_tensor(r):
        r = (r,)
    return _check_grads(who, r, like, allow_single=False)


def _run_pre_hooks(cell, douts, outs):
    hooks = getattr(cell, "_backward_pre_hooks", None)
    for h in list(hooks.values()) if hooks else ():
        r = h(cell, tuple(douts))
        if r is not None:
            douts = _as_grads(f"the backward pre-hook of {_cell_name(cell)}", r, outs)
    return douts


def _run_post_hooks(cell, gin, douts, inputs):
    hooks = getattr(cell, "_backward_hooks", None)
    for h in list(hooks.values()) if hooks else ():
        r = h(cell, tuple(gin), tuple(douts))
        if r is not None:
            gin = _as_grads(f"the backward hook of {_cell_name(cell)}", r, inputs)
    return gin


def _cell_call(cell, args, kwargs):
    """Runs cell.construct(*args, **kwargs) with the cell's custom backward: its ``bprop`` method
    (``bprop(*inputs, out, dout) -> input gradients``) and its backward hooks
    (``hook(cell, grad_output) -> new grad_output or None`` before the cell's backward,
    ``hook(cell, grad_input, grad_output) -> new grad_input or None`` after it)."""
    name = _cell_name(cell)
    if not _C.is_recording():
        return cell.construct(*args, **kwargs)
    if callable(getattr(type(cell), "bprop", None)):
        return _custom_call(f"the bprop of {name}", cell.construct, cell.bprop, args, kwargs, cell=cell)
    state = {"grad_output": ()}
    call_args = list(args)
    t_idx = [i for i, a in enumerate(args) if _is_tensor(a) and _is_float(a)]
    if getattr(cell, "_backward_hooks", None) and t_idx:
        ins = [args[i] for i in t_idx]
        with no_grad():
            aliases = [_alias(a) for a in ins]

        def in_backward(inputs, outputs, douts, need, attrs):
            return _run_post_hooks(cell, list(douts), state["grad_output"], ins)

        _C.record_custom(f"backward hooks of {name}", ins, aliases, in_backward)
        for i, a in zip(t_idx, aliases):
            call_args[i] = a
    out = cell.construct(*call_args, **kwargs)
    outs = [o for o in _flatten(out, []) if _is_float(o)]
    if outs:
        with no_grad():
            oal = [_alias(o) for o in outs]

        def out_backward(inputs, outputs, douts, need, attrs):
            g = _run_pre_hooks(cell, list(douts), outs)
            state["grad_output"] = tuple(g)
            return g

        _C.record_custom(f"backward pre-hooks of {name}", outs, oal, out_backward)
        mapping = {id(o): a for o, a in zip(outs, oal)}
        out = _unflatten(out, iter([mapping.get(id(o), o) for o in _flatten(out, [])]))
    return out


# ----------------------------------------------------------------------------------------- tensor hooks
class _Hooks:
    """The hooks of one tensor, in registration order; a tape's backward calls the object with the
    gradient flowing into the tensor."""

    __slots__ = ("fns", "next_id", "__weakref__")

    def __init__(self):
        self.fns = {}
        self.next_id = 0

    def __call__(self, inputs, outputs, douts, need, attrs):
        g = douts[0]
        for fn in list(self.fns.values()):
            r = fn(g)
            if r is None:
                continue
            if not _is_tensor(r):
                raise TypeError(f"the hook {_fn_name(fn)} registered with Tensor.register_hook must return a Tensor "
                                f"or None, got {_tname(r)}")
            if tuple(r.shape) != tuple(g.shape):
                raise ValueError(f"the hook {_fn_name(fn)} registered with Tensor.register_hook returned a gradient of "
                                 f"shape {_shape(r)} for a tensor of shape {_shape(g)}")
            g = r
        return (g,)


class RemovableHandle:
    """Returned by ``Tensor.register_hook``: ``handle.remove()`` unregisters the hook (backward passes that
    have not run yet no longer call it)."""

    __slots__ = ("_hooks", "_id")

    def __init__(self, hooks, key):
        self._hooks = hooks
        self._id = key

    def remove(self):
        self._hooks.fns.pop(self._id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
        return False


def _hooks_of(t):
    d = getattr(t, "__dict__", None)
    return d.get("_ds_hooks") if d else None


def register_hook(self, hook_fn):
    """Registers ``hook_fn(grad) -> new gradient or None``, called with the gradient flowing into this
    tensor during a backward pass (PyNative); a returned Tensor replaces the gradient. Returns a handle
    whose ``remove()`` unregisters it. Uses of the tensor recorded before the hook was registered
    (inside the function being differentiated) do not go through it."""
    if not callable(hook_fn):
        raise TypeError(f"Tensor.register_hook: the hook must be callable, got {_tname(hook_fn)}")
    hooks = _hooks_of(self)
    if hooks is None:
        hooks = self.__dict__["_ds_hooks"] = _Hooks()
    key = hooks.next_id
    hooks.next_id += 1
    hooks.fns[key] = hook_fn
    if _is_float(self):
        _C.add_hook(self, hooks)  # on the active tapes where the tensor requires grad
    return RemovableHandle(hooks, key)


Tensor.register_hook = register_hook


_base_setitem = _C.TensorBase.__setitem__


def _setitem(self, key, value):
    """Tensor.__setitem__ refusing, while a gradient is being recorded, an in-place assignment that would
    silently break it (into a tensor that requires grad, or of a value that requires grad)."""
    if _C.is_recording():
        _C.check_write(self, value)
    _base_setitem(self, key, value)


Tensor.__setitem__ = _setitem
