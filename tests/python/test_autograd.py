"""Eager autograd (PyNative): ms.grad / value_and_grad / vjp, ops.GradOperation, Parameter, higher orders,
hooks, the bprop registry, custom backward functions, control flow and error messages.

Gradients are checked against central finite differences (float64) and against hand-derived values; return
conventions against the seeds' documentation (mindspore.grad, mindspore.value_and_grad,
mindspore.ops.GradOperation)."""
import gc

import numpy as np
import pytest

import dynastat as ms
from dynastat import Parameter, ParameterTuple, Tensor, ops
from dynastat.common.autograd import custom_vjp, no_grad, record_custom


def T(a, dtype=np.float64):
    return Tensor(np.asarray(a, dtype=dtype))


def np_(t):
    return t.asnumpy()


def close(a, b, rtol=1e-6, atol=1e-6):
    a = np_(a) if isinstance(a, ms._C.TensorBase) else np.asarray(a)
    b = np_(b) if isinstance(b, ms._C.TensorBase) else np.asarray(b)
    return a.shape == b.shape and np.allclose(a, b, rtol=rtol, atol=atol)


def fd(f, args, i, eps=1e-6):
    """Central finite difference of the scalar f(*args) with respect to args[i] (float64 arrays)."""
    base = [np.array(np_(a), dtype=np.float64) for a in args]
    g = np.zeros_like(base[i])
    for idx in np.ndindex(*base[i].shape):
        p = [b.copy() for b in base]
        m = [b.copy() for b in base]
        p[i][idx] += eps
        m[i][idx] -= eps
        g[idx] = (f(*[T(a) for a in p]).item() - f(*[T(a) for a in m]).item()) / (2 * eps)
    return g


rng = np.random.default_rng(7)


def rnd(*shape, lo=-1.0, hi=1.0):
    return T(rng.uniform(lo, hi, size=shape))


# ------------------------------------------------------------------------------------- finite differences
CASES = [
    ("add_broadcast", lambda x, y: (x + y * 2).sum(), [(2, 3), (3,)]),
    ("sub_div", lambda x, y: ((x - y) / (y * y + 1)).sum(), [(2, 3), (2, 3)]),
    ("mul_chain", lambda x, y: (x * y * x).sum(), [(4,), (4,)]),
    ("pow", lambda x, y: ops.pow(x * x + 1, y).sum(), [(3,), (3,)]),
    ("exp_log", lambda x: ops.log(ops.exp(x) + 2).sum(), [(2, 2)]),
    ("trig", lambda x: (ops.sin(x) * ops.cos(x * 3)).sum(), [(5,)]),
    ("tanh_sigmoid", lambda x: (ops.tanh(x) + ops.sigmoid(x * 2)).sum(), [(3, 2)]),
    ("sqrt_abs", lambda x: ops.sqrt(ops.abs(x) + 1).sum(), [(4,)]),
    ("relu_square", lambda x: (ops.relu(x) * ops.square(x)).sum(), [(6,)]),
    ("matmul", lambda a, b: ops.tanh(ops.matmul(a, b)).sum(), [(2, 3), (3, 4)]),
    ("matmul_prim_t", lambda a, b: ops.MatMul(transpose_b=True)(a, b).sum(), [(2, 3), (4, 3)]),
    ("mean_var", lambda x: x.mean() + x.var(), [(3, 4)]),
    ("reduce_axis", lambda x: (x.sum(axis=1) ** 2).sum(), [(3, 4)]),
    ("amax", lambda x: x.max(axis=0).sum(), [(3, 4)]),
    ("reshape_transpose", lambda x: (x.reshape(3, 2).T * T([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])).sum(), [(2, 3)]),
    ("broadcast_to", lambda x: (ops.broadcast_to(x, (3, 4)) * T(np.arange(12.0).reshape(3, 4))).sum(), [(4,)]),
    ("concat_stack", lambda x, y: (ops.concat((x, y), 0) ** 2).sum() + ops.stack([x, y]).prod(), [(2,), (2,)]),
    ("getitem", lambda x: (x[1:, ::2] * 3).sum() + x[0, 1] ** 2, [(3, 4)]),
    ("where_maximum", lambda x, y: ops.where(x > 0, x * y, ops.maximum(x, y)).sum(), [(5,), (5,)]),
    ("clip", lambda x: ops.clip(x * 3, -1.0, 1.0).sum(), [(6,)]),
    ("gather", lambda x: ops.gather(x, Tensor(np.array([2, 0, 2])), 0).sum(), [(3, 2)]),
    ("split_tile", lambda x: ops.split(ops.tile(x, (2,)), 2)[1].sum() * ops.split(x, 2)[0].sum(), [(4,)]),
    ("softmax_by_hand", lambda x: (ops.exp(x) / ops.exp(x).sum(axis=-1, keepdims=True) * T([1.0, 2.0, 3.0])).sum(),
     [(2, 3)]),
]


@pytest.mark.parametrize("name,f,shapes", CASES, ids=[c[0] for c in CASES])
def test_gradients_match_finite_differences(name, f, shapes):
    args = [rnd(*s) for s in shapes]
    if name == "pow":
        args[1] = rnd(*shapes[1], lo=0.5, hi=2.0)
    if name == "clip":
        args[0] = T([-0.9, -0.2, 0.1, 0.25, 0.5, 0.9])  # away from the clip points
    grads = ms.grad(f, tuple(range(len(args))))(*args)
    assert len(grads) == len(args)
    for i, g in enumerate(grads):
        assert g.dtype == ms.float64 and g.shape == args[i].shape
        assert np.allclose(np_(g), fd(f, args, i), rtol=1e-5, atol=1e-6), (name, i, np_(g), fd(f, args, i))


