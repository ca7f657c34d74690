"""@jit: the same function run eagerly and compiled gives the same values and gradients, over programs
covering the STRICT syntax (containers, control flow, calls, builtins, indexing)."""
import functools

import numpy as np
import pytest

import dynastat as ms
from dynastat import nn, ops, Tensor
from jit_testutil import same as _same, parity as _parity


def T(a, dtype=np.float32):
    return Tensor(np.asarray(a, dtype=dtype))


same = functools.partial(_same, rtol=1e-6, atol=1e-6)
parity = functools.partial(_parity, rtol=1e-6, atol=1e-6)


# ------------------------------------------------------------------------------------------- basics
SCALE = 3.0


def f_arith(x, y):
    z = x * y + ops.exp(x) - 2
    z = z / (y + 10.0) ** 2 - SCALE
    return -z, abs(z), z // 1.0, z % 2.0


def test_arithmetic():
    parity(f_arith, T([1., 2., 3.]), T([4., -5., 6.]))


def f_cmp(x, y):
    return (x < y), (x >= 2.0), (x == y) | (x > y), ~(x < y), ops.logical_and(x > 0, y > 0)


def test_comparisons_and_bitwise():
    parity(f_cmp, T([1., 2., 3.]), T([3., 2., 1.]), grad=False)


def f_int_bitwise(a, b):
    return a & b, a | b, a ^ b, ~a, a // 3, a % 3, -a


def test_int_ops():
    parity(f_int_bitwise, T([5, 6, 7], np.int64), T([3, 3, 1], np.int64), grad=False)


def f_containers(x, y):
    t = (x, y, 3)
    lst = [x, y]
    lst.append(x + y)
    d = {"a": x, "b": y}
    d["c"] = x * 2
    n = len(lst) + len(t) + len(d)
    s = 0.0
    for v in lst:
        s = s + v
    keys = [k for k in d]
    return s * n, t[1], lst[-1], lst[1:], d["c"], "b" in d, keys, tuple(d.values())[0]


def test_containers():
    parity(f_containers, T([1., 2.]), T([3., 4.]))


def f_tensor_index(x):
    a = x[0]
    b = x[:, 1:]
    c = x[..., ::2]
    d = x[None, 1]
    e = x[1, -1]
    return a, b, c, d, e


def test_tensor_indexing():
    parity(f_tensor_index, T(np.arange(12.).reshape(3, 4)))


def f_index_assign(x):
    y = x * 1.0
    y[0] = 5.0
    y[1, 1:3] = x[2, :2]
    return y


def test_tensor_index_assignment():
    # (eager mode refuses to differentiate in-place writes, so only values are compared)
    parity(f_index_assign, T(np.arange(12.).reshape(3, 4)), grad=False)


# ------------------------------------------------------------------------------------------- control flow
def f_if_const(x, flag):
    if flag:
        y = x + 1
    else:
        y = x - 1
    return y


def test_if_on_python_value_compiles_one_branch():
    parity(f_if_const, T([1., 2.]), True)
    parity(f_if_const, T([1., 2.]), False)


def f_if_tensor(x, y):
    if x.sum() > y.sum():
        z = x * 2
        w = 1.0
    else:
        z = y * 3
        w = 2.0
    return z + w


def test_if_on_tensor():
    parity(f_if_tensor, T([1., 2.]), T([0., 1.]))
    parity(f_if_tensor, T([1., 2.]), T([5., 1.]))


def f_elif(x):
    s = x.sum()
    if s > 10:
        r = x * 10
    elif s > 5:
        r = x * 5
    else:
        r = x
    return r


def test_elif_chain():
    for v in ([1., 1.], [3., 3.], [6., 6.]):
        parity(f_elif, T(v))


def f_early_return(x):
    if x.sum() > 0:
        return x * 2
    y = x - 1
    return y * y


def test_early_return_on_tensor_condition():
    parity(f_early_return, T([1., 2.]))
    parity(f_early_return, T([-1., -2.]))


def f_ternary(x):
    return x * 2 if x.max() > 2 else -x


def test_ternary():
    parity(f_ternary, T([1., 3.]))
    parity(f_ternary, T([1., 1.]))


def f_while_tensor(x):
    i = 0
    while x.sum() < 100:
        x = x * 2
        i = i + 1
    return x, i


def test_while_on_tensor():
    x = T([1., 2.])
    ex, ei = f_while_tensor(x)
    cx, ci = ms.jit(f_while_tensor)(x)
    same(ex, cx)
    # a Python number carried through a tensor-dependent loop becomes a 0-d tensor (docs/jit.md)
    assert isinstance(ci, Tensor) and ci.dtype == ms.int64 and int(ci.asnumpy()) == ei == 6
    ge = ms.grad(lambda v: f_while_tensor(v)[0].sum())(x)
    gc = ms.grad(lambda v: ms.jit(f_while_tensor)(v)[0].sum())(x)
    same(ge, gc)


def f_for_range(x, n):
    acc = x
    for i in range(n):
        if i % 2 == 0:
            continue
        if i > 6:
            break
        acc = acc * 1.5 + i
    return acc


def test_for_range_break_continue():
    parity(f_for_range, T([1., 2.]), 10)


def f_for_tensor(x):
    out = []
    for row in x:
        out.append(row.sum())
    return ops.stack(out), [r * 2 for r in x]


def test_for_over_tensor_rows():
    parity(f_for_tensor, T(np.arange(6.).reshape(3, 2)))


def f_for_tensor_range(x, n):
    for i in range(n):
        x = x + i
    return x


