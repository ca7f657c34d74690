"""Parity of @jit with eager execution: every program here runs eagerly and compiled (first call, then a
cached call, then other inputs through the same compiled function), and the values and the gradients
(ms.grad of a scalar loss over every float output) must agree. The programs cover tensor-dependent
control flow (nested, inside unrolled and graph loops), loops over containers, calls (helpers, Cells,
closures, lambdas, partials, varargs), containers, indexing, dtype promotion, nn layers, gradients
inside and of compiled functions; the last test generates random programs with hypothesis."""
import collections
import functools
import importlib.util

import numpy as np
import pytest

import dynastat as ms
from dynastat import nn, ops, Tensor
from jit_testutil import same, zero, graph_ops, parity


def T(a, dtype=np.float32):
    return Tensor(np.asarray(a, dtype=dtype))


def R(*shape, seed=0, dtype=np.float32):
    return Tensor(np.random.default_rng(seed).standard_normal(shape).astype(dtype))


# =========================================================================================== nested ifs
def p_if_in_if(x, y):
    if x.sum() > 0:
        if y.sum() > 0:
            z = x * y
        else:
            z = x - y
        z = z + 1
    else:
        if y.mean() < -1:
            z = -x
        else:
            z = x * 3
    return z * 2


def test_if_inside_if():
    parity(p_if_in_if, T([1., 2.]), T([1., 1.]), expect={"If": 3},
           others=[(T([1., 2.]), T([-1., -1.])), (T([-1., -2.]), T([-3., -3.])), (T([-1., -2.]), T([0., 1.]))])


def p_if_in_unrolled_for(x):
    acc = x
    for k in range(4):
        if acc.sum() > 10:
            acc = acc * 0.5
        else:
            acc = acc + k
    return acc


def test_if_inside_unrolled_for():
    parity(p_if_in_unrolled_for, T([1., 2.]), expect={"If": 4}, others=[(T([8., 9.]),), (T([-5., 0.]),)])


def p_if_in_while(x):
    n = zero(x, ms.float32)
    while n < 6:
        if x.sum() > 0:
            x = x - 1.5
        else:
            x = x + 2.0
        n = n + 1
    return x, n


def test_if_inside_tensor_while_body():
    parity(p_if_in_while, T([1., 2.]), expect={"If": 1, "While": 1}, others=[(T([-4., -2.]),)])


def p_if_in_if_in_while(x):
    i = zero(x, ms.int32)
    while i < 5:
        if i % 2 == 0:
            if x.max() > 3:
                x = x / 2
            else:
                x = x * x
        else:
            x = x + 1
        i = i + 1
    return x


def test_nested_if_inside_tensor_while():
    parity(p_if_in_if_in_while, T([1.1, 1.2]), expect={"If": 2, "While": 1}, others=[(T([0.5, 5.]),)])


def p_elif(x):
    s = x.sum()
    if s > 10:
        r = x * 10
    elif s > 5:
        r = x * 5
    elif s > 0:
        r = x + 1
    elif s > -5:
        r = -x
    else:
        r = x * 0.0
    return r


def test_elif_chain_of_five():
    parity(p_elif, T([6., 6.]), expect={"If": 4},
           others=[(T([3., 3.]),), (T([1., 1.]),), (T([-1., -1.]),), (T([-9., -9.]),)])


def p_elif_mixed(x, mode):
    if mode == "double":
        y = x * 2
    elif x.sum() > 0:
        y = x + 1
    elif mode == "neg":
        y = -x
    else:
        y = x
    return y


def test_elif_mixing_python_and_tensor_conditions():
    for mode in ("double", "neg", "other"):
        parity(p_elif_mixed, T([1., 2.]), mode, others=[(T([-1., -2.]), mode)])


def p_nested_returns(x, y):
    if x.sum() > 0:
        if y.sum() > 0:
            return x + y, 1
        z = x * y
        if z.sum() < -5:
            return z, 2
        return z + 1, 3
    elif y.sum() > 0:
        return y * 2, 4
    return x - y, 5


def test_early_returns_in_nested_ifs():
    # the Python ints returned on tensor-dependent paths become int64 0-d tensors (docs/jit.md)
    f = ms.jit(p_nested_returns)
    cases = [(T([1., 2.]), T([1., 1.])), (T([1., 2.]), T([-4., -4.])), (T([1., 2.]), T([-1., -1.])),
             (T([-1., -2.]), T([3., 3.])), (T([-1., -2.]), T([-3., -3.]))]
    for x, y in cases:
        ev, ek = p_nested_returns(x, y)
        cv, ck = f(x, y)
        same(ev, cv)
        assert isinstance(ck, Tensor) and ck.dtype == ms.int64 and ck.shape == () and int(ck.asnumpy()) == ek
        ge = ms.grad(lambda a, b: p_nested_returns(a, b)[0].sum(), (0, 1))(x, y)
        gc = ms.grad(lambda a, b: f(a, b)[0].sum(), (0, 1))(x, y)
        same(ge, gc)


def p_return_then_code(x):
    y = x * 2
    if y.sum() > 4:
        y = y - 1
        if y.max() > 5:
            return y
        y = y * 3
    y = y + 10
    return y


def test_code_after_nested_early_return():
    parity(p_return_then_code, T([1., 1.]), expect={"If": 2}, others=[(T([2., 2.]),), (T([1., 4.]),)])


def p_ternary_nested(x):
    a = x * 2 if x.sum() > 0 else (x - 1 if x.max() > -2 else x * 0.5)
    b = (a, a + 1) if a.mean() > 1 else (a - 1, a)
    return b


def test_nested_conditional_expressions():
    parity(p_ternary_nested, T([1., 2.]), expect={"If": 3}, others=[(T([-1., -0.5]),), (T([-5., -4.]),)])


def p_bool_ops_conditions(x, y):
    if x.sum() > 0 and not y.sum() > 0:
        r = x - y
    elif x.sum() > 0 or y.max() > 3:
        r = x + y
    else:
        r = x * y
    if 0 < x.mean() < 2:
        r = r * 10
    return r


def test_and_or_not_and_chained_comparisons_on_tensors():
    parity(p_bool_ops_conditions, T([1., 2.]), T([-1., -2.]),
           others=[(T([1., 0.5]), T([1., 1.])), (T([-1., -2.]), T([4., 1.])), (T([-1., -2.]), T([1., 1.]))])


def p_branch_number_becomes_tensor(x):
    if x.sum() > 0:
        k = 2
        scale = 0.5
    else:
        k = 3
        scale = 1.5
    return x * scale, k, scale


def test_python_numbers_through_a_tensor_if_become_0d_tensors():
    f = ms.jit(p_branch_number_becomes_tensor)
    for x in (T([1., 2.]), T([-1., -2.])):
        ey, ek, es = p_branch_number_becomes_tensor(x)
        cy, ck, cs = f(x)
        same(ey, cy)
        assert ck.dtype == ms.int64 and ck.shape == () and int(ck.asnumpy()) == ek
        assert cs.dtype == ms.float32 and cs.shape == () and float(cs.asnumpy()) == es


def p_int_float_branch_merge(x):
    if x.sum() > 0:
        s = 1
    else:
        s = 2.5
    return x * s


def test_int_and_float_on_two_paths_merge_to_float():
    parity(p_int_float_branch_merge, T([1., 2.]), others=[(T([-1., -2.]),)])


def p_branch_containers(x):
    d = {"a": x, "b": [x, x]}
    if x.sum() > 0:
        d["a"] = d["a"] * 2
        d["b"][1] = x + 1
    else:
        d["b"][0] = -x
    return d


def test_containers_assigned_in_tensor_branches():
    parity(p_branch_containers, T([1., 2.]), others=[(T([-1., -2.]),)])


def p_defs_and_loops_inside_tensor_if(x):
    if x.sum() > 0:
        def g(v):
            return v * 2  # a return inside a def: not a return of the if
        y = g(x)
        for i in range(3):
            if i == 1:
                break  # a break of the loop inside the branch, not of an outer loop
            y = y + i
    else:
        y = x - 1
    return y


def test_defs_and_loops_with_return_or_break_inside_a_tensor_if():
    parity(p_defs_and_loops_inside_tensor_if, T([1., 2.]), expect={"If": 1}, others=[(T([-1., -2.]),)])


def p_capture_lifting(x, y):
    i = zero(x, ms.int32)
    while i < 3:
        if x.sum() > ops.cast(i, ms.float32):
            j = zero(x, ms.int32)
            while j < 2:
                x = x + y * 0.5  # y is captured through the While, the If and the inner While
                j = j + 1
        else:
            x = x - y
        i = i + 1
    return x