def test_hand_derived_values():
    x = T([1.0, 2.0, 3.0])
    assert close(ms.grad(lambda x: (x * x * x).sum())(x), [3.0, 12.0, 27.0])
    assert close(ms.grad(lambda x: ops.exp(x * 2).sum())(x), 2 * np.exp(2 * np.array([1.0, 2.0, 3.0])))
    # d/dx sum(x * y) = y, d/dy = x (matmul: dx = g @ y^T)
    a, b = T([[1.0, 2.0], [3.0, 4.0]]), T([[5.0, 6.0], [7.0, 8.0]])
    ga, gb = ms.grad(lambda a, b: ops.matmul(a, b).sum(), (0, 1))(a, b)
    assert close(ga, np.ones((2, 2)) @ np_(b).T) and close(gb, np_(a).T @ np.ones((2, 2)))


def test_float32_gradients_keep_dtype():
    x = Tensor(np.array([0.5, -1.5], np.float32))
    g = ms.grad(lambda x: (x * x).sum())(x)
    assert g.dtype == ms.float32 and close(g, [1.0, -3.0])


# ------------------------------------------------------------------------------------- the seed example
class _MiniCell:
    """The smallest Cell-like object: calling it runs construct."""

    def __call__(self, *args):
        return self.construct(*args)


class _Net(_MiniCell):
    def __init__(self, z=2.0):
        self.matmul = ops.MatMul()
        self.z = Parameter(Tensor(np.array([z], np.float32)), name="z")

    def construct(self, x, y):
        x = x * self.z
        return self.matmul(x, y)


class _GradNetWrtX(_MiniCell):
    def __init__(self, net):
        self.net = net

    def construct(self, x, y):
        gradient_function = ms.grad(self.net)
        return gradient_function(x, y)


SEED_X = [[0.8, 0.6, 0.2], [1.8, 1.3, 1.1]]
SEED_Y = [[0.11, 3.3, 1.1], [1.1, 0.2, 1.4], [1.1, 2.2, 0.3]]
SEED_OUT = "[[9.02      5.4       7.2000003]\n [9.02      5.4       7.2000003]]"


def test_seed_grad_net_wrt_x_values():
    """The seed's PyNative example (x * z then MatMul, differentiated with respect to x): the [2, 3]
    output is seeded with ones, so the gradient is z * ones @ y^T."""
    x = Tensor(SEED_X, dtype=ms.float32)
    y = Tensor(SEED_Y, dtype=ms.float32)
    out = _GradNetWrtX(_Net())(x, y)
    assert out.shape == (2, 3) and out.dtype == ms.float32
    expect = 2.0 * np.ones((2, 3)) @ np.array(SEED_Y).T
    assert np.allclose(np_(out), expect, rtol=1e-6)
    assert np.array_equal(np_(out)[:, 1:], np.float32([[5.4, 7.2000003], [5.4, 7.2000003]]))


def test_seed_grad_net_wrt_x_prints_exactly():
    x = Tensor(SEED_X, dtype=ms.float32)
    y = Tensor(SEED_Y, dtype=ms.float32)
    assert str(_GradNetWrtX(_Net())(x, y)) == SEED_OUT


# ------------------------------------------------------------------------------------- return conventions
def _xyz():
    return Tensor([1.0, 2.0]), Tensor([-2.0, 3.0]), Tensor([0.0, 3.0])


def test_grad_position_conventions():
    """mindspore.grad docs: Net()(x, y, z) = x * y * z, grad_position=(1, 2) -> (x*z, x*y)."""
    x, y, z = _xyz()
    f = lambda x, y, z: x * y * z  # noqa: E731
    g = ms.grad(f, grad_position=(1, 2))(x, y, z)
    assert isinstance(g, tuple) and len(g) == 2
    assert close(g[0], [0.0, 6.0]) and close(g[1], [-2.0, 6.0])
    g0 = ms.grad(f)(x, y, z)  # default position 0: one Tensor
    assert isinstance(g0, ms._C.TensorBase) and close(g0, [0.0, 9.0])
    g1 = ms.grad(f, 1)(x, y, z)
    assert close(g1, [0.0, 6.0])
    (single,) = ms.grad(f, (2,))(x, y, z)  # a tuple of one
    assert close(single, [-2.0, 6.0])


def test_grad_has_aux_and_return_ids():
    """mindspore.grad docs: fn returns (x * exp(y) * z^2, z); has_aux -> (gradients, (z,))."""
    x, y, z = Tensor([3.0, 3.0]), Tensor([0.0, 0.0]), Tensor([5.0, 5.0])

    def fn(x, y, z):
        return x * ops.exp(y) * ops.pow(z, 2), z

    gradient, aux = ms.grad(fn, (1, 2), None, True)(x, y, z)
    assert close(gradient[0], [75.0, 75.0]) and close(gradient[1], [30.0, 30.0])
    assert isinstance(aux, tuple) and len(aux) == 1 and close(aux[0], [5.0, 5.0])
    x, y, z = _xyz()
    out = ms.grad(lambda x, y, z: x * y * z, grad_position=(1, 2), return_ids=True)(x, y, z)
    assert out[0][0] == 1 and close(out[0][1], [0.0, 6.0])
    assert out[1][0] == 2 and close(out[1][1], [-2.0, 6.0])


def test_grad_weights_conventions():
    w = Parameter(Tensor([2.0, 3.0]), name="w")
    b = Parameter(Tensor(1.0), name="b")
    x = Tensor([1.0, -1.0])
    f = lambda x: (x * w + b).sum() * 2  # noqa: E731
    # weights only: a tuple for a list, a Tensor for a single Parameter
    gw = ms.grad(f, grad_position=None, weights=[w, b])(x)
    assert isinstance(gw, tuple) and len(gw) == 2
    assert close(gw[0], [2.0, -2.0]) and close(gw[1], 4.0)
    assert close(ms.grad(f, None, ParameterTuple([w, b]))(x)[1], 4.0)
    assert close(ms.grad(f, None, w)(x), [2.0, -2.0])
    # inputs and weights: (input gradients, weight gradients)
    gi, gw = ms.grad(f, 0, [w, b])(x)
    assert close(gi, [4.0, 6.0]) and close(gw[0], [2.0, -2.0])
    (gi,), gw = ms.grad(f, (0,), w)(x)
    assert close(gi, [4.0, 6.0]) and close(gw, [2.0, -2.0])
    # return_ids names the parameters
    ids = ms.grad(f, None, [w, b], return_ids=True)(x)
    assert ids[0][0] == "w" and ids[1][0] == "b"
    # has_aux with weights
    (gw2,), aux = ms.grad(lambda x: ((x * w).sum(), x + 1), None, [w], has_aux=True)(x)
    assert close(gw2, [1.0, -1.0]) and close(aux[0], [2.0, 0.0])


