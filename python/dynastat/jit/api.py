"""The user-facing decorators and tools: jit / ms_function, show_graph, graph-mode Cell calls."""
import functools
import types

from .. import _C
from . import state
from .compiler import compile_call, trace_function
from .errors import JitSyntaxError

_MODES = ("PSJit", "PIJit")


def _check_signature(input_signature, fn):
    if input_signature is None:
        return None
    from ..common.tensor import Tensor
    sig = input_signature if isinstance(input_signature, (tuple, list)) else (input_signature,)
    for s in sig:
        if not isinstance(s, (Tensor, tuple, list)) and s is not None:
            raise TypeError(f"jit: input_signature items must be Tensors (e.g. Tensor(shape=[None, 3], "
                            f"dtype=ms.float32)), got {type(s).__name__}")
    return tuple(sig)


def _cached(fn, name, input_signature=None, bound=()):
    """A JitFunction compiling fn(*bound, *args, **kwargs) on each cache miss."""
    history = []

    def compile_cb(args, kwargs):
        return compile_call(fn, bound + tuple(args), kwargs, name, input_signature, history)

    jf = _C.JitFunction(compile_cb, name=name)
    jf.__ds_history__ = history
    return jf


def _make(fn, name, input_signature=None):
    jf = _cached(fn, name, input_signature)
    jf.__ds_jit_fn__ = fn
    jf.__wrapped__ = fn
    jf.__name__ = getattr(fn, "__name__", name)
    jf.__qualname__ = getattr(fn, "__qualname__", name)
    jf.__doc__ = getattr(fn, "__doc__", None)
    jf.__ds_trace_call__ = functools.partial(_inline, fn)
    return jf


def _inline(fn, *args, **kwargs):
    """A jit function called from library code while another graph is being compiled: its body joins
    that graph (interpreted like any user function)."""
    from .interp import Interpreter
    return Interpreter(state.current()).call_function(fn, args, kwargs)


def jit(fn=None, input_signature=None, hash_args=None, jit_config=None, mode="PSJit"):
    """Compiles ``fn`` (a function or a method such as a Cell's construct) to a graph when it is
    called, in either mode; other code keeps running eagerly.

    - ``input_signature``: Tensors giving the dtype and shape of the inputs; dims given as None are
      symbolic, so one compiled graph serves every size.
    - ``hash_args``, ``jit_config``: accepted for compatibility (``hash_args`` objects are guarded like
      any value the function reads).
    - ``mode``: "PSJit" compiles from the Python source. "PIJit" (bytecode capture) is not available in
      this version.
    A compiled function is cached per input structure, shapes, dtypes and Python constant values, and
    recompiled when a global, closure value or attribute it read changes (see docs/jit.md)."""
    if mode not in _MODES:
        raise ValueError(f"jit: mode must be one of {_MODES}, got {mode!r}")
    if mode == "PIJit":
        raise NotImplementedError("jit(mode='PIJit'): bytecode capture is not available in this version of "
                                  "dynastat; use mode='PSJit' (the default)")
    if jit_config is not None and not isinstance(jit_config, dict):
        raise TypeError(f"jit: jit_config must be a dict, got {type(jit_config).__name__}")
    if fn is None:
        return functools.partial(jit, input_signature=input_signature, hash_args=hash_args, jit_config=jit_config,
                                 mode=mode)
    if isinstance(fn, type):
        raise TypeError("jit: decorate a function or a method, not a class (use jit_class for classes)")
    if not callable(fn):
        raise TypeError(f"jit: expected a function, got {type(fn).__name__}")
    if getattr(fn, "__ds_jit_fn__", None) is not None:
        return fn
    sig = _check_signature(input_signature, fn)
    name = getattr(fn, "__qualname__", None) or type(fn).__name__
    return _make(fn, name, sig)


ms_function = jit


def _target(fn, args):
    """The Python function to compile and its arguments (bound methods, Cells, jit functions)."""
    from ..nn.cell import Cell
    inner = getattr(fn, "__ds_jit_fn__", None)
    self = getattr(fn, "__self__", None)
    if inner is not None:
        return inner, ((self,) + tuple(args)) if self is not None and not isinstance(self, types.ModuleType) else args
    if isinstance(fn, Cell):
        c = type(fn).construct
        c = getattr(c, "__ds_jit_fn__", c)
        return c, (fn,) + tuple(args)
    if isinstance(fn, types.MethodType):
        return fn.__func__, (fn.__self__,) + tuple(args)
    return fn, tuple(args)


def show_graph(fn, *args, **kwargs):
    """The optimized IR text of fn compiled for these arguments (fn: a function, a jit function, a Cell
    or a bound method). Nothing is cached or run."""
    target, targs = _target(fn, args)
    name = getattr(target, "__qualname__", type(target).__name__)
    graph, _, _, _ = trace_function(target, targs, kwargs, name)
    return graph.optimize().text()


def graph_call(cell, args, kwargs):
    """Cell.__call__ in GRAPH_MODE (or inside a compilation): runs the compiled construct."""
    comp = state.current()
    if comp is not None:
        from .interp import Interpreter
        return Interpreter(comp).call_cell(cell, args, kwargs)
    jf = cell.__dict__.get("_graph_construct")
    if jf is None:
        construct = type(cell).construct
        construct = getattr(construct, "__ds_jit_fn__", construct)
        jf = _cached(construct, f"{type(cell).__name__}.construct", bound=(cell,))
        cell.__dict__["_graph_construct"] = jf
    return jf(*args, **kwargs)


__all__ = ["jit", "ms_function", "show_graph", "JitSyntaxError"]