def test_outer_tensors_read_inside_nested_graph_loops_and_branches():
    parity(p_capture_lifting, T([1., 2.]), T([0.3, 0.1]), expect={"While": 2, "If": 1},
           others=[(T([-5., 1.]), T([1., 1.]))])


# =========================================================================================== loops
def p_while_many_vars(x, y):
    i = zero(x, ms.int64)
    a = x
    b = y
    total = ops.zeros((), ms.float32)
    while i < 4:
        a, b = b, a + b
        total = total + a.sum()
        i = i + 1
    return a, b, total, i


def test_while_carrying_several_variables():
    parity(p_while_many_vars, T([1., 0.]), T([0., 1.]), expect={"While": 1})


def p_while_tuple(x):
    state = (x, x * 0.0, zero(x, ms.int32))
    while state[2] < 3:
        a, b, k = state
        state = (a * 2, b + a, k + 1)
    return state


def test_while_carrying_a_tuple():
    parity(p_while_tuple, T([1., 2.]), expect={"While": 1})


def p_while_list(x):
    hist = [x, x + 1, x + 2]
    while hist[0].sum() < 50:
        hist = [h * 2 for h in hist]
        hist[2] = hist[2] - 1
    return hist


def test_while_carrying_a_list():
    parity(p_while_list, T([1., 2.]), expect={"While": 1}, others=[(T([30., 30.]),)])


def p_while_dict(x):
    st = {"v": x, "n": zero(x, ms.float32)}
    while st["n"] < 3:
        st = {"v": ops.sin(st["v"]) + st["v"], "n": st["n"] + 1}
    return st


def test_while_carrying_a_dict():
    parity(p_while_dict, T([0.3, -0.7]), expect={"While": 1})


def p_while_python_counter(x):
    i = 0
    while x.sum() < 20 and i < 10:
        x = x + 3
        i += 1
    return x


def test_while_with_python_counter_and_tensor_condition():
    parity(p_while_python_counter, T([1., 2.]), expect={"While": 1}, others=[(T([30., 1.]),)])


def p_while_zero_trips(x):
    k = ops.ones((), ms.float32)
    while x.sum() > 100:
        x = x / 2
        k = k * 2
    return x * k


def test_tensor_while_that_runs_zero_times():
    parity(p_while_zero_trips, T([1., 2.]), expect={"While": 1}, others=[(T([300., 200.]),)])


def p_nested_whiles(x):
    i = zero(x, ms.int32)
    acc = x * 0.0
    while i < 3:
        j = zero(x, ms.int32)
        while j < i + 1:
            acc = acc + x * ops.cast(j + 1, ms.float32)
            j = j + 1
        i = i + 1
    return acc


def test_tensor_while_inside_tensor_while():
    parity(p_nested_whiles, T([1., 2.]), expect={"While": 2})


def p_while_in_for(x):
    outs = []
    for k in range(3):
        y = x + k
        while y.sum() < 10:
            y = y * 2
        outs.append(y)
    return outs


def test_tensor_while_inside_unrolled_for():
    parity(p_while_in_for, T([0.5, 1.]), expect={"While": 3})


def p_for_tensor_range(x, n):
    acc = x
    s = ops.zeros((), ms.float32)
    for i in range(n):
        acc = acc * 1.1 + ops.cast(i, ms.float32)
        s = s + acc.sum()
    return acc, s


def test_for_over_range_with_tensor_bound():
    x = T([1., 2.])
    f = ms.jit(p_for_tensor_range)
    for n in (0, 1, 4):
        nt = Tensor(np.array(n, np.int64))
        same(p_for_tensor_range(x, n), f(x, nt))
        ge = ms.grad(lambda v: sum(o.sum() for o in p_for_tensor_range(v, n)))(x)
        gc = ms.grad(lambda v: sum(o.sum() for o in f(v, nt)))(x)
        same(ge, gc, 1e-5, 1e-5)


def p_for_range_start_stop_step(x, a, b):
    for i in range(a, b, 2):
        x = x + ops.cast(i, ms.float32)
    for j in range(b, a, -3):
        x = x * 0.5 + ops.cast(j, ms.float32)
    return x


def test_for_over_range_with_tensor_start_stop_and_steps():
    x = T([1., 2.])
    f = ms.jit(p_for_range_start_stop_step)
    for a, b in ((1, 8), (3, 3), (0, 11)):
        at, bt = Tensor(np.array(a, np.int64)), Tensor(np.array(b, np.int64))
        same(p_for_range_start_stop_step(x, a, b), f(x, at, bt))


def p_for_range_len_of_tensor(x):
    acc = x[0] * 0.0
    for i in range(len(x)):
        acc = acc + x[i] * (i + 1)
    return acc


def test_for_over_range_of_len():
    parity(p_for_range_len_of_tensor, R(4, 3))


def p_for_containers(xs, d):
    total = xs[0] * 0.0
    for v in xs:
        total = total + v
    for t in tuple(xs):
        total = total * 0.5 + t
    for k in d:
        total = total + d[k]
    for k, v in d.items():
        if k.startswith("a"):
            total = total - v
    for v in d.values():
        total = total + v * 0.1
    for i, (a, b) in enumerate(zip(xs, list(d.values()))):
        total = total + a * b * (i + 1)
    for i, v in enumerate(xs, start=10):
        total = total + i
    return total


def test_for_over_lists_tuples_dicts_zip_enumerate():
    xs = [T([1., 2.]), T([3., 4.]), T([5., 6.])]
    d = {"alpha": T([0.5, 0.5]), "beta": T([2., 1.])}
    eager = p_for_containers(xs, d)
    f = ms.jit(p_for_containers)
    same(eager, f(xs, d))
    same(eager, f(xs, d))
    same(p_for_containers(list(reversed(xs)), d), f(list(reversed(xs)), d))


def p_for_over_tensor_rows(x):
    rows = []
    for i, r in enumerate(x):
        rows.append(r * i)
    a, b, c = x
    return ops.stack(rows), a + b + c


def test_for_over_tensor_rows_and_unpacking_a_tensor():
    parity(p_for_over_tensor_rows, R(3, 2))


def p_break_continue(x, n):
    acc = x
    for i in range(n):
        if i == 1:
            continue
        for j in range(3):
            if j > i:
                break
            acc = acc + i * j
        if i >= 4:
            break
        acc = acc * 1.1
    else:
        acc = acc - 100
    k = 0
    while True:
        k += 1
        if k % 2:
            continue
        acc = acc + k
        if k > 5:
            break
    return acc


def test_break_continue_else_with_compile_time_conditions():
    parity(p_break_continue, T([1., 2.]), 3)
    parity(p_break_continue, T([1., 2.]), 8)


def p_unrolled_nested_loops_with_tensor_ifs(x):
    out = x
    for i in range(2):
        for j in range(2):
            if (out * (i + j)).sum() > 3:
                out = out - j
            else:
                out = out + i
    return out


def test_nested_unrolled_loops_with_tensor_ifs():
    parity(p_unrolled_nested_loops_with_tensor_ifs, T([0.5, 0.5]), expect={"If": 3},
           others=[(T([3., 3.]),), (T([-3., 1.]),)])


def p_loop_number_becomes_tensor(x):
    count = 0
    total = 0.0
    while x.sum() < 10:
        x = x + 1
        count = count + 1
        total = total + 0.5
    return x, count, total


def test_python_numbers_carried_by_a_tensor_loop_become_0d_tensors():
    f = ms.jit(p_loop_number_becomes_tensor)
    x = T([1., 2.])
    ex, ec, et = p_loop_number_becomes_tensor(x)
    cx, cc, ct = f(x)
    same(ex, cx)
    assert cc.dtype == ms.int64 and cc.shape == () and int(cc.asnumpy()) == ec == 4
    assert ct.dtype == ms.float32 and float(ct.asnumpy()) == et == 2.0


def p_while_index_assign(x):
    y = x * 1.0
    i = zero(x, ms.int64)
    while i < 3:
        y[i] = y[i] * 2 + 1  # y changes in place: the loop carries it
        i = i + 1
    return y


def test_index_assignment_inside_a_tensor_while():
    parity(p_while_index_assign, R(3, 2), grad=False, expect={"While": 1})


def p_while_container_items(x):
    d = {"a": x, "b": x * 2}
    lst = [x, x * 3]
    i = zero(x, ms.int32)
    while i < 3:
        d["a"] = d["a"] + d["b"]
        lst[1] += lst[0]
        i = i + 1
    return d, lst