def test_value_and_grad_conventions():
    """mindspore.value_and_grad docs: ((out1, out2), gradient) with has_aux."""
    x, y, z = _xyz()
    out, g = ms.value_and_grad(lambda x, y, z: x * y * z, grad_position=1)(x, y, z)
    assert close(out, [-0.0, 18.0]) and close(g, [0.0, 6.0])

    def fn(x, y, z):
        return x * ops.exp(y) * ops.pow(z, 2), z

    x, y, z = Tensor([3.0, 3.0]), Tensor([0.0, 0.0]), Tensor([5.0, 5.0])
    out, g = ms.value_and_grad(fn, grad_position=(1, 2), weights=None, has_aux=True)(x, y, z)
    assert isinstance(out, tuple) and close(out[0], [75.0, 75.0]) and close(out[1], [5.0, 5.0])
    assert close(g[0], [75.0, 75.0]) and close(g[1], [30.0, 30.0])
    w = Parameter(Tensor([1.0, 2.0]), name="w")
    loss, (gi, gw) = ms.value_and_grad(lambda x: (x * w).sum(), 0, [w])(Tensor([3.0, 4.0]))
    assert close(loss, 11.0) and close(gi, [1.0, 2.0]) and close(gw[0], [3.0, 4.0])


def test_non_scalar_and_multiple_outputs_are_seeded_with_ones():
    x = Tensor([[1.0, 2.0], [3.0, 4.0]])
    assert close(ms.grad(lambda x: x * x)(x), 2 * np_(x))  # = grad of sum(x * x)
    # several outputs: their gradients add (each seeded with ones)
    assert close(ms.grad(lambda x: (x * 2, (x * x).sum(), [x * 3]))(x), 2 + 2 * np_(x) + 3)
    # outputs that do not depend on the input, and non-float outputs, give zeros
    assert close(ms.grad(lambda x: (Tensor([1.0]), x > 1))(x), np.zeros((2, 2)))
    assert close(ms.grad(lambda x: None)(x), np.zeros((2, 2)))


class _GONet(_MiniCell):
    """The ops.GradOperation docs' Net: x * z (z = 1) then MatMul."""

    def __init__(self):
        self.matmul = ops.MatMul()
        self.z = Parameter(Tensor(np.array([1.0], np.float32)), name="z")

    def construct(self, x, y):
        x = x * self.z
        return self.matmul(x, y)


def test_grad_operation_conventions():
    """mindspore.ops.GradOperation docs: GradNetWrtX, GradNetWrtXY, GradNetWrtXYWithSensParam,
    GradNetWithWrtParams, GradNetWrtInputsAndParams (values to float32 rounding)."""
    f32 = ms.float32
    net = _GONet()
    x = Tensor([[0.5, 0.6, 0.4], [1.2, 1.3, 1.1]], dtype=f32)
    y = Tensor([[0.01, 0.3, 1.1], [0.1, 0.2, 1.3], [2.1, 1.2, 3.3]], dtype=f32)
    out = ops.GradOperation()(net)(x, y)
    assert isinstance(out, ms._C.TensorBase)
    assert close(out, [[1.41, 1.6, 6.6], [1.41, 1.6, 6.6]], 1e-5)

    x = Tensor([[0.8, 0.6, 0.2], [1.8, 1.3, 1.1]], dtype=f32)
    y = Tensor([[0.1, 3.3, 1.1], [1.1, 0.2, 1.4], [1.1, 2.2, 0.3]], dtype=f32)
    out = ops.GradOperation(get_all=True)(net)(x, y)
    assert isinstance(out, tuple) and len(out) == 2
    assert close(out[0], [[4.5, 2.7, 3.6], [4.5, 2.7, 3.6]], 1e-5)
    assert close(out[1], [[2.6] * 3, [1.9] * 3, [1.3] * 3], 1e-5)

    y = Tensor([[0.11, 3.3, 1.1], [1.1, 0.2, 1.4], [1.1, 2.2, 0.3]], dtype=f32)
    sens = Tensor([[0.1, 0.6, 0.2], [0.8, 1.3, 1.1]], dtype=f32)
    out = ops.GradOperation(get_all=True, sens_param=True)(net)(x, y, sens)
    assert close(out[0], [[2.211, 0.51, 1.49], [5.588, 2.68, 4.07]], 1e-5)
    assert close(out[1], [[1.52, 2.82, 2.14], [1.1, 2.05, 1.55], [0.9, 1.55, 1.25]], 1e-5)
    out_kw = ops.GradOperation(get_all=True, sens_param=True)(net)(x, y, sens=sens)
    assert close(out_kw[0], out[0]) and close(out_kw[1], out[1])

    params = ParameterTuple([net.z])
    out = ops.GradOperation(get_by_list=True)(net, params)(x, y)
    assert isinstance(out, tuple) and len(out) == 1 and close(out[0], [21.536], 1e-5)

    x = Tensor([[0.1, 0.6, 1.2], [0.5, 1.3, 0.1]], dtype=f32)
    y = Tensor([[0.12, 2.3, 1.1], [1.3, 0.2, 2.4], [0.1, 2.2, 0.3]], dtype=f32)
    (gx, gy), (gz,) = ops.GradOperation(get_all=True, get_by_list=True)(net, params)(x, y)
    assert close(gx, [[3.52, 3.9, 2.6], [3.52, 3.9, 2.6]], 1e-5)
    assert close(gy, [[0.6] * 3, [1.9] * 3, [1.3] * 3], 1e-5)
    assert close(gz, [12.902], 1e-5)


