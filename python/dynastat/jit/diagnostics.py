"""The compiler's diagnostic stream: compiles, recompiles and why, compile times. Events go to the
`dynastat.jit` logger and to a bounded in-memory list (`events()`); a function recompiled more than
RECOMPILE_WARN times gets a warning naming what keeps changing."""
import collections
import logging
import warnings

from .values import describe, is_tensor

log = logging.getLogger("dynastat.jit")
RECOMPILE_WARN = 8
_events = collections.deque(maxlen=1000)
_MISSING = object()


class RecompileWarning(UserWarning):
    """A compiled function keeps recompiling because something it depends on keeps changing."""


def events():
    """The recent diagnostic events, oldest first: dicts with kind ("compile"/"recompile"), function,
    reason, compile_ms."""
    return list(_events)


def clear():
    _events.clear()


def _guard_value(kind, obj, name):
    try:
        if kind == "attr":
            return getattr(obj, name)
        if kind == "item":
            return obj.get(name, _MISSING)
        return obj.cell_contents
    except Exception:
        return _MISSING


def _same(a, b):
    return a is b or (type(a) is type(b) and isinstance(a, (bool, int, float, str, tuple)) and a == b)


def _guard_name(kind, obj, name):
    if kind == "attr":
        return f"{type(obj).__name__}.{name}"
    if kind == "item":
        return f"global '{name}'"
    return "a closure variable"


def _arg_desc(args, kwargs):
    return [describe(a) if is_tensor(a) else repr(a) if isinstance(a, (bool, int, float, str, type(None)))
            else type(a).__name__ for a in list(args) + list(kwargs.values())]


def _reason(history, args, kwargs):
    desc = _arg_desc(args, kwargs)
    reasons = []
    for guards, prev_desc in history[-1:]:
        for kind, obj, name, value in guards:
            cur = _guard_value(kind, obj, name)
            if not _same(cur, value):
                shown = "(deleted)" if cur is _MISSING else repr(cur) if not is_tensor(cur) else describe(cur)
                old = repr(value) if not is_tensor(value) else describe(value)
                reasons.append(f"{_guard_name(kind, obj, name)} changed from {old} to {shown}")
        if not reasons:
            diff = [f"argument {i}: {a} -> {b}" for i, (a, b) in enumerate(zip(prev_desc, desc)) if a != b]
            if len(prev_desc) != len(desc):
                diff.append(f"{len(prev_desc)} -> {len(desc)} arguments")
            reasons.extend(diff or ["new argument values"])
    return "; ".join(reasons)


def compiled(name, ms, graph, guards, args, kwargs, history):
    """Records a compile of `name` (history: the function's earlier compiles, appended to here)."""
    if history is None:
        history = []
    kind = "recompile" if history else "compile"
    reason = _reason(history, args, kwargs) if history else ""
    history.append(([(k, o, n, v) for k, o, n, v in guards], _arg_desc(args, kwargs)))
    ev = {"kind": kind, "function": name, "reason": reason, "compile_ms": ms, "count": len(history)}
    _events.append(ev)
    if kind == "recompile":
        log.info("recompiling %s (compile #%d, %.2f ms): %s", name, len(history), ms, reason)
        if len(history) == RECOMPILE_WARN + 1 or (len(history) > RECOMPILE_WARN and len(history) % 50 == 0):
            warnings.warn(f"dynastat.jit: '{name}' has been compiled {len(history)} times; what keeps changing: "
                          f"{reason}. Pass changing values as tensor arguments (they do not cause recompiles), "
                          f"or declare unknown dims in input_signature", RecompileWarning, stacklevel=3)
    else:
        log.info("compiled %s in %.2f ms", name, ms)
