"""Graph capture (dynastat._C.Trace): ordinary ops, Tensor methods, operators, indexing and nn layers
called on symbolic tensors build a graph; the graph, run through a Plan and through Graph.eval, gives the
eager results. Control flow through sub-trace groups with captures; gradients of traced graphs against
the eager ``dynastat.grad``; TraceError for reads of symbolic values."""
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dynastat as ds
from dynastat import Tensor, _C, nn, ops
from test_indexing import array_and_key, to_ds, to_np

HYP = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TraceError = _C.TraceError


def rng_array(shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def trace(fn, specs, name="f", binds=()):
    """Traces fn over parameters specs = [(name, dtype, shape)] then bound weights binds = [(name, Parameter)];
    returns the Graph."""
    t = _C.Trace(name)
    args = [t.param(n, dt, shape) for n, dt, shape in specs]
    for n, p in binds:
        t.param(n, p.dtype, p.shape, weight=True, bind=p)
    with t:
        out = fn(*args)
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    return t.finish(outs)


def run_all(g, inputs):
    """The graph's results through the interpreter and a plan (both as NumPy arrays)."""
    ev = [o.asnumpy() for o in g.eval(inputs)]
    pl = [o.asnumpy() for o in _C.Plan(g).run(inputs)]
    return ev, pl


def check_graph(g, inputs, expect, exact=True):
    ev, pl = run_all(g, inputs)
    assert len(ev) == len(expect) == len(pl)
    for e, p, x in zip(ev, pl, expect):
        x = x.asnumpy() if isinstance(x, _C.TensorBase) else np.asarray(x)
        assert e.shape == x.shape and e.dtype == x.dtype, (e.shape, x.shape, e.dtype, x.dtype)
        if exact:
            np.testing.assert_array_equal(e, x)
        else:
            np.testing.assert_allclose(e, x, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(p, x, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------------------------ basics
def mixed(x, y):
    a = ops.tanh(x @ y) * 2.0 + 1
    b = (a - a.mean(axis=0, keep_dims=True)) / (a.std() + 1e-3)
    c = ops.maximum(b, -b ** 2).transpose() if hasattr(ops, "maximum") else b.transpose()
    d = ops.concat([c, c * 0.5], axis=1).reshape(-1)
    e = ops.where(d > 0.1, d, ops.exp(d))
    return e.sum(), abs(-e).max(), (x > 0).astype(ds.int32).sum(axis=1), e[2:7:2]


def test_ops_methods_operators_match_eager():
    x, y = rng_array((3, 4), 1), rng_array((4, 5), 2)
    expect = mixed(Tensor(x), Tensor(y))
    g = trace(mixed, [("x", ds.float32, (3, 4)), ("y", ds.float32, (4, 5))])
    g.verify()
    assert g.num_params == 2 and g.num_outputs == 4
    check_graph(g, [Tensor(x), Tensor(y)], expect)
    # the graph is a standalone object: optimized, saved and loaded, it computes the same
    check_graph(g.optimize(), [Tensor(x), Tensor(y)], expect)
    assert _C.parse_graph(g.text()).num_outputs == 4
    assert g.dot().startswith("digraph")


def test_symbolic_dims_and_shapes(tmp_path):
    t = _C.Trace("batch")
    x = t.param("x", ds.float32, ("N", 4))
    assert _C.tensor_is_symbolic(x) and isinstance(x, Tensor)
    assert x.shape == (None, 4) and x.ndim == 2 and x.dtype == ds.float32
    with t:
        y = (x * x).sum(axis=1, keepdims=True) + x
        assert y.shape == (None, 4)
        z = y[:, 1:3] @ ops.ones((2, 3), ds.float32)
        assert z.shape == (None, 3)
    g = t.finish([z])
    assert g.param_info(0) == ("x", ds.float32, ("N", 4), False)
    assert g.output_info(0) == (ds.float32, ("N", 3))
    for n in (2, 5):
        a = rng_array((n, 4), n)
        ref = ((a * a).sum(axis=1, keepdims=True) + a)[:, 1:3] @ np.ones((2, 3), np.float32)
        ev, pl = run_all(g, [Tensor(a)])
        np.testing.assert_allclose(ev[0], ref, rtol=1e-5)
        np.testing.assert_allclose(pl[0], ref, rtol=1e-5)
    path = str(tmp_path / "g.dsg")
    g.save(path)
    g2 = _C.load_graph(path)
    assert g2.param_info(0) == g.param_info(0) and g2.num_outputs == 1


def test_python_scalars_become_constants():
    def f(x, i):
        return x + 1.0, 2 * x, x ** 2, 1.5 - x, x > 0.5, i + 1, i * 3 // 2, -x, 7 % (i + 5)
    x, i = rng_array((2, 3), 3), np.arange(6, dtype=np.int64).reshape(2, 3)
    expect = f(Tensor(x), Tensor(i))
    g = trace(f, [("x", ds.float32, (2, 3)), ("i", ds.int64, (2, 3))])
    text = g.text()
    assert "Const 1.0" in text and "Const 2.0" in text
    check_graph(g, [Tensor(x), Tensor(i)], expect)


def test_ops_without_symbolic_inputs_run_eagerly():
    t = _C.Trace("fold")
    x = t.param("x", ds.float32, (3,))
    c = Tensor(np.array([1, 2, 3], np.float32))
    with t:
        k = ops.exp(c) * 2  # concrete: computed now
        assert not _C.tensor_is_symbolic(k)
        np.testing.assert_allclose(k.asnumpy(), np.exp([1, 2, 3]) * 2, rtol=1e-6)
        y = x + k
        assert _C.tensor_is_symbolic(y) and t.is_symbolic(y) and not t.is_symbolic(k)
    g = t.finish([y])
    assert "exp" not in g.text()
    check_graph(g, [Tensor(np.ones(3, np.float32))], [1 + np.exp(np.array([1, 2, 3], np.float32)) * 2], exact=False)


def test_trace_context_restores_and_nests():
    assert not _C.trace_active()
    t = _C.Trace("outer")
    x = t.param("x", ds.float32, ())
    with t:
        assert _C.trace_active()
        u = _C.Trace("inner")
        with u:
            y = u.param("y", ds.float32, ())
            z = y * 2
        w = x + 1
    assert not _C.trace_active()
    assert t.is_symbolic(w) and not t.is_symbolic(z) and u.is_symbolic(z)
    assert u.lookup(y) == (ds.float32, (), 0)
    assert t.lookup(Tensor(1.0)) is None


# ------------------------------------------------------------------------------------------ nn layers
class Net(nn.Cell):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3, has_bias=True, pad_mode="same")
        self.relu = nn.ReLU()
        self.flat = nn.Flatten()
        self.fc = nn.Dense(3 * 4 * 4, 5)

    def construct(self, x):
        return self.fc(self.flat(self.relu(self.conv(x))))


def test_nn_layers_with_bound_parameters():
    ds.set_seed(3)
    net = Net()
    x = rng_array((2, 2, 4, 4), 4)
    expect = net(Tensor(x))
    params = list(net.get_parameters())
    g = trace(net, [("x", ds.float32, (2, 2, 4, 4))], "net", binds=[(p.name, p) for p in params])
    assert g.num_params == 1 + len(params)
    assert all(g.param_info(1 + i)[3] for i in range(len(params)))  # weights
    check_graph(g, [Tensor(x)] + params, [expect], exact=False)
    # new weights: the same graph reads them
    for p in params:
        p.set_data(Tensor(np.full(p.shape, 0.1, np.float32)))
    check_graph(g, [Tensor(x)] + params, [net(Tensor(x))], exact=False)


def test_unbound_parameters_become_constants():
    ds.set_seed(4)
    fc = nn.Dense(3, 2)
    x = rng_array((4, 3), 5)
    g = trace(fc, [("x", ds.float32, (4, 3))])
    assert g.num_params == 1 and "Const" in g.text()
    check_graph(g, [Tensor(x)], [fc(Tensor(x))], exact=False)


def test_random_ops_and_dropout_are_graph_effects():
    drop = nn.Dropout(p=0.5)
    drop.set_train(True)
    g = trace(lambda x: drop(x), [("x", ds.float32, (1000,))])
    assert "bernoulli" in g.text()
    x = Tensor(np.ones(1000, np.float32))
    plan = _C.Plan(g)
    a, b = plan.run([x])[0].asnumpy(), plan.run([x])[0].asnumpy()
    assert set(np.unique(a)) <= {0.0, 2.0} and 300 < (a == 0).sum() < 700
    assert not np.array_equal(a, b)  # drawn at every run, not once at compile time


# ------------------------------------------------------------------------------------------ indexing
@HYP
@given(array_and_key())
def test_getitem_on_symbolic_matches_numpy(ak):
    a, key = ak
    try:
        expect = a[to_np(key)]
    except IndexError:
        t = _C.Trace("ix")
        x = t.param("x", a.dtype, a.shape)
        with t, pytest.raises(IndexError):
            x[to_ds(key)]
        return
    g = trace(lambda x: x[to_ds(key)], [("x", a.dtype, a.shape)])
    ev, pl = run_all(g, [Tensor(a)])
    for r in (ev[0], pl[0]):
        assert r.shape == expect.shape and r.dtype == expect.dtype
        np.testing.assert_array_equal(r, expect)


@HYP
@given(array_and_key(), st.booleans())
def test_setitem_on_symbolic_matches_numpy(ak, scalar):
    a, key = ak
    expect = a.copy()
    try:
        view = expect[to_np(key)]
    except IndexError:
        return
    val = np.asarray(7, a.dtype) if scalar else (np.arange(view.size).reshape(view.shape) % 5 + 1).astype(a.dtype)
    expect[to_np(key)] = val

    def f(x, v):
        x[to_ds(key)] = v
        return x
    g = trace(f, [("x", a.dtype, a.shape), ("v", a.dtype, val.shape)])
    inp = Tensor(a)
    ev, pl = run_all(g, [inp, Tensor(val)])
    for r in (ev[0], pl[0]):
        np.testing.assert_array_equal(r, expect)
    np.testing.assert_array_equal(inp.asnumpy(), a)  # a functional update: the input is unchanged


def test_symbolic_indices():
    a = np.arange(20, dtype=np.float32).reshape(4, 5)

    def f(x, i, m):
        return x[i], x[1:, i], x[m], x[i, -1], x[::2][m[::2]]
    i = np.array([3, 0, 3], np.int64)
    m = np.array([True, False, True, True])
    g = trace(f, [("x", ds.float32, (4, 5)), ("i", ds.int64, (3,)), ("m", ds.bool_, (4,))])
    expect = [a[i], a[1:, i], a[m], a[i, -1], a[::2][m[::2]]]
    check_graph(g, [Tensor(a), Tensor(i), Tensor(m)], expect)
    # a 0-d symbolic integer index acts as an int
    g = trace(lambda x, k: (x[k], x[:, k]), [("x", ds.float32, (4, 5)), ("k", ds.int64, ())])
    check_graph(g, [Tensor(a), Tensor(np.int64(2))], [a[2], a[:, 2]])
    # x[i] = v with a symbolic index, and a concrete tensor updated by a symbolic value
    c = Tensor(np.zeros(5, np.float32))

    def h(x, i):
        x[i] = 1.0
        c[1:3] = x[0, :2]
        return x, c * 1
    g = trace(h, [("x", ds.float32, (4, 5)), ("i", ds.int64, (2,))])
    assert not c.asnumpy().any()  # the concrete tensor keeps its value; the graph reads the update
    x2 = a.copy()
    x2[[1, 3]] = 1
    c2 = np.zeros(5, np.float32)
    c2[1:3] = x2[0, :2]
    check_graph(g, [Tensor(a), Tensor(np.array([1, 3]))], [x2, c2])


def test_unknown_dims_indexing_and_iteration():
    t = _C.Trace("ix")
    x = t.param("x", ds.float32, (None, 3))
    with t:
        y = x[-1] + x[0, ::-1]
        assert y.shape == (3,)
        rows = [r * k for k, r in enumerate(x.T)]
        with pytest.raises(TraceError, match="first dim is unknown"):
            iter(x)
        x[1:, 0] = 5.0
    g = t.finish([y] + rows + [x])
    a = rng_array((4, 3), 6)
    b = a.copy()
    b[1:, 0] = 5
    check_graph(g, [Tensor(a)], [a[-1] + a[0, ::-1]] + [a.T[k] * k for k in range(3)] + [b])


# ------------------------------------------------------------------------------------------ control flow
def test_if_with_captures_two_levels():
    w = ds.Parameter(Tensor(np.array([0.5, -1.0, 2.0], np.float32)), name="w")
    t = _C.Trace("outer")
    x = t.param("x", ds.float32, (3,))
    t.param("w", ds.float32, (3,), weight=True, bind=w)
    with t:
        cond = x.sum() > 0
        then_t, else_t = t.group(2, names=["then", "else"])
        with then_t:
            y = x * 2
            # a loop inside the branch: i, acc = 0, 0; while i < 3: acc += x * w; i += 1
            cond_t, body_t = then_t.group(2, params=[("i", ds.int64, ()), ("acc", ds.float32, (3,))])
            with cond_t:
                i, _ = cond_t.params()
                cond_t.finish([i < 3])
            with body_t:
                i, acc = body_t.params()
                body_t.finish([i + 1, acc + x * w])
            assert body_t.captures()[0] is x and body_t.captures()[1] is w  # identity kept
            assert then_t.captures()[1] is w  # lifted through the branch
            i_end, acc_end = then_t.add_while(cond_t, body_t, [Tensor(np.int64(0)), Tensor(np.zeros(3, np.float32))])
            then_t.finish([acc_end + y, i_end])
        with else_t:
            else_t.finish([x - w, Tensor(np.int64(-1))])
        assert [c is x for c in else_t.captures()] == [True, False]
        r, n = t.add_if(cond, then_t, else_t)
    g = t.finish([r, n])
    g.verify()
    assert "While" in g.text() and "If" in g.text()
    # capture parameters are added to sub graphs after their nodes: printing, parsing and optimizing keep them
    g_text = _C.parse_graph(g.text())
    assert g_text.text() == g.text()
    for xv in ([1, 2, 3], [-1, -2, 0.5]):
        a = np.array(xv, np.float32)
        if a.sum() > 0:
            expect = [3 * a * w.asnumpy() + 2 * a, np.int64(3)]
        else:
            expect = [a - w.asnumpy(), np.int64(-1)]
        for h in (g, g_text, g.optimize()):
            check_graph(h, [Tensor(a), w], expect, exact=False)


@pytest.mark.parametrize("like_tensor", [False, True])
def test_while_carried_symbolic_dims(like_tensor):
    t = _C.Trace("loop")
    x = t.param("x", ds.float32, ("N",))
    with t:
        k0 = Tensor(np.int32(0))
        if like_tensor:  # the parameter types come from the values (the symbolic dim N is kept)
            c, b = t.group(2, params=[("k", k0), ("v", x)])
        else:
            c, b = t.group(2, params=[("k", ds.int32, ()), ("v", ds.float32, ("N",))])
        with c:
            k, v = c.params()
            c.finish([k < 4])
        with b:
            k, v = b.params()
            b.finish([k + 1, v * 2 + x])
        k, v = t.add_while(c, b, [k0, x])
        # a parameter declared with an unknown dim does not match the symbolic dim of the initial value
        c2, b2 = t.group(2, params=[("v", ds.float32, (None,))])
        with c2:
            c2.finish([Tensor(True)])
        with b2:
            b2.finish(b2.params())
        with pytest.raises(ValueError, match=re.escape("While: loop-carried value 0 is declared as float32[?] but its "
                                                       "initial value is float32[N]")):
            t.add_while(c2, b2, [x])
        c3, b3 = t.group(2, params=[("v", x)])
        with c3:
            c3.finish([Tensor(True)])
        with b3:
            b3.finish([ops.concat([x, x])])
        with pytest.raises(ValueError, match=re.escape("loop-carried value 0 changes from float32[N] to float32[?] in "
                                                       "the body")):
            t.add_while(c3, b3, [x])
    g = t.finish([v])
    a = np.array([1, 2], np.float32)
    ref = a.copy()
    for _ in range(4):
        ref = ref * 2 + a
    check_graph(g, [Tensor(a)], [ref])


def test_call_with_gradient_graph_matches_eager_grad():
    w = ds.Parameter(Tensor(rng_array((4, 2), 7)), name="w")

    def f(x):
        return ops.tanh(x @ w).sum() * 0.5

    t = _C.Trace("step")
    x = t.param("x", ds.float32, (3, 4))
    t.param("w", ds.float32, (4, 2), weight=True, bind=w)
    with t:
        (sub,) = t.group(1, params=[("x", ds.float32, (3, 4))], names=["f"])
        with sub:
            sub.finish([f(*sub.params())])
        assert sub.captures() == [w]
        fg = sub.graph()
        gg = fg.grad(outputs=[0], wrt=[0, 1], sens_param=True)
        loss, dx, dw = t.add_call(sub, [x], graph=gg, extra=[Tensor(1.0)])
        (plain,) = t.add_call(sub, [x])
    g = t.finish([loss, dx, dw, plain])
    a = rng_array((3, 4), 8)
    ex_loss = f(Tensor(a))
    ex_dx, ex_dw = ds.grad(f, grad_position=0, weights=[w])(Tensor(a))
    check_graph(g, [Tensor(a), w], [ex_loss, ex_dx, ex_dw[0], ex_loss], exact=False)


def test_graph_grad_matches_eager_grad():
    def f(x, y):
        return (ops.sigmoid(x * y) + ops.square(x)).mean()
    g = trace(f, [("x", ds.float32, (2, 3)), ("y", ds.float32, (2, 3))])
    gg = g.grad()  # every float parameter, the scalar output seeded with 1
    assert gg.num_params == 2 and gg.num_outputs == 3
    a, b = rng_array((2, 3), 9), rng_array((2, 3), 10)
    dx, dy = ds.grad(f, grad_position=(0, 1))(Tensor(a), Tensor(b))
    check_graph(gg, [Tensor(a), Tensor(b)], [f(Tensor(a), Tensor(b)), dx, dy], exact=False)
    # with a sensitivity parameter
    gs = g.grad([0], [1], sens_param=True)
    assert gs.num_params == 3
    check_graph(gs, [Tensor(a), Tensor(b), Tensor(np.float32(2))], [f(Tensor(a), Tensor(b)), dy * 2], exact=False)


# ------------------------------------------------------------------------------------------ effects
def test_sgd_update_and_assign_write_bound_weights(capsys):
    w = ds.Parameter(Tensor(np.array([1, 2, 3], np.float32)), name="w")
    v = ds.Parameter(Tensor(np.array([10, 20, 30], np.float32)), name="v")
    t = _C.Trace("train")
    t.param("w", ds.float32, (3,), weight=True, bind=w)
    t.param("v", ds.float32, (3,), weight=True, bind=v)
    gr = t.param("g", ds.float32, (3,))
    with t:
        loss = w.sum()
        _C.ops["sgd_update"]([w, gr, Tensor(np.zeros(3, np.float32))], 0.5)  # momentum 0: the buffer is not written
        t.add_assign(v, v * 0.5)
        t.add_print("loss:", [loss])
    g = t.finish([loss])
    assert "sgd_update" in g.text()
    np.testing.assert_array_equal(w.asnumpy(), [1, 2, 3])  # nothing ran yet
    plan = _C.Plan(g)
    gv = Tensor(np.array([1, -1, 2], np.float32))
    (out,) = plan.run([w, v, gv])
    assert out.item() == 6
    np.testing.assert_allclose(w.asnumpy(), [0.5, 2.5, 2])
    np.testing.assert_allclose(v.asnumpy(), [5, 10, 15])
    assert capsys.readouterr().out == "loss: 6.0\n"
    plan.run([w, v, gv])
    np.testing.assert_allclose(w.asnumpy(), [0, 3, 1])
    assert plan.stats()["n_runs"] == 2


def test_optimizer_step_in_a_trace():
    ds.set_seed(5)
    fc = nn.Dense(3, 2)
    params = list(fc.trainable_params())
    opt = nn.SGD(params, learning_rate=0.1)
    x = rng_array((4, 3), 11)

    def loss_fn(x):
        return (fc(x) ** 2).mean()

    ref = [p.asnumpy().copy() for p in params]
    grads = ds.grad(loss_fn, grad_position=None, weights=params)(Tensor(x))
    t = _C.Trace("opt")
    xs = t.param("x", ds.float32, (4, 3))
    for p in params:
        t.param(p.name, p.dtype, p.shape, weight=True, bind=p)
    gs = [t.param("g" + str(i), p.dtype, p.shape) for i, p in enumerate(params)]
    with t:
        opt(tuple(gs))
        out = loss_fn(xs)
    g = t.finish([out])
    _C.Plan(g).run([Tensor(x)] + params + list(grads))
    for p, r, gr in zip(params, ref, grads):
        np.testing.assert_allclose(p.asnumpy(), r - 0.1 * gr.asnumpy(), rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------------------------ errors
READS = [
    ("bool()", bool), ("float()", float), ("int()", int), ("asnumpy()", lambda x: x.asnumpy()),
    ("item()", lambda x: x.item()), ("tolist()", lambda x: x.tolist()), ("str()", str), ("repr()", repr),
    ("format()", lambda x: format(x, "")), ("conversion to a NumPy array", np.asarray),
    ("the buffer protocol", memoryview), ("__dlpack__()", lambda x: x.__dlpack__()),
    ("use as a Python int (__index__)", lambda x: [0, 1][x]),
]


@pytest.mark.parametrize("what, read", READS, ids=[r[0] for r in READS])
def test_reading_a_symbolic_tensor_raises_trace_error(what, read):
    t = _C.Trace("r")
    x = t.param("x", ds.int64, (2, None))
    with t:
        with pytest.raises(TraceError) as e:
            read(x)
    msg = str(e.value)
    assert msg.startswith("cannot read the value of a tensor while compiling a graph ("
                          f"{what} of a int64 tensor of shape [2, None]); ")
    assert isinstance(e.value, RuntimeError)
    with pytest.raises(TraceError):  # also after the trace
        read(x)


def test_size_and_errors_inside_traces():
    t = _C.Trace("e")
    x = t.param("x", ds.float32, (2, 3))
    y = t.param("y", ds.float32, (None, 4))
    assert x.size == 6 and x.nbytes == 24 and len(x) == 2
    with pytest.raises(TraceError, match=re.escape(".size of a tensor with unknown dims (shape [None, 4]) is not known while compiling")):
        y.size
    t.set_loc("model.py", 7, 3)
    with t:
        with pytest.raises(ValueError, match=re.escape("model.py:7:3: add: shapes [2, 3] and [4] cannot be broadcast")):
            x + Tensor(np.ones(4, np.float32))
        with pytest.raises(ValueError, match="matmul"):
            x @ x
        u = _C.Trace("u")
        with u, pytest.raises(ValueError, match="symbolic tensor of another graph"):
            x * 2
        with pytest.raises(ValueError, match="written in place but is not a value of the graph"):
            _C.ops["index_put"]([Tensor(np.zeros(3, np.float32)), x[0, 0], Tensor(np.array([1]))])
    with pytest.raises(ValueError, match="used outside its trace"):
        x + 1
    with pytest.raises(TraceError, match="outside the trace"):
        x[0] = 1.0
    t.finish([x])
    with t, pytest.raises(ValueError, match="is finished"):
        x + 1


def test_group_errors():
    t = _C.Trace("t")
    x = t.param("x", ds.float32, ())
    a, b = t.group(2)
    with pytest.raises(ValueError, match="ds_trace_new_group"):
        a.param("p", ds.float32, ())
    a.finish([x])
    with t:
        with pytest.raises(ValueError, match="not finished"):
            t.add_if(x > 0, a, b)
        with b:
            b.finish([x + 1])
        (r,) = t.add_if(x > 0, a, b)
        with pytest.raises(ValueError, match="already used"):
            t.add_while(a, b, [])
    g = t.finish([r])
    check_graph(g, [Tensor(np.float32(2))], [np.float32(2)])
    t = _C.Trace("t")
    x = t.param("x", ds.float32, ("N", 3))
    with t:
        a, b = t.group(2)
        with a:
            a.finish([x, x * 2])
        with b:
            b.finish([x, x[:, :2]])
        with pytest.raises(ValueError, match=re.escape("If: branch output 1 differs: then gives float32[N, 3], "
                                                       "else gives float32[N, 2]")):
            t.add_if(Tensor(True), a, b)
    check_graph(g, [Tensor(np.float32(-2))], [np.float32(-1)])