def test_grad_operation_multiple_outputs_with_sens_tuple():
    f = lambda x: (x * 2, x * x)  # noqa: E731
    x = Tensor([1.0, 2.0])
    g = ops.GradOperation(sens_param=True)(f)(x, (Tensor([1.0, 0.0]), Tensor([0.0, 1.0])))
    assert close(g, [2.0, 4.0])
    assert close(ops.GradOperation()(f)(x), [4.0, 6.0])


def test_vjp():
    """mindspore.vjp docs: x**3 + y with v = ones -> (3x^2, ones); has_aux returns the aux output."""
    x = T([[1, 2], [3, 4]])
    y = T([[1, 2], [3, 4]])
    v = T([[1, 1], [1, 1]])
    outputs, vjp_fn = ms.vjp(lambda x, y: x ** 3 + y, x, y)
    assert close(outputs, [[2.0, 10.0], [30.0, 68.0]])
    gx, gy = vjp_fn(v)
    assert close(gx, [[3.0, 12.0], [27.0, 48.0]]) and close(gy, np.ones((2, 2)))
    gx2, _ = vjp_fn(v * 2)  # callable again
    assert close(gx2, 2 * np_(gx))
    outputs, vjp_fn, aux = ms.vjp(lambda x, y: (2 * x + y, y ** 3), x, y, has_aux=True)
    assert close(outputs, [[3.0, 6.0], [9.0, 12.0]]) and close(aux, [[1.0, 8.0], [27.0, 64.0]])
    gx, gy = vjp_fn(v)
    assert close(gx, 2 * np.ones((2, 2))) and close(gy, np.ones((2, 2)))


# ------------------------------------------------------------------------------------- higher orders
def test_second_and_third_order():
    x = T([0.5, -1.0, 2.0])
    f = lambda x: (x * x * x).sum()  # noqa: E731
    d1 = ms.grad(f)
    d2 = ms.grad(lambda x: d1(x).sum())
    d3 = ms.grad(lambda x: d2(x).sum())
    assert close(d1(x), 3 * np_(x) ** 2)
    assert close(d2(x), 6 * np_(x))
    assert close(d3(x), [6.0, 6.0, 6.0])
    # nested ms.grad(ms.grad(f)) directly (the inner returns a tensor; its sum is differentiated)
    assert close(ms.grad(ms.grad(lambda x: ops.sin(x).sum()))(x), -np.sin(np_(x)))


def test_second_order_matches_finite_differences_of_the_gradient():
    f = lambda x, y: (ops.tanh(x * y) * ops.exp(x)).sum()  # noqa: E731
    x, y = rnd(3), rnd(3)
    hvp = lambda x, y: ms.grad(f, 0)(x, y).sum()  # noqa: E731
    gx, gy = ms.grad(hvp, (0, 1))(x, y)
    assert np.allclose(np_(gx), fd(hvp, [x, y], 0), rtol=1e-5, atol=1e-6)
    assert np.allclose(np_(gy), fd(hvp, [x, y], 1), rtol=1e-5, atol=1e-6)


def test_mixed_partials_and_grad_inside_value_and_grad():
    x, y = T(2.0), T(3.0)
    dxy = ms.grad(lambda x, y: ms.grad(lambda x, y: x * x * y, 0)(x, y), 1)(x, y)  # d/dy 2xy = 2x
    assert close(dxy, 4.0)
    val, g = ms.value_and_grad(lambda x: ms.grad(lambda x: x ** 4)(x))(x)  # 4x^3, 12x^2
    assert close(val, 32.0) and close(g, 48.0)


