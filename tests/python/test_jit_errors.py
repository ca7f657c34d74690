"""Errors of the graph compiler name the construct, the user's file:line and source line, and say what to
write instead; errors inside a graph point at the user's line."""
import os

import numpy as np
import pytest

import dynastat as ms
from dynastat import ops, Tensor

HERE = os.path.basename(__file__)


def T(a):
    return Tensor(np.asarray(a, np.float32))


def check(fn, *args, construct, hint=None, exc=ms.JitSyntaxError):
    with pytest.raises(exc) as ei:
        ms.jit(fn)(*args)
    msg = str(ei.value)
    assert construct in msg, msg
    assert HERE in msg, msg
    if hint:
        assert hint in msg, msg
    return ei.value


def f_with(x):
    with open("x"):  # noqa
        pass
    return x


def f_try(x):
    try:
        y = x + 1
    except ValueError:
        y = x
    return y


def f_global(x):
    global COUNTER
    COUNTER = 1
    return x


def f_class(x):
    class A:
        pass
    return x


def f_import(x):
    import math  # noqa: F401
    return x


def f_yield(x):
    yield x


def f_walrus(x):
    if (y := x + 1) is not None:
        return y
    return x


def f_open(x):
    open("f")
    return x


def f_tensor_value(x):
    n = x.sum().asnumpy()
    return x * n


def f_fstring(x):
    s = f"{x}"
    return x, s


@pytest.mark.parametrize("fn,construct,hint", [
    (f_with, "'with' statement", "move the `with` block"),
    (f_try, "'try' statement", "exception handling"),
    (f_global, "'global' statement", "return the new value"),
    (f_class, "'class' statement", "outside the compiled function"),
    (f_import, "'import' statement", "top of the file"),
    (f_yield, "'Yield'", "generators"),
    (f_walrus, "'NamedExpr'", "separate statement"),
    (f_open, "builtin open()", "LAX"),
    (f_tensor_value, "tensor's value at compile time", "tensor operations"),
    (f_fstring, "formatting a tensor's value", "print("),
])
def test_unsupported_syntax_is_a_jit_syntax_error(fn, construct, hint):
    e = check(fn, T([1., 2.]), construct=construct, hint=hint)
    assert isinstance(e, SyntaxError)
    assert "STRICT" in str(e)
    assert e.filename.endswith(HERE) and e.lineno > 0


def test_message_shows_the_source_line():
    e = check(f_try, T([1.]), construct="'try' statement")
    assert "try:" in str(e)
    assert e.lineno == f_try.__code__.co_firstlineno + 1


def f_shape_error(x, y):
    z = x + 1
    return ops.matmul(z, y)


def test_shape_errors_point_at_the_users_line():
    with pytest.raises(ValueError) as ei:
        ms.jit(f_shape_error)(T(np.ones((2, 3))), T(np.ones((2, 3))))
    msg = str(ei.value)
    assert "matmul" in msg and "[2, 3]" in msg, msg
    assert HERE in msg and "return ops.matmul(z, y)" in msg, msg


def f_branch_mismatch(x):
    if x.sum() > 0:
        y = x
    else:
        y = ops.cast(x, ms.int32)
    return y


def test_branches_disagreeing_in_type_name_the_variable():
    with pytest.raises(TypeError) as ei:
        ms.jit(f_branch_mismatch)(T([1.]))
    msg = str(ei.value)
    assert "'y'" in msg and "float32" in msg.lower() and "int32" in msg.lower() and HERE in msg, msg
    assert msg.count(HERE) == 1, msg


def f_branch_shape(x):
    if x.sum() > 0:
        y = x
    else:
        y = ops.concat((x, x))
    return y


def test_branches_disagreeing_in_shape():
    with pytest.raises(TypeError, match="'y'.*shape"):
        ms.jit(f_branch_shape)(T([1.]))


def f_one_branch(x):
    if x.sum() > 0:
        y = x
    return y


def test_variable_assigned_on_one_path_only():
    with pytest.raises(ms.JitSyntaxError, match="'y'.*only one path"):
        ms.jit(f_one_branch)(T([1.]))


def f_loop_type_change(x):
    while x.sum() < 10:
        x = ops.cast(x, ms.int32)
    return x


def test_loop_variable_changing_dtype():
    with pytest.raises(TypeError, match="'x'.*keep its dtype"):
        ms.jit(f_loop_type_change)(T([1.]))


def f_rec(x, n):
    return f_rec(x, n + 1)


def test_unbounded_recursion_is_a_clear_error():
    with pytest.raises(ms.JitSyntaxError, match="recursion deeper than"):
        ms.jit(f_rec)(T([1.]), 0)


def test_ambiguous_condition():
    def f(x):
        if x > 0:
            return x
        return -x
    with pytest.raises(ValueError, match="ambiguous"):
        ms.jit(f)(T([1., 2.]))


def test_bad_mode_and_signature():
    with pytest.raises(ValueError, match="mode"):
        ms.jit(lambda x: x, mode="nope")
    with pytest.raises(NotImplementedError, match="PIJit"):
        ms.jit(lambda x: x, mode="PIJit")
    with pytest.raises(TypeError, match="input_signature"):
        ms.jit(lambda x: x, input_signature=(3,))


def test_cells_with_custom_bprop_or_hooks_are_refused_in_graphs():
    from dynastat import nn

    class B(nn.Cell):
        def construct(self, x):
            return x * 2

        def bprop(self, x, out, dout):
            return (dout * 100,)

    b = B()

    @ms.jit
    def f(x):
        return b(x)

    with pytest.raises(ms.JitSyntaxError, match="custom bprop.*eager"):
        f(T([1.]))
    d = nn.Dense(1, 1)
    h = d.register_forward_hook(lambda cell, inp, out: out * 2)

    @ms.jit
    def g(x):
        return d(x)

    with pytest.raises(ms.JitSyntaxError, match="hooks"):
        g(T([[1.]]))
    h.remove()
    g(T([[1.]]))


def test_bprop_getters_overrides_are_not_silently_ignored_in_graph_gradients():
    from dynastat.ops._grad.grad_base import bprop_getters

    @bprop_getters.register(ops.Sin)
    def get_bprop_sin(self):
        def bprop(x, out, dout):
            return (dout * 0,)
        return bprop

    try:
        @ms.jit
        def f(x):
            return ms.grad(lambda v: ops.sin(v).sum())(x)

        with pytest.raises(NotImplementedError, match="sin.*bprop_getters"):
            f(T([1.]))
    finally:
        del bprop_getters["sin"]
