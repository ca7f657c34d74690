"""Compiling one call: symbolic inputs for the call's tensors, the interpreter over the function's
source, the graph's outputs and the result template, the optimized graph, and the entry the C call
cache (`_C.JitFunction`) stores: ("graph", graph, extra_inputs, guards, output_template, dim_pattern)."""
import os
import time
import types

from .. import _C
from .. import context as _context
from . import state, diagnostics
from .interp import Interpreter
from .values import is_tensor, is_namedtuple, flatten


def _symbolic_inputs(comp, value, path, sig, dims_out):
    """value with each tensor replaced by a graph parameter (walk order = the C cache's key order)."""
    if is_tensor(value):
        shape = tuple(value.shape)
        spec = None
        if sig is not None and is_tensor(sig):
            spec = tuple(sig.shape)
            if len(spec) != len(shape) or any(s is not None and s != d for s, d in zip(spec, shape)):
                raise ValueError(f"input {path}: shape {list(shape)} does not match the input_signature's "
                                 f"{['None' if s is None else s for s in spec]}")
            if sig.dtype != value.dtype:
                raise TypeError(f"input {path}: dtype {value.dtype} does not match the input_signature's {sig.dtype}")
            shape = tuple(f"{path}_{i}" if s is None else s for i, s in enumerate(spec))
        dims_out.append(spec if spec is not None and None in spec else None)
        return comp.root.param(path, value.dtype, shape)
    if isinstance(value, (tuple, list)):
        sigs = sig if isinstance(sig, (tuple, list)) and len(sig) == len(value) else [None] * len(value)
        items = [_symbolic_inputs(comp, v, f"{path}_{i}", s, dims_out) for i, (v, s) in enumerate(zip(value, sigs))]
        if isinstance(value, list):
            return items
        return type(value)(*items) if is_namedtuple(value) else tuple(items)
    if isinstance(value, dict):
        return {k: _symbolic_inputs(comp, v, f"{path}_{k}", None, dims_out) for k, v in value.items()}
    return value


def _out_template(tpl, leaves, outs):
    kind = tpl[0]
    if kind == "L":
        v = leaves[tpl[1]]
        if is_tensor(v):
            outs.append(v)
            return ("T", len(outs) - 1)
        return ("C", v)
    if kind == "C":
        return tpl
    if kind == "dict":
        return ("dict", tpl[1], [_out_template(t, leaves, outs) for t in tpl[2]])
    if kind == "ntuple":  # the C cache builds it as cls(*items)
        return ("tuple", [_out_template(t, leaves, outs) for t in tpl[2]], tpl[1])
    return (kind, [_out_template(t, leaves, outs) for t in tpl[1]])


def trace_function(fn, args, kwargs, name, input_signature=None):
    """Traces fn(*args, **kwargs) into a graph. Returns (graph, compilation, output template)."""
    comp = state.Compilation(name)
    with comp:
        dims = []
        sig = list(input_signature) if input_signature is not None else None
        if sig is not None and len(sig) < len(args):
            sig += [None] * (len(args) - len(sig))
        sym_args = tuple(_symbolic_inputs(comp, a, f"arg{i}", None if sig is None else sig[i], dims)
                         for i, a in enumerate(args))
        sym_kwargs = {k: _symbolic_inputs(comp, v, k, None, dims) for k, v in kwargs.items()}
        interp = Interpreter(comp)
        if isinstance(fn, types.MethodType):  # ms.jit(obj.method): obj is the first argument
            result = interp.call_function(fn, sym_args, sym_kwargs)
        elif hasattr(fn, "__code__"):  # a Python function: interpreted even if it is library code
            result = interp.call_user(fn, sym_args, sym_kwargs)
        else:
            result = interp.call_function(fn, sym_args, sym_kwargs)
        leaves = []
        tpl = flatten(result, leaves)
        outs = []
        out_tpl = _out_template(tpl, leaves, outs)
        graph = comp.root.finish(outs)
    return graph, comp, out_tpl, (dims if any(d is not None for d in dims) else None)


def compile_call(fn, args, kwargs, name, input_signature=None, history=None):
    """Compiles one call of fn for the C cache; returns its entry tuple."""
    t0 = time.perf_counter()
    dump = _dump_dir()
    if dump:
        _C.set_dump_dir(dump)
    try:
        graph, comp, out_tpl, dims = trace_function(fn, args, kwargs, name, input_signature)
        opt = graph.optimize()
    finally:
        if dump:
            _C.set_dump_dir(None)
    ms = (time.perf_counter() - t0) * 1e3
    guards = comp.guard_list()
    diagnostics.compiled(name, ms, opt, guards, args, kwargs, history)
    return ("graph", opt, list(comp.weights), guards, out_tpl, dims)


def _dump_dir():
    env = os.environ.get("DYNASTAT_SAVE_GRAPHS")
    if _context.get_context("save_graphs") or env:
        path = env if env and env not in ("1", "true", "True") else _context.get_context("save_graphs_path")
        return os.path.abspath(path or ".")
    return None