# ------------------------------------------------------------------------------------- views (indexing)
def test_indexing_and_iteration_are_differentiated():
    x = T([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    g = ms.grad(lambda x: (x[1:, ::2] * 3).sum() + x[0, 1] ** 2 + x[..., None][0, 2, 0])(x)
    assert close(g, [[0.0, 4.0, 1.0], [3.0, 0.0, 3.0]])
    assert close(ms.grad(lambda x: sum((r * r).sum() for r in x))(x), 2 * np_(x))  # iteration
    assert close(ms.grad(lambda x: x[1])(x), [[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]])  # a view as the output
    assert close(ms.grad(lambda x: x.T[::-1][0].sum())(x), [[0.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
    # a view of an intermediate result, and second order through views
    assert close(ms.grad(lambda x: (ops.exp(x)[:, 1] * 2).sum())(x), [[0.0, 2 * np.exp(2), 0.0],
                                                                       [0.0, 2 * np.exp(5), 0.0]])
    d2 = ms.grad(lambda x: ms.grad(lambda x: (x[0] ** 3).sum())(x)[0].sum())(x)
    assert close(d2, [[6.0, 12.0, 18.0], [0.0, 0.0, 0.0]])
    # advanced indexing (an op) next to basic indexing
    assert close(ms.grad(lambda x: x[:, Tensor(np.array([2, 2, 0]))].sum())(x), [[1.0, 0.0, 2.0], [1.0, 0.0, 2.0]])
    # stop_gradient of a view stays a constant
    assert close(ms.grad(lambda x: (x[0] * ops.stop_gradient(x)[0]).sum())(x), [[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    assert np.allclose(np_(ms.grad(lambda x: (x[1:, 1:] ** 2).sum() * x[0, 0])(x)),
                       fd(lambda x: (x[1:, 1:] ** 2).sum() * x[0, 0], [x], 0), rtol=1e-6)


def test_in_place_assignment_that_would_break_a_gradient_is_refused():
    def into_recorded(x):
        y = x * 2
        y[0] = 5.0
        return (y * y).sum()

    with pytest.raises(NotImplementedError, match="an in-place assignment into a tensor that requires grad is not "
                                                  "differentiable"):
        ms.grad(into_recorded)(T([1.0, 2.0]))

    def value_requires_grad(x):
        b = ops.zeros((2,), ms.float64)
        b[0] = x[1]
        return b.sum()

    with pytest.raises(NotImplementedError, match="assigning a value that requires grad into a tensor in place"):
        ms.grad(value_requires_grad)(T([1.0, 2.0]))

    def constants_only(x):
        b = ops.zeros((2,), ms.float64)
        b[0] = 3.0
        with no_grad():
            c = x * 1
            c[1] = 7.0  # allowed under no_grad (c is a constant)
        return (b * x).sum() + (c * x).sum()

    assert close(ms.grad(constants_only)(T([1.0, 2.0])), [4.0, 7.0])


# ------------------------------------------------------------------------------------- control flow
def test_python_control_flow_unrolls():
    def f(x, n):
        y = x
        for i in range(n):
            if i % 2 == 0:
                y = y * x
            else:
                y = y + x
        while (y.sum() < 100).item():
            y = y * 2
        return y.sum()

    x = T([1.0, 2.0])
    g = ms.grad(f)(x, 3)  # y = x*x + x then * x: x^3 + x^2, then doubled until the sum >= 100
    y = np.array([1.0, 2.0])
    scale = 1
    while ((y ** 3 + y ** 2) * scale).sum() < 100:
        scale *= 2
    assert close(g, scale * (3 * y ** 2 + 2 * y))
    assert np.allclose(np_(g), fd(lambda x: f(x, 3), [x], 0), rtol=1e-5)


def test_int_arguments_and_branches_on_values():
    def f(x, k):
        return (x * k).sum() if (x.sum() > 0).item() else (x * x).sum()

    assert close(ms.grad(f)(T([1.0, 2.0]), 5), [5.0, 5.0])
    assert close(ms.grad(f)(T([-1.0, -2.0]), 5), [-2.0, -4.0])


# ------------------------------------------------------------------------------------- stop_gradient, no_grad
def test_stop_gradient():
    x = T([1.0, 2.0])
    assert close(ms.grad(lambda x: (x * ops.stop_gradient(x)).sum())(x), [1.0, 2.0])
    a, b = ops.stop_gradient((x * 2, [x * 3]))
    assert close(a, [2.0, 4.0]) and close(b[0], [3.0, 6.0])
    assert close(ms.grad(lambda x: sum(t.sum() for t in ops.stop_gradient((x, x))) + x.sum())(x), [1.0, 1.0])


def test_no_grad_and_recording_state():
    x = T([1.0, 2.0])

    def f(x):
        assert ms._C.is_recording()
        with no_grad():
            assert not ms._C.is_recording()
            c = x * 10
        assert ms._C.is_recording()
        return (c * x).sum()

    assert close(ms.grad(f)(x), [10.0, 20.0])
    assert not ms._C.is_recording()


# ------------------------------------------------------------------------------------- tensor hooks
def test_register_hook_doubles_the_gradient():
    """The seeds' Tensor.register_hook example: (8, 6)."""

    def hook_fn(grad):
        return grad * 2

    def hook_test(x, y):
        z = x * y
        z.register_hook(hook_fn)
        z = z * y
        return z

    out = ms.grad(hook_test, grad_position=(0, 1))(Tensor(1, ms.float32), Tensor(2, ms.float32))
    assert close(out[0], 8.0) and close(out[1], 6.0)


def test_hooks_see_the_gradient_run_in_order_and_can_be_removed():
    seen = []
    x = T([1.0, 2.0, 3.0])
    h1 = x.register_hook(lambda g: seen.append(("h1", np_(g).copy())))  # returns None: gradient unchanged
    h2 = x.register_hook(lambda g: g + 1)
    h3 = x.register_hook(lambda g: seen.append(("h3", np_(g).copy())) or g * 10)
    f = lambda x: (x * x).sum()  # noqa: E731
    g = ms.grad(f)(x)
    assert close(g, (2 * np_(x) + 1) * 10)  # the hooks of a leaf change the gradient returned for it
    assert [s[0] for s in seen] == ["h1", "h3"]
    assert close(seen[0][1], 2 * np_(x)) and close(seen[1][1], 2 * np_(x) + 1)
    h2.remove()
    h3.remove()
    h3.remove()  # removing twice is harmless
    seen.clear()
    assert close(ms.grad(f)(x), 2 * np_(x))
    assert len(seen) == 1
    h1.remove()
    assert close(ms.grad(f)(x), 2 * np_(x))


def test_hook_removed_before_backward_is_not_called():
    calls = []

    def f(x):
        y = x * 3
        h = y.register_hook(lambda g: calls.append(1) or g * 100)
        h.remove()
        return (y * y).sum()

    assert close(ms.grad(f)(T([1.0])), [18.0]) and calls == []


def test_hook_errors():
    def bad_shape(x):
        y = x * 1
        y.register_hook(lambda g: g.sum())
        return (y * y).sum()

    with pytest.raises(ValueError, match="register_hook returned a gradient of shape \\(\\) for a tensor of shape \\(2,\\)"):
        ms.grad(bad_shape)(T([1.0, 2.0]))

    def bad_type(x):
        y = x * 1
        y.register_hook(lambda g: 3)
        return y.sum()

    with pytest.raises(TypeError, match="must return a Tensor or None, got int"):
        ms.grad(bad_type)(T([1.0, 2.0]))
    with pytest.raises(TypeError, match="must be callable"):
        T([1.0]).register_hook(5)


def test_hook_backward_primitive():
    """The seeds' ops.HookBackward example: the hook sees (2,), the gradients are (4, 4)."""
    seen = []
    hook = ops.HookBackward(lambda grad: seen.append(grad))

    def hook_test(x, y):
        z = x * y
        z = hook(z)
        z = z * y
        return z

    out = ops.GradOperation(get_all=True)(hook_test)(Tensor(1, ms.float32), Tensor(2, ms.float32))
    assert close(out[0], 4.0) and close(out[1], 4.0)
    assert len(seen) == 1 and isinstance(seen[0], tuple) and close(seen[0][0], 2.0)
    double = ops.HookBackward(lambda g: (g[0] * 2,))
    assert close(ms.grad(lambda x: (double(x * 1) * x).sum())(T([3.0])), [9.0])


# ------------------------------------------------------------------------------------- bprop registry
def test_bprop_registry_seed_example():
    """The seed's get_bprop_mul, registered with bprop_getters: eager recording of Mul uses it."""
    from dynastat.ops._grad.grad_base import bprop_getters, binop_grad_common

    calls = []

    @bprop_getters.register(ops.Mul)
    def get_bprop_mul(self):
        """Grad definition for `Mul` operation."""
        mul_func = ops.Mul()

        def bprop(x, y, out, dout):
            calls.append(out.shape)
            bc_dx = mul_func(y, dout)
            bc_dy = mul_func(x, dout)
            return binop_grad_common(x, y, bc_dx * 10, bc_dy)

        return bprop

    try:
        assert ops.Mul in bprop_getters and bprop_getters[ops.Mul] is get_bprop_mul
        x, z = T([[1.0, 2.0], [3.0, 4.0]]), T([2.0])
        gx, gz = ms.grad(lambda x, z: ops.mul(x, z).sum(), (0, 1))(x, z)  # ops.mul, ops.Mul()(.) and * alike
        assert close(gx, 20 * np.ones((2, 2))) and close(gz, [10.0])
        gx = ms.grad(lambda x: (x * z).sum())(x)
        assert close(gx, 20 * np.ones((2, 2)))
        assert calls == [(2, 2), (2, 2)]
        # the registered bprop is differentiated again (its own Mul ops use it too): the inner gradient of
        # sum(x * x) is (x * 1) * 10 + x * 1 = 11x; its outer gradient goes through the overridden rule on
        # each of those Muls: 10 * 10 * 10 (x * 1, then * 10) + 10 (x * 1) = 1010
        d2 = ms.grad(lambda x: ms.grad(lambda x: (x * x).sum())(x).sum())(T([1.0, 2.0]))
        assert close(d2, [1010.0, 1010.0])
    finally:
        del bprop_getters[ops.Mul]
    assert ops.Mul not in bprop_getters
    assert close(ms.grad(lambda x: (x * T([2.0])).sum())(T([1.0, 5.0])), [2.0, 2.0])  # the C rule again


def test_bprop_registry_reads_primitive_attributes():
    from dynastat.ops._grad.grad_base import bprop_getters

    seen = {}

    @bprop_getters.register(ops.MatMul)
    def get_bprop_matmul(self):
        seen["ta"], seen["tb"] = self.transpose_a, self.transpose_b

        def bprop(a, b, out, dout):  # out = a @ b^T: da = dout @ b (b gets no gradient here)
            return ops.matmul(dout, b), None

        return bprop

    try:
        a, b = T([[1.0, 2.0]]), T([[3.0, 4.0]])
        g = ms.grad(lambda a: ops.MatMul(transpose_b=True)(a, b).sum())(a)
        assert seen == {"ta": False, "tb": True} and close(g, [[3.0, 4.0]])
    finally:
        bprop_getters.pop(ops.MatMul)


def test_bprop_registry_errors():
    from dynastat.ops._grad.grad_base import bprop_getters

    x = T([1.0, 2.0])
    f = lambda x: (ops.exp(x)).sum()  # noqa: E731
    try:
        bprop_getters.register(ops.Exp)(lambda self: (lambda x, dout: (dout,)))
        with pytest.raises(TypeError, match=r"the bprop registered for Exp \(<lambda>\) must take the op's 1 input "
                                            r"followed by out and dout"):
            ms.grad(f)(x)
        bprop_getters[ops.Exp] = lambda self: (lambda x, out, dout: (dout, dout))
        with pytest.raises(ValueError, match=r"returned 2 gradients for 1 input"):
            ms.grad(f)(x)
        bprop_getters["Exp"] = lambda self: (lambda x, out, dout: (dout.sum(),))
        with pytest.raises(ValueError, match=r"returned a gradient of shape \(\) for input 0 of shape \(2,\)"):
            ms.grad(f)(x)
        bprop_getters["exp"] = lambda self: 42
        with pytest.raises(TypeError, match="must return the bprop function, got int"):
            ms.grad(f)(x)
    finally:
        bprop_getters.pop(ops.Exp, None)
    assert close(ms.grad(f)(x), np.exp([1.0, 2.0]))
    with pytest.raises(ValueError, match="unknown op 'NoSuchOp'"):
        bprop_getters.register("NoSuchOp")(lambda self: None)


# ------------------------------------------------------------------------------------- custom backward
def test_custom_vjp_and_second_order():
    calls = []

    def fwd(x, y):
        return x * y

    def bprop(x, y, out, dout):
        calls.append(1)
        return dout * y * 100, dout * x

    f = custom_vjp(fwd, bprop)
    x, y = T([1.0, 2.0]), T([3.0, 4.0])
    gx, gy = ms.grad(lambda x, y: f(x, y).sum(), (0, 1))(x, y)
    assert close(gx, [300.0, 400.0]) and close(gy, [1.0, 2.0]) and calls == [1]
    assert close(f(x, y), [3.0, 8.0])  # outside a gradient: just fn
    # the bprop's own ops are differentiated: d/dy sum(100 * y) = 100
    assert close(ms.grad(lambda y: ms.grad(lambda x: f(x, y).sum())(x).sum())(y), [100.0, 100.0])
    # structured outputs: dout has fn's structure
    g = custom_vjp(lambda x: (x * 2, [x * 3]), lambda x, out, dout: (dout[0] + dout[1][0],))
    assert close(ms.grad(lambda x: (g(x)[0] * 5).sum() + g(x)[1][0].sum())(x), [6.0, 6.0])


def test_custom_vjp_errors():
    x = T([1.0, 2.0])
    f = custom_vjp(lambda x, y: x * y, lambda x, y, out, dout: (dout,), name="MyOp")
    with pytest.raises(ValueError, match=r"the bprop of MyOp returned 1 gradient for 2 inputs \(x, y\)"):
        ms.grad(lambda x: f(x, x).sum())(x)
    f = custom_vjp(lambda x: x * 2, lambda x, out, dout: (dout.sum(),), name="MyOp")
    with pytest.raises(ValueError, match=r"the bprop of MyOp returned a gradient of shape \(\) for input 0 "
                                         r"\('x'\) of shape \(2,\)"):
        ms.grad(lambda x: f(x).sum())(x)
    f = custom_vjp(lambda x: x * 2, lambda x, dout: (dout,), name="MyOp")
    with pytest.raises(TypeError, match=r"the bprop of MyOp must take the 1 input followed by out and dout"):
        ms.grad(lambda x: f(x).sum())(x)
    f = custom_vjp(lambda x: x * 2, lambda x, out, dout: "no", name="MyOp")
    with pytest.raises(TypeError, match="must return a tuple of gradients"):
        ms.grad(lambda x: f(x).sum())(x)


def test_record_custom_low_level():
    x = T([1.0, 2.0])

    def f(x):
        with no_grad():
            y = ops.exp(x)
        record_custom("myexp", [x], [y], lambda douts: (douts[0] * 7,))
        return y.sum()

    assert close(ms.grad(f)(x), [7.0, 7.0])


# ------------------------------------------------------------------------------------- errors
def test_argument_errors():
    x = T([1.0])
    f = lambda x, y=None: (x * 2).sum()  # noqa: E731
    with pytest.raises(ValueError, match="`grad_position` and `weights` can not be None at the same time"):
        ms.grad(f, None, None)
    with pytest.raises(TypeError, match="'grad_position' must be an int, a tuple of ints or None, got list"):
        ms.grad(f, [0])
    with pytest.raises(ValueError, match="must be >= 0, got -1"):
        ms.grad(f, -1)
    with pytest.raises(ValueError, match="duplicate positions"):
        ms.grad(f, (0, 0))
    with pytest.raises(TypeError, match="'has_aux' must be a bool, got int"):
        ms.grad(f, has_aux=1)
    with pytest.raises(ValueError, match=r"grad_position 1 is out of range: <lambda> was called with 1 positional "
                                         r"arguments \(positions must be in \[0, 1\)\)"):
        ms.grad(f, 1)(x)
    with pytest.raises(TypeError, match="argument 1 of <lambda> is a float; only Tensor arguments can be "
                                        "differentiated"):
        ms.grad(f, 1)(x, 2.0)
    with pytest.raises(ValueError, match="with has_aux=True, <lambda> must return a tuple of more than one output"):
        ms.grad(f, has_aux=True)(x)
    with pytest.raises(TypeError, match=r"weights\[0\] must be a Parameter, got int"):
        ms.grad(f, None, [1])
    with pytest.raises(TypeError, match="For 'GradOperation', the 'get_all' should be bool, but got int"):
        ops.GradOperation(get_all=1)
    with pytest.raises(TypeError, match=r"GradOperation\(get_by_list=True\) needs the weights"):
        ops.GradOperation(get_by_list=True)(f)


def test_sensitivity_errors_name_the_expected_shape():
    net = lambda x, y: x * y  # noqa: E731
    x, y = T([[1.0, 2.0, 3.0]]), T([[4.0, 5.0, 6.0]])
    go = ops.GradOperation(sens_param=True)
    with pytest.raises(TypeError, match=r"got 2 arguments: the sensitivity is missing \(expected a Tensor of shape "
                                        r"\(1, 3\) and dtype Float64 \(the output's\)\)"):
        go(net)(x, y)
    with pytest.raises(ValueError, match=r"must be a Tensor of shape \(1, 3\) and dtype Float64 \(the output's\), "
                                         r"got a Tensor of shape \(3,\)"):
        go(net)(x, y, T([1.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match=r"must be a Tensor of shape \(1, 3\) and dtype Float64 \(the output's\), "
                                         r"got int"):
        go(net)(x, y, 1)
    two = lambda x: (x, x * 2)  # noqa: E731
    with pytest.raises(ValueError, match=r"the output is a tuple of 2 elements, so the sensitivity must be a tuple "
                                         r"\(shape \(1, 3\), shape \(1, 3\)\) matching the outputs, got a Tensor"):
        go(two)(x, x)
    # a sensitivity of another float dtype is cast
    assert close(go(net)(x, y, Tensor(np.ones((1, 3), np.float32))), np_(y))


def test_int_inputs_get_zero_gradients_and_float_only_watch():
    x = Tensor(np.array([1, 2], np.int64))
    y = T([1.0, 2.0])
    gx, gy = ops.GradOperation(get_all=True)(lambda x, y: (x * y).sum())(x, y)
    assert gx.dtype == ms.int64 and close(gx, [0, 0]) and close(gy, [1.0, 2.0])
    t = ms._C.Tape()
    with pytest.raises(TypeError, match="only float tensors can require gradients, got int64"):
        t.watch(x)


def test_same_tensor_at_two_positions_gets_separate_partials():
    x = T([2.0, 3.0])
    gx, gy = ms.grad(lambda a, b: (a * b * b).sum(), (0, 1))(x, x)
    assert close(gx, np_(x) ** 2) and close(gy, 2 * np_(x) ** 2)


def test_errors_inside_fn_leave_no_active_tape():
    def f(x):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        ms.grad(f)(T([1.0]))
    assert not ms._C.is_recording()

    def inner_fails(x):
        return ms.grad(lambda x: x.undefined_attribute)(x)

    with pytest.raises(AttributeError):
        ms.grad(inner_fails)(T([1.0]))
    assert not ms._C.is_recording()


def test_tape_object():
    x = T([1.0, 2.0])
    t = ms._C.Tape()
    t.watch(x)
    with t:
        y = (x * x).sum()
        with pytest.raises(ValueError, match="already active"):
            t.push()
    assert t.requires_grad(y) and t.num_nodes == 2 and "mul" in t.graph()
    (g,) = t.backward([y], None, [x])
    assert close(g, [2.0, 4.0])
    (g,) = t.backward([y], [T(3.0)], [x])  # the tape stays usable; a sensitivity weights the output
    assert close(g, [6.0, 12.0])
    with pytest.raises(ValueError, match="1 sensitivities for 2 outputs"):
        t.backward([y, y], [None], [x])
    with pytest.raises(ValueError, match="tapes must be popped in reverse order"):
        t.pop()


# ------------------------------------------------------------------------------------- Parameter
def test_parameter_basics():
    z = Parameter(Tensor(np.array([2.0], np.float32)), name="z")
    assert isinstance(z, Tensor) and repr(z) == "Parameter (name=z, shape=(1,), dtype=Float32, requires_grad=True)"
    assert type(z * 2) is Tensor and close(z * 2, [4.0])
    assert Parameter(Tensor(0.5, ms.float32)).name == "Parameter"
    p = Parameter(np.ones((2, 3), np.float32), name="w", requires_grad=False)
    assert p.shape == (2, 3) and p.requires_grad is False and p.data is p
    p.requires_grad = True
    with pytest.raises(TypeError, match="'requires_grad' must be a bool"):
        p.requires_grad = 1
    with pytest.raises(TypeError, match="'name' must be a str or None"):
        Parameter(Tensor([1.0]), name=3)


def test_parameter_set_data_in_place_and_clone():
    src = Tensor([1.0, 2.0])
    w = Parameter(src, name="w")
    ptr = w.data_ptr()
    src[0] = 9.0
    assert close(w, [1.0, 2.0])  # a copy of default_input
    assert w.set_data(Tensor([3.0, 4.0])) is w and close(w, [3.0, 4.0]) and w.data_ptr() == ptr
    w.set_data(np.array([5.0, 6.0]))
    w.assign_value(Tensor([7.0, 8.0]))
    assert close(w, [7.0, 8.0])
    with pytest.raises(ValueError, match=r"Parameter 'w'.set_data\(\): the new data has shape \(3,\), the parameter "
                                         r"has shape \(2,\)"):
        w.set_data(Tensor([1.0, 2.0, 3.0]))
    with pytest.raises(TypeError, match="the new data has dtype Int64, the parameter has dtype Float32"):
        w.set_data(Tensor(np.array([1, 2])))
    c = w.clone()
    c.set_data(Tensor([0.0, 0.0]))
    assert c.name == "w" and close(w, [7.0, 8.0]) and close(c, [0.0, 0.0])
    # set_data inside a gradient function is not recorded (an optimizer step, say)
    g = ms.grad(lambda x: (w.set_data(x * 0 + 1) * x).sum() if False else (w * x).sum())(Tensor([1.0, 1.0]))
    assert close(g, [7.0, 8.0])


def test_parameter_copy_pickle_and_tuple():
    import copy
    import pickle

    w = Parameter(Tensor([1.0, 2.0]), name="w")
    for c in (copy.copy(w), copy.deepcopy(w), pickle.loads(pickle.dumps(w))):
        assert isinstance(c, Parameter) and c.name == "w" and close(c, [1.0, 2.0]) and c.data_ptr() != w.data_ptr()
    pt = ParameterTuple([w, Parameter(Tensor(1.0), name="b")])
    assert isinstance(pt, tuple) and len(pt) == 2
    assert [p.name for p in pt.clone("m")] == ["m.w", "m.b"]
    with pytest.raises(TypeError, match="element 0 must be a Parameter, got Tensor"):
        ParameterTuple([Tensor([1.0])])
    with pytest.raises(ValueError, match="the name 'w' is used by more than one parameter"):
        ParameterTuple([w, Parameter(Tensor(1.0), name="w")])


def test_parameter_gradient_in_a_training_step():
    w = Parameter(Tensor(np.zeros(2, np.float32)), name="w")
    xs = Tensor(np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], np.float32))
    ys = Tensor(np.array([1.0, 2.0, 3.0], np.float32))  # y = 1 * x0 + 2 * x1
    loss_fn = lambda x, y: ((ops.matmul(x, w) - y) ** 2).mean()  # noqa: E731
    step = ms.value_and_grad(loss_fn, None, [w])
    ptr = w.data_ptr()
    first = None
    for _ in range(200):
        loss, (gw,) = step(xs, ys)
        first = loss.item() if first is None else first
        w.set_data(w - gw * 0.3)
    assert loss.item() < 1e-6 * first and close(w, [1.0, 2.0], 1e-3, 1e-3) and w.data_ptr() == ptr


# ------------------------------------------------------------------------------------- memory
def test_repeated_gradients_do_not_leak():
    x = T([1.0, 2.0, 3.0])
    w = Parameter(T([0.5, 0.5, 0.5]), name="w")
    h = x.register_hook(lambda g: g * 1)
    f = custom_vjp(lambda x: x * 2, lambda x, out, dout: (dout * 2,))

    def step():
        ms.grad(lambda x: ms.grad(lambda x: (f(x) * w * ops.sin(x)).sum(), 0, [w])(x)[0].sum())(x)

    for _ in range(3):
        step()
    gc.collect()
    before = ms._C.alloc_live_blocks()
    for _ in range(20):
        step()
    gc.collect()
    assert ms._C.alloc_live_blocks() == before
    h.remove()