def test_container_items_updated_inside_a_tensor_while():
    parity(p_while_container_items, T([1., 2.]), expect={"While": 1})


def p_while_append(x):
    acc = [x]
    i = zero(x, ms.int32)
    while i < 3:
        acc.append(x)
        i = i + 1
    return acc


def p_while_int_to_float(x):
    s = 0
    while x.sum() < 10:
        x = x * 2
        s = s + 0.5
    return x, s


def test_a_graph_loop_refuses_values_that_change_kind():
    """A list growing in a loop on a tensor, or a variable changing dtype, cannot be a graph loop: a
    clear error instead of a silently different result (docs/jit.md: a loop variable keeps its dtype)."""
    with pytest.raises(TypeError, match="changes the kind of 'acc'"):
        ms.jit(p_while_append)(T([1.]))
    with pytest.raises(TypeError, match="changes the type of 's'"):
        ms.jit(p_while_int_to_float)(T([1., 2.]))


class Accumulator(nn.Cell):
    def __init__(self):
        super().__init__()
        self.total = ms.Parameter(T([0., 0.]), name="total", requires_grad=False)

    def construct(self, x):
        i = zero(x, ms.int32)
        while i < 3:
            self.total = self.total + x  # a Parameter written in a graph loop's body
            i = i + 1
        if x.sum() > 0:
            self.total = self.total * 2
        return self.total * 1.0


def test_parameter_assigned_inside_a_tensor_while_and_if():
    ne, nc = Accumulator(), Accumulator()
    f = ms.jit(nc.construct)
    assert graph_ops(nc.construct, T([1., 2.])) == {"If": 1, "While": 1}
    for x in (T([1., 2.]), T([-3., 1.]), T([1., 1.])):
        same(ne(x), f(x))
        same(ne.total, nc.total)


def p_print_in_control_flow(x):
    if x.sum() > 0:
        print("pos", x)
    else:
        print("neg")
    i = zero(x, ms.int32)
    while i < 2:
        print("it", i)
        i = i + 1
    return x


def test_print_inside_branches_and_graph_loops(capsys):
    f = ms.jit(p_print_in_control_flow)
    f(T([1., 2.]))
    f(T([-1., -2.]))
    assert capsys.readouterr().out == "pos [1. 2.]\nit 0\nit 1\nneg\nit 0\nit 1\n"


# ---------------------------------------------------------------- return inside unrolled loops
def p_return_in_for(x):
    for i in range(4):
        if x[i] > 0:
            return x * i
        x = x - 0.5
    return x * 100


def test_return_inside_a_tensor_if_inside_an_unrolled_for():
    parity(p_return_in_for, T([-1., -2., 3., 0.5]), expect={"If": 4},
           others=[(T([1., 0., 0., 0.]),), (T([-9., -9., -9., -9.]),), (T([-1., 2., 0., 0.]),)])


def p_return_break_continue(x):
    acc = x * 0
    for i in range(5):
        acc = acc + x
        if i == 1:
            continue
        if (acc * i).sum() > 6:
            return acc, i
        if i == 3:
            break
        acc = acc * 2
    else:
        acc = acc - 1000
    return acc * -1, -1


def test_return_inside_a_loop_with_break_and_continue():
    f = ms.jit(p_return_break_continue)
    for x in (T([1., 1.]), T([0.1, 0.1]), T([5., 0.]), T([-1., -1.])):
        ev, ei = p_return_break_continue(x)
        cv, ci = f(x)
        same(ev, cv)
        assert ci.dtype == ms.int64 and int(ci.asnumpy()) == ei  # a Python int returned by a branch
        same(ms.grad(lambda v: p_return_break_continue(v)[0].sum())(x), ms.grad(lambda v: f(v)[0].sum())(x))


def p_return_for_else(x):
    for i in range(3):
        if x.sum() > i * 10:
            x = x + 1
        else:
            return x
    else:
        x = x * 7
    return x - 1


def test_return_inside_a_for_with_else():
    parity(p_return_for_else, T([100., 1.]), others=[(T([5., 1.]),), (T([15., 1.]),)])


def p_return_nested_loops(x):
    for i in range(2):
        for j in range(3):
            if (x * (i + 1) + j).sum() > 10:
                return x + i * 10 + j
        x = x * 2
    return -x


def test_return_inside_nested_unrolled_loops():
    # six nested If nodes (each one's rest of the loops is compiled into its else branch)
    parity(p_return_nested_loops, T([1., 1.]), expect={"If": 6},
           others=[(T([4., 4.]),), (T([-5., 0.]),), (T([2., 1.]),)])


def p_return_in_python_while(x):
    k = 0
    while k < 4:
        k += 1
        if k == 2:
            continue
        if x.max() > k:
            return x * k
    return x


def test_return_inside_a_python_while():
    parity(p_return_in_python_while, T([0.5, 2.5]), others=[(T([0., 0.]),), (T([9., 0.]),), (T([1.5, 0.]),)])


def p_return_then_graph_loop(x):
    for _ in range(2):
        if x.sum() > 100:
            return x
        n = zero(x, ms.int32)
        while n < 2:
            x = x * 2
            n = n + 1
    return x + 1


def test_return_in_an_unrolled_loop_followed_by_a_graph_loop():
    parity(p_return_then_graph_loop, T([1., 1.]), others=[(T([200., 1.]),), (T([30., 1.]),)])


def p_return_in_graph_loop(x):
    n = zero(x, ms.int32)
    while n < 2:
        if x.sum() > 0:
            return x
        n = n + 1
    return x


def test_return_inside_a_graph_loop_is_refused_with_a_hint():
    with pytest.raises(ms.JitSyntaxError, match="return inside a loop whose condition is a tensor"):
        ms.jit(p_return_in_graph_loop)(T([1.]))


# =========================================================================================== calls
def h_leaf(a, b):
    return a * b + 1


def h_mid(a, b, k=2):
    r = h_leaf(a, b)
    for _ in range(k):
        r = h_leaf(r, a)
    return r


def h_top(a, b):
    if a.sum() > b.sum():
        return h_mid(a, b)
    return h_mid(b, a, k=1)


def p_helpers(x, y):
    return h_top(x, y), h_mid(x, y, 0)


def test_helpers_calling_helpers():
    parity(p_helpers, T([0.5, 0.2]), T([0.1, 0.1]), others=[(T([0.1, 0.1]), T([0.5, 0.2]))])


