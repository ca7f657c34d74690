"""Helpers of the @jit tests: structural comparison of results and eager-versus-compiled parity of
values and gradients."""
import numpy as np

import dynastat as ms
from dynastat import ops, Tensor


def same(a, b, rtol=1e-5, atol=1e-6):
    """Structural equality (tensors compared by dtype, shape and value)."""
    if isinstance(a, (tuple, list)):
        assert type(a) is type(b) and len(a) == len(b), (a, b)
        for x, y in zip(a, b):
            same(x, y, rtol, atol)
    elif isinstance(a, dict):
        assert isinstance(b, dict) and list(a.keys()) == list(b.keys()), (a, b)
        for k in a:
            same(a[k], b[k], rtol, atol)
    elif isinstance(a, ms.Tensor):
        assert isinstance(b, ms.Tensor), (a, b)
        assert a.dtype == b.dtype and tuple(a.shape) == tuple(b.shape), (a, b)
        np.testing.assert_allclose(a.asnumpy(), b.asnumpy(), rtol=rtol, atol=atol)
    else:
        assert a == b and type(a) is type(b), (a, b)


def zero(x, dtype):
    """A 0-d zero computed from x: a value of the graph (a loop on a constant such as ops.zeros(())
    would run at compile time, unrolled)."""
    return ops.cast(x.sum() * 0, dtype)


def _float_leaves(v, out):
    if isinstance(v, (tuple, list)):
        for x in v:
            _float_leaves(x, out)
    elif isinstance(v, dict):
        for x in v.values():
            _float_leaves(x, out)
    elif isinstance(v, ms.Tensor) and v.dtype in (ms.float32, ms.float64):
        out.append(v)
    return out


def loss_of(fn, kwargs):
    """A scalar of every float output (weighted so that outputs are told apart)."""
    def loss(*a):
        leaves = _float_leaves(fn(*a, **kwargs), [])
        total = None
        for k, t in enumerate(leaves):
            s = t.sum() * float(k + 1)
            total = s if total is None else total + s.astype(total.dtype)
        return total
    return loss


def _float_positions(args):
    return tuple(i for i, a in enumerate(args) if isinstance(a, Tensor) and a.dtype in (ms.float32, ms.float64))


def graph_ops(fn, *args, **kwargs):
    """The counts of If and While nodes in the optimized graph of fn for these arguments."""
    text = ms.jit.show_graph(fn, *args, **kwargs)
    return {"If": text.count("= If("), "While": text.count("= While(")}


def parity(fn, *args, grad=True, others=(), rtol=1e-5, atol=1e-6, expect=None, **kwargs):
    """fn eagerly vs ms.jit(fn): the first call, a cached call, then every tuple of arguments in
    `others` through the same compiled function; with grad, the gradients of loss_of(fn) with respect
    to the float tensor arguments. `expect` ({"If": n, "While": m}, at least) checks that the
    tensor-dependent control flow really became graph nodes."""
    if expect:
        found = graph_ops(fn, *args, **kwargs)
        for k, n in expect.items():
            assert found[k] >= n, f"expected at least {n} {k} node(s) in the graph, found {found[k]}"
    compiled = ms.jit(fn)
    got = None
    for k, a in enumerate((args,) + tuple(others)):
        eager = fn(*a, **kwargs)
        got = compiled(*a, **kwargs)
        same(eager, got, rtol, atol)
        if k == 0:
            same(eager, compiled(*a, **kwargs), rtol, atol)  # a cached call
        pos = _float_positions(a)
        if grad and pos and _float_leaves(eager, []):
            ge = ms.grad(loss_of(fn, kwargs), pos)(*a)
            gc = ms.grad(loss_of(compiled, kwargs), pos)(*a)
            same(ge, gc, max(rtol, 1e-5), max(atol, 1e-5))
    return got