def test_for_over_tensor_bounded_range_is_a_graph_loop():
    n = Tensor(np.array(4, np.int64))
    got = ms.jit(f_for_tensor_range)(T([1., 2.]), n)
    np.testing.assert_allclose(got.asnumpy(), [7., 8.])


def f_enumerate_zip(xs, ys):
    total = 0.0
    for i, (a, b) in enumerate(zip(xs, ys)):
        total = total + a * b * (i + 1)
    return total


def test_enumerate_zip():
    parity(f_enumerate_zip, (T([1.]), T([2.])), (T([3.]), T([4.])), grad=False)


# ------------------------------------------------------------------------------------------- calls
def helper(a, b=2.0, *rest, scale=1.0, **kw):
    s = a * b * scale
    for r in rest:
        s = s + r
    for k in kw:
        s = s + kw[k]
    return s


def f_calls(x):
    def inner(v):
        return v + x

    sq = lambda v: v * v  # noqa: E731
    p = functools.partial(helper, b=3.0)
    return helper(x), helper(x, 1.0, x, x, scale=2.0, extra=x), inner(x), sq(x), p(x), \
        [sq(v) for v in (x, x + 1)], {k: v for k, v in (("a", x),)}


def test_calls_closures_lambdas_partial_varargs():
    parity(f_calls, T([1., 2.]))


def fact(n):
    return 1 if n <= 1 else n * fact(n - 1)


def f_recursion(x):
    return x * fact(5)


def test_recursion_resolved_at_compile_time():
    parity(f_recursion, T([1., 2.]))


def f_builtins(x, xs):
    return (len(xs), min(3, 4), max(x[0], x[1]), max(x), sum(xs), abs(-x), round(x), all([1, 2]),
            any([0, 1]), isinstance(x, Tensor), tuple(range(3)), list(xs)[0], getattr(x, "shape"),
            hasattr(x, "nope"), int(3.7), float("2.5"), bool(0))


def test_builtins():
    parity(f_builtins, T([1.5, 2.5]), (T([1.]), T([2.])), grad=False)


def test_int_float_bool_of_a_tensor_are_0d_tensors_in_a_graph():
    """A graph cannot produce Python numbers from tensor values: int/float/bool of a tensor give 0-d
    tensors of int64/float32/bool with the value Python would compute (docs/jit.md)."""
    @ms.jit
    def f(x):
        return int(x[0]), float(x[1]), bool(x[0]), int(x[2])

    i, fl, b, neg = f(T([1.7, 2.5, -1.7]))
    assert i.dtype == ms.int64 and int(i.asnumpy()) == int(1.7)
    assert fl.dtype == ms.float32 and float(fl.asnumpy()) == 2.5
    assert b.dtype == ms.bool_ and bool(b.asnumpy()) is True
    assert int(neg.asnumpy()) == int(-1.7)


class Sub(nn.Cell):
    def __init__(self):
        super().__init__()
        self.dense = nn.Dense(3, 2, weight_init="ones", bias_init="zeros")
        self.scale = 2.0

    def construct(self, x):
        y = self.dense(x)
        if y.sum() > 0:
            y = ops.relu(y) * self.scale
        return y


class Net(nn.Cell):
    def __init__(self):
        super().__init__()
        self.sub = Sub()
        self.act = nn.Tanh()

    def construct(self, x):
        return self.act(self.sub(x)) + x.sum()


def test_cells_in_graph_mode_match_eager():
    net = Net()
    x = T(np.arange(6.).reshape(2, 3) / 10)
    eager = net(x)
    try:
        ms.set_context(mode=ms.GRAPH_MODE)
        got = net(x)
        got2 = net(x)
    finally:
        ms.set_context(mode=ms.PYNATIVE_MODE)
    same(eager, got)
    same(eager, got2)


def test_jit_method_and_weight_gradients():
    class M(nn.Cell):
        def __init__(self):
            super().__init__()
            self.w = ms.Parameter(T([[1., 2.], [3., 4.]]), name="w")

        @ms.jit
        def construct(self, x):
            return ops.matmul(x, self.w).sum()

    m = M()
    x = T([[1., 1.]])
    g = ms.grad(m, None, m.trainable_params())(x)
    np.testing.assert_allclose(g[0].asnumpy(), [[1., 1.], [1., 1.]])
    gx = ms.grad(m)(x)
    np.testing.assert_allclose(gx.asnumpy(), [[3., 7.]])


def test_print_runs_in_program_order(capsys):
    @ms.jit
    def f(x):
        print("first")
        y = x + 1
        print("y:", y)
        return y * 2

    f(T([1., 2.]))
    f(T([1., 2.]))
    out = capsys.readouterr().out
    assert out == "first\ny: [2. 3.]\nfirst\ny: [2. 3.]\n"


def test_raise_and_assert_with_constant_messages():
    @ms.jit
    def f(x, n):
        assert n > 0, "n must be positive"
        if n > 5:
            raise ValueError("n too large")
        return x * n

    same(f(T([1.]), 2), T([2.]))
    with pytest.raises(AssertionError, match="n must be positive"):
        f(T([1.]), 0)
    with pytest.raises(ValueError, match="n too large"):
        f(T([1.]), 6)


def test_jit_function_called_from_library_code_inside_a_graph():
    @ms.jit
    def double(v):
        return v * 2

    # functools.reduce (library code) runs directly during the compilation and calls the lambda and
    # the jit function
    @ms.jit
    def outer(x):
        return ops.relu(functools.reduce(lambda a, f: f(a), [double, double], x))

    np.testing.assert_allclose(outer(T([1., -1.])).asnumpy(), [4., 0.])