def power(x, n):
    if n == 0:
        return x * 0.0 + 1.0
    if n % 2 == 0:
        h = power(x, n // 2)
        return h * h
    return x * power(x, n - 1)


def p_recursion(x):
    return power(x, 5), power(x, 6)


def test_recursion_with_compile_time_depth():
    parity(p_recursion, T([1.1, 0.9]))


def p_varargs(x, y):
    def g(*args, scale=1.0, **kw):
        total = args[0]
        for a in args[1:]:
            total = total + a
        for k in sorted(kw):
            total = total * kw[k]
        return total * scale

    def fwd(*a, **k):
        return g(*a, **k)

    def kwonly(a, *, b=2.0, c):
        return a * b + c

    parts = (x, y)
    opts = {"scale": 2.0, "m": y}
    return (g(x), g(x, y, x, scale=3.0), fwd(*parts, **opts), kwonly(x, c=y), kwonly(x, b=y, c=1.0),
            g(*[x, y], **{"z": x}))


def test_args_kwargs_defaults_and_keyword_only():
    parity(p_varargs, T([1., 2.]), T([3., 4.]))


def p_closures(x, y):
    w = y * 2

    def inner(v):
        return v * w + x

    def make_adder(c):
        def add(v):
            return v + c
        return add

    add_y = make_adder(y)
    add3 = make_adder(3.0)
    return inner(x), add_y(x), add3(add_y(y))


def test_closures_capturing_tensors():
    parity(p_closures, T([1., 2.]), T([0.5, -1.]))


GLOBAL_T = T([10., 20.])


def make_outer_closure():
    c = T([1., -1.])
    k = 3.0

    def f(x):
        return x * c + GLOBAL_T * k
    return f


def test_real_closure_and_global_tensor_constants():
    parity(make_outer_closure(), T([1., 2.]))


def p_lambdas_partial(x, y):
    sq = lambda v: v * v  # noqa: E731
    lin = lambda v, a=2.0, b=0.0: v * a + b  # noqa: E731
    mul = functools.partial(h_leaf, b=y)
    scale = functools.partial(lin, a=3.0)
    pairs = sorted([(3, x), (1, y), (2, x + y)], key=lambda p: p[0])
    fs = [lambda v: v + 1, lambda v: v * 2]
    out = x
    for g in fs:
        out = g(out)
    return sq(x), lin(x, b=1.0), mul(x), scale(y), [p[1] for p in pairs], list(map(sq, (x, y))), out, \
        functools.reduce(lambda a, b: a * b, [x, y, x])


def test_lambdas_partial_map_reduce_sorted_key():
    parity(p_lambdas_partial, T([1., 2.]), T([0.5, 3.]))


def p_comprehensions(x, y):
    xs = [x * i for i in range(4) if i % 2 == 1]
    nested = [a * b for a in (x, y) for b in (1.0, 2.0) if b > 1]
    d = {f"k{i}": x + i for i in range(3) if i != 1}
    keys = {k[0] for k in d}
    sizes = {len(v.shape) for v in (x, y)}
    total = sum(v.sum() for v in xs)
    mat = [[x[i] * j for j in range(2)] for i in range(2)]
    return xs, nested, d, sorted(keys), sizes == {1}, total, mat


def test_list_dict_set_comprehensions_with_conditions():
    parity(p_comprehensions, T([1., 2.]), T([3., 4.]))


def p_unpacking(x):
    a, b = x[0], x[1]
    (c, d), e = (a, b), a + b
    first, *mid, last = [a, b, c, d, e]
    *init, tail = (x, x * 2, x * 3)
    h, *rest = x
    a, b = b, a
    return a - b, first, mid, last, init, tail, h, rest


def test_tuple_unpacking_including_starred():
    parity(p_unpacking, R(3, 2))


def p_nested_containers(x, y):
    out = {"pair": (x, [y, {"deep": x * y, "n": 3}]), "list": [x + 1, (y - 1,)], "s": "text", "none": None}
    out["pair"][1].append(x)
    return out, [out["pair"][1][1]["deep"]], ((x,),)


def test_nested_containers_returned():
    parity(p_nested_containers, T([1., 2.]), T([3., 4.]))


def p_container_methods(x, y):
    lst = [x, y]
    lst.extend([x * 2])
    lst.insert(0, y * 3)
    last = lst.pop()
    lst.reverse()
    d = {"a": x}
    d.update(b=y)
    got = d.get("c", x * 10)
    popped = d.pop("a")
    d.setdefault("e", y)
    t = (x, y, x + y)
    return lst, last, got, popped, d, t[::-1], t[1:], len(t), list(d.keys())


def test_list_dict_tuple_methods():
    parity(p_container_methods, T([1., 2.]), T([3., 4.]))


def p_inputs_as_containers(pair, d, lst):
    a, b = pair
    return a * d["w"] + b, [v * 2 for v in lst], {k: v.sum() for k, v in d.items()}


def test_containers_of_tensors_as_inputs():
    pair = (T([1., 2.]), T([3., 4.]))
    d = {"w": T([0.5, 0.5]), "v": T([1., 1.])}
    lst = [T([1.]), T([2., 3.])]
    eager = p_inputs_as_containers(pair, d, lst)
    f = ms.jit(p_inputs_as_containers)
    same(eager, f(pair, d, lst))
    same(eager, f(pair, d, lst))


class Scaler:
    """A plain Python object (not a Cell): its methods are interpreted, its attributes are constants."""

    def __init__(self, k):
        self.k = k

    def scale(self, x):
        return x * self.k

    @staticmethod
    def shift(x):
        return x + 1

    @classmethod
    def unshift(cls, x):
        return x - 1


SCALER = Scaler(3.0)


def p_methods(x):
    local = Scaler(2.0)
    return SCALER.scale(x), Scaler.shift(x), Scaler.unshift(x), local.scale(x), SCALER.shift(x)


def test_methods_staticmethods_classmethods_of_plain_objects():
    parity(p_methods, T([1., 2.]))


Pair = collections.namedtuple("Pair", "a b")


def p_namedtuples(p, x):
    q = Pair(x, p.b * 2)
    if x.sum() > 0:
        q = Pair(q.a + 1, q.b)
    i = zero(x, ms.int32)
    while i < 2:
        q = q._replace(a=q.a * 2)
        i = i + 1
    return q, {"p": p, "const": Pair(1, "s")}, p.a + p[1]


def test_namedtuples_as_inputs_outputs_and_loop_values():
    parity(p_namedtuples, Pair(T([1.]), T([2.])), T([3.]), others=[(Pair(T([1.]), T([2.])), T([-3.])), ])
    # a plain tuple with the same tensors is another cache entry (the output keeps its type)
    f = ms.jit(lambda p: (p, p[0] * 2))
    assert type(f(Pair(T([1.]), T([2.])))[0]) is Pair
    assert type(f((T([1.]), T([2.])))[0]) is tuple


# =========================================================================================== cells
class Scale(nn.Cell):
    def __init__(self, k):
        super().__init__()
        self.k = k
        self.w = ms.Parameter(T([1.5, -0.5]), name="w")

    def construct(self, x):
        return x * self.w * self.k


class Block(nn.Cell):
    def __init__(self):
        super().__init__()
        self.s1 = Scale(2.0)
        self.s2 = Scale(0.5)
        self.dense = nn.Dense(2, 2, weight_init="ones", bias_init="zeros")
        self.layers = nn.CellList([Scale(1.0), Scale(3.0)])

    def helper(self, x):
        y = self.s1(x)
        if y.sum() > 0:
            y = self.s2(y)
        return y

    def twice(self, x):
        return self.helper(self.helper(x))

    def construct(self, x):
        y = self.twice(x)
        for layer in self.layers:
            y = layer(y) + 1
        return self.dense(y)


def test_cell_methods_calling_other_cells():
    net = Block()
    x = T([[0.5, 1.0], [-1., 2.]])
    eager = net(x)
    f = ms.jit(net.construct)
    same(eager, f(x))
    same(eager, f(x))
    same(net(-x), f(-x))
    ws = net.trainable_params()
    ge = ms.grad(lambda v: net(v).sum(), 0, ws)(x)
    gc = ms.grad(lambda v: f(v).sum(), 0, ws)(x)
    same(ge, gc)


def test_graph_mode_cell_with_sub_cells_values_and_weight_grads():
    net = Block()
    x = T([[0.5, 1.0], [-1., 2.]])
    ws = net.trainable_params()
    eager = net(x)
    ge = ms.grad(net, 0, ws)(x)
    ms.set_context(mode=ms.GRAPH_MODE)
    try:
        got = net(x)
        got2 = net(x)
        gc = ms.grad(net, 0, ws)(x)
    finally:
        ms.set_context(mode=ms.PYNATIVE_MODE)
    same(eager, got)
    same(eager, got2)
    same(ge, gc)


class Seq(nn.Cell):
    def __init__(self):
        super().__init__()
        ms.set_seed(11)
        self.net = nn.SequentialCell([nn.Dense(4, 8), nn.ReLU(), nn.Dense(8, 3)])
        self.softmax = nn.Softmax(axis=-1)
        self.norm = nn.LayerNorm((3,))

    def construct(self, x):
        return self.softmax(self.norm(self.net(x)))


def test_sequential_relu_softmax_layernorm_in_graph_mode():
    net = Seq()
    x = R(5, 4, seed=2)
    ws = net.trainable_params()
    eager = net(x)
    ge = ms.grad(lambda v: (net(v) * T(np.arange(15.).reshape(5, 3))).sum(), 0, ws)(x)
    f = ms.jit(lambda v: net(v))
    same(eager, f(x))
    gc = ms.grad(lambda v: (f(v) * T(np.arange(15.).reshape(5, 3))).sum(), 0, ws)(x)
    same(ge, gc, 1e-4, 1e-5)


class Flexible(nn.Cell):
    def __init__(self):
        super().__init__()
        self.a = 2
        self.d = nn.Dense(2, 2, weight_init="ones", bias_init="zeros")

    def construct(self, x, *extra, scale=1.0, **kw):
        y = self.d(x) * getattr(self, "a", 5) * getattr(self, "missing", 3)
        if hasattr(self, "d") and isinstance(self.d, nn.Dense):
            y = y + 1
        for e in extra:
            y = y + e
        for k in sorted(kw):
            y = y * kw[k]
        return y * scale


FLEX = Flexible()


def p_cell_varargs(x, y):
    return FLEX(x, y, y, scale=3.0, q=2.0), FLEX(x)


def test_cell_called_with_varargs_kwargs_getattr_hasattr_isinstance():
    parity(p_cell_varargs, R(3, 2), R(3, 2, seed=1))


SHARED_DENSE = nn.Dense(2, 2, weight_init="normal")


def p_cell_in_control_flow(x):
    if x.sum() > 0:
        y = SHARED_DENSE(x)
    else:
        y = SHARED_DENSE(x * 2) + 1
    i = zero(x, ms.int32)
    while i < 2:
        y = ops.tanh(SHARED_DENSE(y))
        i = i + 1
    return y


def test_cell_called_in_branches_and_graph_loop_weight_gradients():
    parity(p_cell_in_control_flow, R(3, 2), expect={"If": 1, "While": 1}, others=[(R(3, 2) - 10,)])
    f = ms.jit(p_cell_in_control_flow)
    ws = SHARED_DENSE.trainable_params()
    for x in (R(3, 2), R(3, 2) - 10):
        same(ms.grad(lambda v: p_cell_in_control_flow(v).sum(), 0, ws)(x),
             ms.grad(lambda v: f(v).sum(), 0, ws)(x), 1e-5, 1e-5)


class JitInner(nn.Cell):
    def __init__(self):
        super().__init__()
        self.d = nn.Dense(2, 2, weight_init="ones", bias_init="zeros")

    @ms.jit
    def construct(self, x):
        if x.sum() > 0:
            return self.d(x)
        return x


class JitOuter(nn.Cell):
    def __init__(self):
        super().__init__()
        self.inner = JitInner()
        self.inner2 = JitInner()

    def construct(self, x):
        return self.inner(x) + self.inner2(x * -2)


def test_graph_mode_cell_whose_sub_cells_have_jit_constructs():
    net = JitOuter()
    x = T([[1., 2.]])
    ws = net.trainable_params()
    eager, ge = net(x), ms.grad(net, 0, ws)(x)
    ms.set_context(mode=ms.GRAPH_MODE)
    try:
        got, gc = net(x), ms.grad(net, 0, ws)(x)
    finally:
        ms.set_context(mode=ms.PYNATIVE_MODE)
    same(eager, got)
    same(ge, gc)


# =========================================================================================== indexing
def p_index_basic(x):
    return (x[0], x[-1], x[1:3], x[:, -2:], x[..., 1], x[None, 0, ::2], x[1, None], x[::-1], x[::2],
            x[-2:, ..., :1], x[:, None, :, None].shape, x[0][1], x[(1, 2)])


def test_indexing_int_slice_negative_ellipsis_none():
    parity(p_index_basic, R(4, 3))


def p_index_tensor_int(x, idx):
    return x[idx], x[:, idx[:2]], x[idx, 1], ops.gather(x, idx, 0)


def test_indexing_with_integer_tensors():
    parity(p_index_tensor_int, R(4, 4), T([3, 0, 2], np.int64))


def p_index_bool_mask_where(x):
    m = x > 0
    y = ops.where(m, x, x * 0.1)
    z = ops.masked_fill(x, x < -1, 5.0)
    return y, z, (x * m).sum()


def test_boolean_masks_via_where_and_masked_fill():
    parity(p_index_bool_mask_where, R(3, 4, seed=1))


def p_index_assign(x, v):
    y = x * 1.0
    y[0] = v
    y[1, 1:] = 7.0
    y[-1, ::2] = x[0, ::2] * 2
    y[..., 0] = -1.0
    z = x + 0
    z[Tensor(np.array([2, 0], np.int64))] = 3.0
    return y, z


def test_index_assignment():
    parity(p_index_assign, R(3, 4), R(4, seed=5), grad=False)


def p_index_assign_in_branch(x):
    y = x * 1.0
    if x.sum() > 0:
        y[0] = 0.0
    else:
        y[1] = x[0]
    return y


def test_index_assignment_inside_tensor_if():
    parity(p_index_assign_in_branch, T([[1., 2.], [3., 4.]]), others=[(T([[-1., -2.], [-3., -4.]]),), ],
           grad=False)


def p_index_assign_in_loop(x):
    y = x * 0.0
    for i in range(3):
        y[i] = x[i] * (i + 1)
    return y


def test_index_assignment_in_unrolled_loop():
    parity(p_index_assign_in_loop, R(3, 2), grad=False)


def p_bool_mask_getitem(x):
    pos = x[x > 0]
    rows = x[x[:, 0] > 0]
    return pos * 2, rows.sum(axis=0), pos.sum() + rows.sum()


def test_boolean_mask_indexing_data_dependent_shapes():
    parity(p_bool_mask_getitem, R(4, 3, seed=2), others=[(R(4, 3, seed=3),)])


def p_nd_masks(x, i):
    m = x[..., 0] > 0
    return x[m], x[:, x[0] > 0], x[m, 0], x[m, i], x[None, m], x[x > 0], x[m][:, None]


def test_boolean_masks_of_several_dims_combined_with_other_indices():
    parity(p_nd_masks, R(3, 4, 2, seed=1), T([1], np.int64), others=[(R(3, 4, 2, seed=6), T([0], np.int64))])


def p_bool_mask_assign(x):
    y = x * 1.0
    y[x > 0.5] = 0.5
    y[x[:, 0] > 0] = x[0]  # a row for every selected row
    y[y < -1] = -1.0
    return y


def test_boolean_mask_assignment():
    parity(p_bool_mask_assign, R(4, 3, seed=4), grad=False, others=[(R(4, 3, seed=5),)])


def p_bool_mask_assign_counted(x):
    y = x * 1.0
    y[x > 0] = x[x > 0] * 2
    return y


def test_boolean_mask_assignment_of_a_value_sized_by_the_selection_is_refused():
    """In a graph the number of selected elements is known only at run time: the value must not depend
    on it (a scalar, or one selected item); eagerly this works."""
    x = T([1., -1., 2.])
    same(p_bool_mask_assign_counted(x), T([2., -1., 4.]))
    with pytest.raises(ValueError, match="through a boolean mask in a graph"):
        ms.jit(p_bool_mask_assign_counted)(x)


def p_index_assign_more(x, v):
    y = x + 0
    y[-1] = 0.0
    y[:, -1] = 1.0
    y[1:] = v
    y[0, :] = v[0]
    y[[0, 2], 1] = 9.0
    y[Tensor(np.array([1])), :] = -1.0
    return y


def test_index_assignment_negative_broadcast_and_lists():
    parity(p_index_assign_more, R(3, 2), T([5., 6.]), grad=False)


def p_slice_by_tensor(x, n):
    return x[:n]


def test_slicing_with_a_tensor_bound_is_refused():
    """A slice bound must be a Python int in a graph (the result's shape would depend on a value)."""
    x, n = T([1., 2., 3.]), Tensor(np.array(2, np.int64))
    same(p_slice_by_tensor(x, n), T([1., 2.]))
    with pytest.raises(ms.JitSyntaxError, match="tensor's value at compile time"):
        ms.jit(p_slice_by_tensor)(x, n)


def p_write_through_alias(x):
    pair = [x, x * 2]
    x[0] = 10.0
    return x, pair[0]


def test_index_assignment_gives_a_copy_in_a_graph():
    """docs/jit.md: in a graph `y[0] = v` gives y an updated copy. Eagerly the write goes into the tensor
    itself (so the caller's tensor and other references to it change); compiled, only the variable
    sees the new value."""
    x = T([1., 2.])
    cx, calias = ms.jit(p_write_through_alias)(x)
    same(cx, T([10., 2.]))
    same(calias, T([1., 2.]))
    same(x, T([1., 2.]))  # the caller's tensor is unchanged
    ex, ealias = p_write_through_alias(x)
    same(ex, T([10., 2.]))
    same(ealias, T([10., 2.]))
    same(x, T([10., 2.]))


# =========================================================================================== arithmetic
def p_promotion(xi, xf, xb):
    return (xi + 1, xi * 2.5, xi / 2, xi // 2, xf + xi, xb + 1, xb * 1.5, xf * True, 2 ** xi, xi ** 2,
            xf.astype(ms.float64) + 1.0, (xf > 0) & xb, -xi, abs(xi - 5))


def test_scalar_tensor_mixed_arithmetic_and_dtype_promotion():
    parity(p_promotion, T([1, 2, 3], np.int32), T([0.5, -1.5, 2.]), T([True, False, True], np.bool_))


def p_float64(x, y):
    return x * y + 1, (x @ y.reshape(3, 1)), ops.exp(x).sum()


def test_float64_programs():
    parity(p_float64, R(3, dtype=np.float64), R(3, seed=1, dtype=np.float64))


def p_reductions(x):
    return (x.sum(), x.sum(axis=0), x.sum(axis=(0, 2), keepdims=True), x.mean(axis=-1), x.max(axis=1),
            x.min(), ops.prod(x, 1), x.argmax(axis=2), ops.amax(x, (1, 2)), x.std(),
            ops.all(x > -10), ops.any(x > 100))


def test_reductions():
    parity(p_reductions, R(2, 3, 4, seed=3))


def p_matmul_broadcast(a, b, c, v):
    return (a @ b, ops.matmul(a, b).T, ops.bmm(c, c.transpose(0, 2, 1)), a + v, a * v.reshape(3, 1)[:2],
            ops.matmul(c, b), a.reshape(2, 3, 1) + v, (a[:, None, :] - a[None, :, :]).sum(-1))


def test_matmul_and_broadcasting():
    parity(p_matmul_broadcast, R(2, 3), R(3, 4, seed=1), R(2, 4, 3, seed=2), R(3, seed=3))


def p_unary_math(x):
    y = ops.abs(x) + 0.5
    return (ops.exp(x), ops.log(y), ops.sqrt(y), ops.tanh(x), ops.sigmoid(x), ops.sin(x) * ops.cos(x), y ** 1.5,
            ops.relu(x), ops.maximum(x, 0.2), ops.clamp(x, -0.5, 0.5), ops.softmax(x, -1), 1 / y)


def test_elementwise_math():
    parity(p_unary_math, R(3, 4, seed=4))


def p_shapes(x):
    return (x.reshape(4, 3), x.transpose(1, 0), ops.expand_dims(x, 0), x.reshape(1, 3, 4).squeeze(0),
            ops.concat((x, x * 2), 1), ops.stack([x, x], 0), ops.split(x, 2, 1), ops.tile(x, (2, 1)),
            ops.flatten(x.reshape(3, 2, 2)), ops.broadcast_to(x[0], (2, 4)), x.shape, x.ndim, x.size)


def test_shape_ops():
    parity(p_shapes, R(3, 4, seed=6))


def p_builtins_on_tensors(x, y):
    return (max(x[0], x[1]), min(x), sum([x, y, x]), abs(x - y), max(x.sum(), y.sum()), min(3, 5),
            int(x[0]), float(y[1]), bool(x[0]))


def test_builtins_on_tensors_give_0d_tensors_where_eager_gives_numbers():
    x, y = T([1.5, -2.5]), T([3., 4.])
    f = ms.jit(p_builtins_on_tensors)
    e = p_builtins_on_tensors(x, y)
    c = f(x, y)
    same(e[:6], c[:6])
    # int()/float()/bool() of a tensor give 0-d int64/float32/bool tensors in a graph (docs/jit.md)
    assert c[6].dtype == ms.int64 and int(c[6].asnumpy()) == e[6]
    assert c[7].dtype == ms.float32 and float(c[7].asnumpy()) == e[7]
    assert c[8].dtype == ms.bool_ and bool(c[8].asnumpy()) == e[8]


def p_special_outputs(x, y):
    return x, x, y * 1, ops.ones((3,), ms.float32), 5, None, "s"


def test_inputs_returned_twice_constants_and_python_values_as_outputs():
    parity(p_special_outputs, T([1., 2.]), T([3.]))


WEIGHT = ms.Parameter(T([1., 2.]), name="weight_param")


def p_returns_a_parameter(x):
    return WEIGHT, x * WEIGHT


def test_a_parameter_returned_and_used():
    parity(p_returns_a_parameter, T([3., 4.]))


def p_empty_and_0d(e, a, b):
    if a > b:
        z = a - b
    else:
        z = b - a
    return e.sum(), e * 2, e.reshape(0, 3), z * a, a + 1


def test_empty_and_0d_tensors():
    e = Tensor(np.zeros((0, 3), np.float32))
    parity(p_empty_and_0d, e, T(2.), T(3.), others=[(e, T(5.), T(1.))])


def p_float16(x):
    return x * 2 + 1, (x * x).sum(), x.astype(ms.float32) / 3


def test_float16_program():
    parity(p_float16, Tensor(np.array([1., 2.5], np.float16)), grad=False)


def p_augmented(x, y):
    x += 1  # rebinds the name: neither eager nor compiled code changes the caller's tensor
    x *= y
    z = x
    z -= 2
    return x, z


def test_augmented_assignment_rebinds_and_does_not_change_the_caller_tensor():
    x = T([1., 2.])
    parity(p_augmented, x, T([3., 4.]))
    same(x, T([1., 2.]))


# =========================================================================================== nn layers
def test_dense_conv_relu_inside_a_jit_function():
    ms.set_seed(1)
    dense = nn.Dense(12, 5)
    conv = nn.Conv2d(2, 3, 3, pad_mode="same", has_bias=True)
    relu = nn.ReLU()

    def fwd(x):
        y = relu(conv(x))
        y = y.reshape(y.shape[0], -1)[:, :12]
        return dense(y)

    x = R(2, 2, 4, 4, seed=7)
    ws = list(dense.trainable_params()) + list(conv.trainable_params())
    eager = fwd(x)
    f = ms.jit(fwd)
    same(eager, f(x), 1e-4, 1e-5)
    same(eager, f(x), 1e-4, 1e-5)
    ge = ms.grad(lambda v: fwd(v).sum(), 0, ws)(x)
    gc = ms.grad(lambda v: f(v).sum(), 0, ws)(x)
    same(ge, gc, 1e-4, 1e-4)


def _bn_net():
    ms.set_seed(2)
    return nn.SequentialCell([nn.Conv2d(2, 3, 3, pad_mode="valid"), nn.BatchNorm2d(3, momentum=0.8), nn.ReLU()])


@pytest.mark.parametrize("training", [True, False])
def test_batchnorm2d_train_and_eval_mode_inside_jit(training):
    ne, nc = _bn_net(), _bn_net()
    ne.set_train(training)
    nc.set_train(training)
    f = ms.jit(lambda v: nc(v))
    for step in range(3):
        x = R(4, 2, 5, 5, seed=step)
        same(ne(x), f(x), 1e-4, 1e-5)
        bn_e, bn_c = ne[1], nc[1]
        # in training mode the moving statistics are updated in place by the graph, as eagerly
        same(bn_e.moving_mean, bn_c.moving_mean, 1e-5, 1e-6)
        same(bn_e.moving_variance, bn_c.moving_variance, 1e-5, 1e-6)
    x = R(4, 2, 5, 5, seed=9)
    ws_e, ws_c = ne.trainable_params(), nc.trainable_params()
    ge = ms.grad(lambda v: (ne(v) ** 2).sum(), 0, ws_e)(x)
    gc = ms.grad(lambda v: (f(v) ** 2).sum(), 0, ws_c)(x)
    same(ge, gc, 1e-4, 1e-4)


def test_batchnorm_switching_mode_recompiles():
    ne, nc = _bn_net(), _bn_net()
    f = ms.jit(lambda v: nc(v))
    x = R(2, 2, 4, 4, seed=3)
    for training in (True, False, True):
        ne.set_train(training)
        nc.set_train(training)
        same(ne(x), f(x), 1e-4, 1e-5)


# =========================================================================================== gradients
def p_grad_inside(x, y):
    def loss(a, b):
        return (a * a * b).sum()
    gx = ms.grad(loss)(x, y)
    gxy = ms.grad(loss, (0, 1))(x, y)
    v, g = ms.value_and_grad(loss, 1)(x, y)
    return gx, gxy, v, g


def test_grad_and_value_and_grad_inside_a_jit_function():
    parity(p_grad_inside, T([1., 2.]), T([3., -1.]))


def p_grad_inside_with_control_flow(x):
    def loss(a):
        if a.sum() > 0:
            b = a * a
        else:
            b = -a * 3
        i = zero(a, ms.int32)
        while i < 2:
            b = b * a
            i = i + 1
        return b.sum()
    return ms.grad(loss)(x)


def test_grad_inside_jit_through_if_and_while():
    parity(p_grad_inside_with_control_flow, T([1., 2.]), expect={"If": 1, "While": 1}, others=[(T([-1., -2.]),)])


def test_value_and_grad_with_weights_inside_jit():
    ms.set_seed(5)
    net = nn.Dense(3, 2)
    ws = net.trainable_params()

    def loss(x):
        return (net(x) ** 2).mean()

    vg = ms.value_and_grad(loss, None, ws)

    def step(x):
        v, g = vg(x)
        return v, g

    x = R(4, 3)
    same(step(x), ms.jit(step)(x), 1e-5, 1e-6)


def test_grad_operation_of_a_jit_function():
    @ms.jit
    def f(x, y):
        if x.sum() > y.sum():
            return x * y
        return x + y * y

    def g(x, y):
        if x.sum() > y.sum():
            return x * y
        return x + y * y

    for x, y in ((T([1., 2.]), T([0.5, 0.5])), (T([0., 1.]), T([3., 4.]))):
        same(ms.ops.GradOperation()(g)(x, y), ms.ops.GradOperation()(f)(x, y))
        same(ms.ops.GradOperation(get_all=True)(g)(x, y), ms.ops.GradOperation(get_all=True)(f)(x, y))
        sens = T([2., -1.])
        same(ms.ops.GradOperation(get_all=True, sens_param=True)(g)(x, y, sens),
             ms.ops.GradOperation(get_all=True, sens_param=True)(f)(x, y, sens))


def test_grad_operation_get_by_list_of_a_jit_cell():
    net = Block()
    ws = net.trainable_params()
    x = T([[0.5, 1.0], [-1., 2.]])
    ge = ms.ops.GradOperation(get_all=True, get_by_list=True)(net, ws)(x)
    ms.set_context(mode=ms.GRAPH_MODE)
    try:
        gc = ms.ops.GradOperation(get_all=True, get_by_list=True)(net, ws)(x)
    finally:
        ms.set_context(mode=ms.PYNATIVE_MODE)
    same(ge, gc)


def p_second_order(x):
    return (ops.sin(x) * x * x).sum()


def test_second_order_grad_through_a_jit_function():
    f = ms.jit(p_second_order)
    x = T([0.3, -1.2, 2.])
    same(ms.grad(ms.grad(p_second_order))(x), ms.grad(ms.grad(f))(x), 1e-5, 1e-5)
    same(ms.grad(ms.grad(ms.grad(p_second_order)))(x), ms.grad(ms.grad(ms.grad(f)))(x), 1e-4, 1e-4)


def p_second_order_cf(x):
    if x.sum() > 0:
        y = x ** 3
    else:
        y = ops.exp(x)
    return y.sum()


def test_second_order_grad_through_tensor_control_flow():
    f = ms.jit(p_second_order_cf)
    for x in (T([0.5, 1.5]), T([-0.5, -1.5])):
        same(ms.grad(ms.grad(p_second_order_cf))(x), ms.grad(ms.grad(f))(x), 1e-5, 1e-5)


def p_jit_grad_of_grad(x):
    g = ms.grad(lambda v: (v ** 3).sum())
    return ms.grad(lambda v: g(v).sum())(x)


def test_grad_of_grad_inside_a_jit_function():
    parity(p_jit_grad_of_grad, T([1., -2.]))


@ms.jit
def jit_inner(x, k):
    if x.sum() > 0:
        x = x * k
    return x + 1


@ms.jit
def jit_outer(x):
    y = jit_inner(x, 2.0)
    return jit_inner(y, 3.0) * jit_inner(-y, 0.5)


def p_outer_plain(x):
    y = jit_inner.__wrapped__(x, 2.0)
    return jit_inner.__wrapped__(y, 3.0) * jit_inner.__wrapped__(-y, 0.5)


def test_jit_function_calling_jit_function():
    for x in (T([1., 2.]), T([-3., 1.])):
        same(p_outer_plain(x), jit_outer(x))
        same(ms.grad(lambda v: p_outer_plain(v).sum())(x), ms.grad(lambda v: jit_outer(v).sum())(x))
        # the inner jit function called eagerly from the outside agrees too
        same(jit_inner.__wrapped__(x, 2.0), jit_inner(x, 2.0))


def test_train_step_with_grad_inside_jit_matches_eager_steps():
    def make():
        ms.set_seed(4)
        net = nn.SequentialCell([nn.Dense(3, 4), nn.Tanh(), nn.Dense(4, 1)])
        opt = nn.SGD(net.trainable_params(), learning_rate=0.1, momentum=0.9)
        fwd = lambda x, y: ((net(x) - y) ** 2).mean()  # noqa: E731
        vg = ms.value_and_grad(fwd, None, net.trainable_params())

        def step(x, y):
            loss, grads = vg(x, y)
            opt(grads)
            return loss
        return net, step

    ne, se = make()
    nc, sc = make()
    sc = ms.jit(sc)
    x, y = R(6, 3, seed=1), R(6, 1, seed=2)
    for _ in range(4):
        same(se(x, y), sc(x, y), 1e-5, 1e-6)
    for pe, pc in zip(ne.trainable_params(), nc.trainable_params()):
        same(pe, pc, 1e-5, 1e-6)


def p_grad_int_position(x, k):
    def fn(a, n):
        return (a * ops.cast(n, ms.float32)).sum()
    return ms.grad(fn, (0, 1))(x, k), ms.grad(fn, 1)(x, k)


def test_grad_inside_jit_with_respect_to_an_int_tensor_is_zero_as_eagerly():
    parity(p_grad_int_position, T([1., 2.]), T([3, 4], np.int32))


def p_grad_aux_and_sens(x, y):
    def fn(a, b):
        return (a * b).sum(), a + b, 3

    def two(a, b):
        return a * b, a + b
    (v, aux1, aux2), g = ms.value_and_grad(fn, (0, 1), has_aux=True)(x, y)
    g2, aux = ms.grad(fn, 0, has_aux=True)(x, y)
    gs = ms.ops.GradOperation(get_all=True, sens_param=True)(two)(x, y, (y, x))
    return v, aux1, g, g2, aux[0], gs


def test_has_aux_and_sensitivities_inside_jit():
    parity(p_grad_aux_and_sens, T([1., 2.]), T([3., 4.]))


def p_power_loop(x):
    i = zero(x, ms.int32)
    y = x
    while i < 2:
        y = y * x
        i = i + 1
    return y.sum()


def test_second_order_grad_through_a_graph_loop():
    f = ms.jit(p_power_loop)
    x = T([0.5, 1.5])
    same(ms.grad(ms.grad(p_power_loop))(x), ms.grad(ms.grad(f))(x), 1e-5, 1e-5)


def p_rowwise(x):
    if x.sum() > 0:
        return x.sum(axis=1)
    return x.mean(axis=1)


def test_input_signature_with_symbolic_dims_and_control_flow():
    f = ms.jit(p_rowwise, input_signature=(Tensor(shape=[None, 3], dtype=ms.float32),))
    for n in (2, 5):
        x = R(n, 3, seed=n)
        for v in (x, -x - 5):
            same(p_rowwise(v), f(v))
            same(ms.grad(lambda a: p_rowwise(a).sum())(v), ms.grad(lambda a: f(a).sum())(v))
    assert len(f.__ds_history__) == 1  # one graph serves both sizes



def _bn_train_step():
    ms.set_seed(3)
    net = nn.SequentialCell([nn.Conv2d(2, 3, 3, pad_mode="same"), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(),
                             nn.Dense(48, 2)])
    opt = nn.Momentum(net.trainable_params(), learning_rate=0.05, momentum=0.9)
    loss_fn = nn.MSELoss()
    vg = ms.value_and_grad(lambda x, y: loss_fn(net(x), y), None, opt.parameters)

    def step(x, y):
        loss, grads = vg(x, y)
        if loss > 0.5:  # tensor-dependent gradient scaling
            grads = tuple(g * 0.5 for g in grads)
        opt(grads)
        return loss
    return net, step


def test_train_step_with_batchnorm_conditional_scaling_and_momentum_inside_jit():
    ne, se = _bn_train_step()
    nc, sc = _bn_train_step()
    sc = ms.jit(sc)
    x, y = R(4, 2, 4, 4, seed=1), R(4, 2, seed=2)
    for _ in range(4):
        same(se(x, y), sc(x, y), 1e-5, 1e-6)
    for (n1, p1), (n2, p2) in zip(ne.parameters_and_names(), nc.parameters_and_names()):
        assert n1 == n2
        same(p1, p2, 1e-4, 1e-5)  # weights, momenta and the moving statistics


class MaskedAccumulator(nn.Cell):
    def __init__(self):
        super().__init__()
        self.total = ms.Parameter(T([0.]), name="total", requires_grad=False)

    def construct(self, x):
        pos = x[x > 0]  # a data-dependent shape: the loop runs through the executor's general path
        i = zero(x, ms.int32)
        while i < 3:
            self.total = self.total + pos.sum()
            pos = pos * 0.5
            i = i + 1
        return self.total * 1.0, pos


def test_parameter_assigned_in_a_graph_loop_over_data_dependent_shapes():
    ne, nc = MaskedAccumulator(), MaskedAccumulator()
    f = ms.jit(nc.construct)
    for x in (T([1., -2., 3.]), T([-1., 2., 0.5]), T([-1., -1., -1.])):
        same(ne(x), f(x))
        same(ne.total, nc.total)


def p_masks_symbolic(x):
    return x[:, x[0] > 0] * 2, x[x > 0]


def test_boolean_masks_with_symbolic_input_dims():
    f = ms.jit(p_masks_symbolic, input_signature=(Tensor(shape=[None, 4, 2], dtype=ms.float32),))
    for n in (1, 3):
        x = R(n, 4, 2, seed=n)
        same(p_masks_symbolic(x), f(x))
        same(ms.grad(lambda v: sum(o.sum() for o in p_masks_symbolic(v)))(x),
             ms.grad(lambda v: sum(o.sum() for o in f(v)))(x))
    assert len(f.__ds_history__) == 1

# =========================================================================================== random programs
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

_VARS = ("x", "y", "z")
_CONSTS = ("-1.0", "-0.5", "0.0", "0.5", "1.0", "2.0")
# elementwise expressions of two variables that keep values bounded through loops
_EXPRS = ("{a} + {b}", "{a} - {b} * 0.25", "{a} * 0.5 + {b} * 0.5", "ops.tanh({a} * {b})", "ops.sin({a}) + {b}",
          "ops.relu({a}) - 0.5 * {b}", "{a} * ops.sigmoid({b})", "ops.maximum({a}, {b})", "-{a} + {c}",
          "{a} * {c} + {b}", "ops.exp(-{a} * {a}) + {b}")


@st.composite
def _expr(draw, depth=0):
    a, b = draw(st.sampled_from(_VARS)), draw(st.sampled_from(_VARS))
    e = draw(st.sampled_from(_EXPRS)).format(a=a, b=b, c=draw(st.sampled_from(_CONSTS)))
    if depth < 1 and draw(st.integers(0, 4)) == 0:  # a conditional expression on a tensor
        other = draw(_expr(depth + 1))
        e = f"(({e}) if {a}.sum() > {draw(st.sampled_from(_CONSTS))} else ({other}))"
    return e


@st.composite
def _block(draw, depth, indent, ctx):
    """Statements at `indent`; ctx: {"loops": graph-loop nesting, "n": counter for fresh names,
    "for_vars": loop variables in scope}."""
    lines = []
    pad = "    " * indent
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(("if", "while", "for", "assign", "assign", "call") if depth < 2 else
                                    ("assign", "call")))
        if kind == "assign":
            v = draw(st.sampled_from(_VARS))
            e = draw(_expr())
            if ctx["for_vars"] and draw(st.booleans()):
                e = f"{e} + {draw(st.sampled_from(ctx['for_vars']))} * 0.1"
            lines.append(f"{pad}{v} = {e}")
        elif kind == "call":  # a helper with tensor-dependent early returns
            a, b, v = (draw(st.sampled_from(_VARS)) for _ in range(3))
            lines.append(f"{pad}{v} = helper({a}, {b})")
        elif kind == "if":
            a, c = draw(st.sampled_from(_VARS)), draw(st.sampled_from(_CONSTS))
            red = draw(st.sampled_from(("sum", "max", "mean")))
            lines.append(f"{pad}if {a}.{red}() > {c}:")
            lines += draw(_block(depth + 1, indent + 1, ctx))
            if draw(st.booleans()):
                lines.append(f"{pad}elif {draw(st.sampled_from(_VARS))}.sum() < {draw(st.sampled_from(_CONSTS))}:")
                lines += draw(_block(depth + 1, indent + 1, ctx))
            if draw(st.booleans()):
                lines.append(f"{pad}else:")
                lines += draw(_block(depth + 1, indent + 1, ctx))
        elif kind == "while":  # a graph loop with a bounded trip count, maybe also a tensor condition
            ctx["n"] += 1
            i = f"i{ctx['n']}"
            trips = draw(st.integers(0, 3))
            lines.append(f"{pad}{i} = zero(x, ms.int32)")
            extra = ""
            if draw(st.booleans()):
                extra = f" and {draw(st.sampled_from(_VARS))}.sum() < {draw(st.sampled_from(_CONSTS))} + 4.0"
            lines.append(f"{pad}while {i} < {trips}{extra}:")
            ctx["loops"] += 1
            lines += draw(_block(depth + 1, indent + 1, ctx))
            ctx["loops"] -= 1
            lines.append(f"{pad}    {i} = {i} + 1")
        else:  # an unrolled loop over a Python range
            ctx["n"] += 1
            k = f"k{ctx['n']}"
            lines.append(f"{pad}for {k} in range({draw(st.integers(1, 3))}):")
            ctx["for_vars"].append(k)
            lines += draw(_block(depth + 1, indent + 1, ctx))
            ctx["for_vars"].pop()
    if depth and not ctx["loops"] and draw(st.integers(0, 3)) == 0:  # an early return (not in a graph loop)
        lines.append(f"{pad}return {draw(_expr())}, y, z")
    return lines


