"""Gradients inside a graph being compiled: grad / value_and_grad / GradOperation called in compiled
code trace the differentiated function into a sub-graph, take its gradient graph with the shared
reverse-mode pass (ds_graph_grad) and call it from the enclosing graph."""
from .. import _C
from ..common import autograd as _autograd
from . import state
from .values import is_tensor, describe


def run(who, fn, args, kwargs, positions, weights, has_aux, sens, no_sens):
    """The graph version of common.autograd._run: returns (out, aux, input grads, weight grads)."""
    from .interp import Interpreter
    comp = state.current()
    interp = Interpreter(comp)
    args = list(args)
    for w in weights:
        comp.bind_parameter(w)
    tensor_pos = [i for i, a in enumerate(args) if is_tensor(a)]
    for p in positions:
        if p >= len(args) or not is_tensor(args[p]):
            raise TypeError(f"{who}: argument {p} is not a Tensor ({describe(args[p]) if p < len(args) else 'missing'})")
    params = [(f"arg{i}", args[i]) for i in tensor_pos]
    (sub,) = comp.trace.group(1, params=params)
    sym = sub.params()
    inner_args = list(args)
    for i, s in zip(tensor_pos, sym):
        inner_args[i] = s
    prev = comp.trace
    comp.trace = sub
    try:
        with sub:
            for w in weights:  # capture the weights first, so they are the sub-graph's first captures
                _C.ops["stop_gradient"](w)
            out = interp.call_function(fn, inner_args, kwargs)
            aux = None
            grad_out = out
            if has_aux:
                if not isinstance(out, tuple) or len(out) < 2:
                    raise ValueError(f"{who}: with has_aux=True the function must return a tuple of more than one "
                                     f"output, got {describe(out)}")
                grad_out, aux = out[0], tuple(out[1:])
            if isinstance(grad_out, tuple):
                grad_outs = list(grad_out)
            else:
                grad_outs = [grad_out]
            for g in grad_outs:
                if not is_tensor(g):
                    raise TypeError(f"{who}: the differentiated function must return tensors, got {describe(g)}")
            extra = [] if aux is None else list(aux)
            sub.finish(grad_outs + extra)
    finally:
        comp.trace = prev
    _check_no_overrides(sub.graph(), who)
    n_explicit = len(tensor_pos)
    # as eagerly, a non-float input or weight gets a zero gradient (only floats are differentiated)
    leaves = [args[p] for p in positions] + list(weights)
    is_float = [_autograd._is_float(t) for t in leaves]
    wrt = [tensor_pos.index(p) for p in positions] + [n_explicit + k for k in range(len(weights))]
    wrt = [w for w, f in zip(wrt, is_float) if f]
    sens_list = []
    if sens is not no_sens:
        sens_list = list(sens) if isinstance(sens, (tuple, list)) else [sens]
    g = sub.graph().grad(list(range(len(grad_outs))), wrt, sens_param=bool(sens_list))
    res = comp.trace.add_call(sub, [args[i] for i in tensor_pos], graph=g, extra=sens_list)
    n_fwd = len(grad_outs) + len(extra)
    fwd, float_grads = res[:n_fwd], iter(res[n_fwd:])
    grads = [next(float_grads) if f else _autograd._zeros_like(t) for t, f in zip(leaves, is_float)]
    out_v = tuple(fwd[:len(grad_outs)]) if isinstance(grad_out, tuple) else fwd[0]
    if has_aux:
        aux = tuple(fwd[len(grad_outs):])
        out_v = (out_v,) + aux
    return out_v, aux, list(grads[:len(positions)]), list(grads[len(positions):])


def _check_no_overrides(graph, who):
    """Gradients registered with bprop_getters are eager-only: refuse rather than differ silently."""
    from ..ops._grad.grad_base import bprop_getters
    if not bprop_getters:
        return
    text = graph.text()
    hit = [name for name in bprop_getters.keys() if f"= {name}(" in text]
    if hit:
        raise NotImplementedError(f"{who} inside a compiled graph: the gradient of {', '.join(hit)} is overridden "
                                  f"with bprop_getters, which applies to eager mode only; take this gradient in "
                                  f"eager mode, or remove the override")