@st.composite
def _program(draw):
    body = draw(_block(0, 1, {"loops": 0, "n": 0, "for_vars": []}))
    return "\n".join(["import dynastat as ms", "from dynastat import ops", "", "",
                      "def zero(x, dtype):", "    return ops.cast(x.sum() * 0, dtype)", "", "",
                      "def helper(a, b):", "    if a.sum() > 0.5:", "        return a * 0.5 + b * 0.25",
                      "    c = ops.tanh(a - b)", "    if c.max() > 0.2:", "        c = c * 2", "    return c", "", "",
                      "def prog(x, y):", "    z = x * 0.5 - y"] + body + ["    return x + y, y, z", ""])


_PROGRAMS = [0]


def _load(directory, source):
    _PROGRAMS[0] += 1
    name = f"jit_parity_prog_{_PROGRAMS[0]}"
    path = directory / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.prog


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(source=_program(), seed=st.integers(0, 5))
def test_random_programs_match_eager(tmp_path_factory, source, seed):
    prog = _load(tmp_path_factory.mktemp("progs", numbered=True), source)
    x, y = R(3, seed=seed), R(3, seed=seed + 100)
    try:
        parity(prog, x, y, rtol=1e-4, atol=1e-5)
    except AssertionError as e:
        raise AssertionError(f"{e}\n--- program ---\n{source}") from None


# ------------------------------------------------------------------ break/continue under tensor conditions
def bc_for_break(x):
    for i in range(5):
        if x.sum() > 20:
            break
        x = x * 2
    return x


def bc_for_continue(x):
    acc = x * 0
    for i in range(6):
        if x[i % 2] > 1.5:
            continue
        acc = acc + x * i
    return acc


def bc_graph_while_break(x):
    n = x.sum() * 0
    while n < 100:
        n = n + x.sum()
        if n > 37:
            break
        n = n + 1
    return n


def bc_python_counter_while(x):
    i = 0
    s = x * 0
    while i < 10:
        i += 1
        if x[0] * i > 4:
            continue
        s = s + i
        if s.sum() > 12:
            break
    return s


def bc_nested(x):
    total = x * 0
    for i in range(3):
        for j in range(4):
            if (x * j).sum() > 6:
                break
            if x[0] > j:
                continue
            total = total + x * (i + j)
        if total.sum() > 30:
            break
    return total


@pytest.mark.parametrize("fn", [bc_for_break, bc_for_continue, bc_graph_while_break, bc_python_counter_while,
                                bc_nested])
@pytest.mark.parametrize("data", [[1., 2.], [0.5, 3.], [10., 20.]])
def test_break_and_continue_under_tensor_conditions(fn, data):
    x = Tensor(np.asarray(data, np.float32))
    eager = fn(x)
    got = ms.jit(fn)(x)
    np.testing.assert_allclose(got.asnumpy(), eager.asnumpy(), rtol=1e-6)
    ge = ms.grad(lambda v: fn(v).sum())(x)
    gc = ms.grad(lambda v: ms.jit(fn)(v).sum())(x)
    np.testing.assert_allclose(gc.asnumpy(), ge.asnumpy(), rtol=1e-5)


def test_tensor_break_in_a_python_counter_loop_becomes_a_graph_loop():
    text = ms.jit.show_graph(bc_python_counter_while, Tensor(np.array([1., 2.], np.float32)))
    assert "While(" in text
    text = ms.jit.show_graph(bc_graph_while_break, Tensor(np.array([1., 2.], np.float32)))
    assert "While(" in text and "If(" in text
