"""Eager autograd with nn.Cell: the seed's GradNetWrtX with real Cells, gradients of Cell parameters
(trainable_params, GradOperation with a ParameterTuple), Cell.bprop (custom backward) and Cell backward
hooks, all running on dynastat.common.autograd."""
import numpy as np
import pytest

import dynastat as ms
from dynastat import Parameter, ParameterTuple, Tensor, nn, ops


def close(a, b, rtol=1e-6, atol=1e-6):
    a = a.asnumpy() if isinstance(a, ms._C.TensorBase) else np.asarray(a)
    b = b.asnumpy() if isinstance(b, ms._C.TensorBase) else np.asarray(b)
    return a.shape == b.shape and np.allclose(a, b, rtol=rtol, atol=atol)


class Net(nn.Cell):
    def __init__(self):
        super(Net, self).__init__()
        self.matmul = ops.MatMul()
        self.z = ms.Parameter(ms.Tensor(np.array([2.0], np.float32)), name='z')

    def construct(self, x, y):
        x = x * self.z
        out = self.matmul(x, y)
        return out


class GradNetWrtX(nn.Cell):
    def __init__(self, net):
        super(GradNetWrtX, self).__init__()
        self.net = net

    def construct(self, x, y):
        gradient_function = ms.grad(self.net)
        return gradient_function(x, y)


X = [[0.8, 0.6, 0.2], [1.8, 1.3, 1.1]]
Y = [[0.11, 3.3, 1.1], [1.1, 0.2, 1.4], [1.1, 2.2, 0.3]]


def test_seed_grad_net_wrt_x_with_cells():
    x = ms.Tensor(X, dtype=ms.float32)
    y = ms.Tensor(Y, dtype=ms.float32)
    output = GradNetWrtX(Net())(x, y)
    assert output.shape == (2, 3) and output.dtype == ms.float32
    assert np.allclose(output.asnumpy(), 2.0 * np.ones((2, 3)) @ np.array(Y).T, rtol=1e-6)


def test_cell_parameters_and_grad_operation():
    net = Net()
    x = ms.Tensor(X, dtype=ms.float32)
    y = ms.Tensor(Y, dtype=ms.float32)
    params = net.trainable_params()
    assert [p.name for p in params] == ["z"]
    (gz,) = ms.grad(net, None, params)(x, y)
    expect = (np.array(X) * (np.ones((2, 3)) @ np.array(Y).T)).sum()  # d/dz sum((x * z) @ y)
    assert close(gz, [expect], 1e-5)
    (gx, gy), (gz2,) = ops.GradOperation(get_all=True, get_by_list=True)(net, ParameterTuple(params))(x, y)
    assert close(gz2, gz) and close(gx, 2.0 * np.ones((2, 3)) @ np.array(Y).T, 1e-5)
    assert close(gy, 2.0 * np.array(X).T @ np.ones((2, 3)), 1e-5)


def test_dense_training_with_value_and_grad():
    ms.set_seed(3)
    dense = nn.Dense(2, 1)
    xs = Tensor(np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 1.0]], np.float32))
    ys = Tensor(np.array([[1.0], [-2.0], [-1.0], [0.0]], np.float32))  # y = x0 - 2 x1
    weights = dense.trainable_params()

    def forward(x, y):
        out = dense(x)
        return ((out - y) ** 2).mean(), out

    step = ms.value_and_grad(forward, None, weights, has_aux=True)
    first = None
    for _ in range(400):
        (loss, logits), grads = step(xs, ys)
        assert logits.shape == (4, 1) and len(grads) == len(weights)
        first = loss.item() if first is None else first
        for w, g in zip(weights, grads):
            w.set_data(w - g * 0.1)
    assert loss.item() < 1e-4 * first
    assert close(weights[0], [[1.0, -2.0]], 1e-2, 1e-2)


class Twice(nn.Cell):
    """out = 2 x, with a deliberately different backward (7 * dout) to see that it is used."""

    def __init__(self):
        super().__init__()
        self.w = Parameter(Tensor([1.0, 1.0]), name="w")
        self.calls = []

    def construct(self, x):
        return x * 2 * self.w

    def bprop(self, x, out, dout):
        self.calls.append((out.asnumpy().copy(), dout.asnumpy().copy()))
        return (dout * 7,)


def test_cell_bprop_is_the_backward():
    cell = Twice()
    x = Tensor([1.0, 3.0])
    g = ms.grad(lambda x: (cell(x) * Tensor([1.0, 10.0])).sum())(x)
    assert close(g, [7.0, 70.0])
    assert len(cell.calls) == 1
    out, dout = cell.calls[0]
    assert np.allclose(out, [2.0, 6.0]) and np.allclose(dout, [1.0, 10.0])
    # parameters read inside a Cell with bprop get no gradient from it (bprop defines the gradient)
    (gw,) = ms.grad(lambda x: cell(x).sum(), None, [cell.w])(x)
    assert close(gw, [0.0, 0.0])
    assert close(cell(x), [2.0, 6.0])  # outside a gradient the cell just runs construct


def test_cell_bprop_higher_order_and_errors():
    class Square(nn.Cell):
        def construct(self, x):
            return x * x

        def bprop(self, x, out, dout):
            return (dout * x * 2,)

    sq = Square()
    x = Tensor([1.0, 2.0])
    assert close(ms.grad(lambda x: ms.grad(lambda x: sq(x).sum())(x).sum())(x), [2.0, 2.0])

    class WrongCount(nn.Cell):
        def construct(self, x, y):
            return x * y

        def bprop(self, x, y, out, dout):
            return (dout,)

    with pytest.raises(ValueError, match=r"the bprop of WrongCount returned 1 gradient for 2 inputs \(x, y\)"):
        ms.grad(lambda x: WrongCount()(x, x).sum())(x)

    class WrongShape(nn.Cell):
        def construct(self, x):
            return x * 2

        def bprop(self, x, out, dout):
            return (dout.sum(),)

    with pytest.raises(ValueError, match=r"the bprop of WrongShape returned a gradient of shape \(\) for input 0 "
                                         r"\('x'\) of shape \(2,\)"):
        ms.grad(lambda x: WrongShape()(x).sum())(x)

    class WrongSignature(nn.Cell):
        def construct(self, x):
            return x * 2

        def bprop(self, x, dout):
            return (dout,)

    with pytest.raises(TypeError, match="the bprop of WrongSignature must take the 1 input followed by out and dout"):
        ms.grad(lambda x: WrongSignature()(x).sum())(x)


def test_cell_backward_hooks():
    class Scale(nn.Cell):
        def construct(self, x, y):
            return x * 3 + y

    cell = Scale()
    seen = []

    def pre_hook(c, grad_output):
        seen.append(("pre", c is cell, [g.asnumpy().copy() for g in grad_output]))

    def post_hook(c, grad_input, grad_output):
        seen.append(("post", c is cell, [g.asnumpy().copy() for g in grad_input],
                     [g.asnumpy().copy() for g in grad_output]))
        return (grad_input[0] * 10, grad_input[1])

    h1 = cell.register_backward_pre_hook(pre_hook)
    h2 = cell.register_backward_hook(post_hook)
    x, y = Tensor([1.0, 2.0]), Tensor([5.0, 5.0])
    gx, gy = ms.grad(lambda x, y: (cell(x, y) * Tensor([1.0, 2.0])).sum(), (0, 1))(x, y)
    assert close(gx, [30.0, 60.0]) and close(gy, [1.0, 2.0])
    assert [s[0] for s in seen] == ["pre", "post"] and seen[0][1] and seen[1][1]
    assert np.allclose(seen[0][2][0], [1.0, 2.0])
    assert np.allclose(seen[1][2][0], [3.0, 6.0]) and np.allclose(seen[1][3][0], [1.0, 2.0])
    # uses of the inputs outside the cell do not go through its hooks
    gx, _ = ms.grad(lambda x, y: cell(x, y).sum() + x.sum(), (0, 1))(x, y)
    assert close(gx, [31.0, 31.0])
    h1.remove()
    h2.remove()
    seen.clear()
    gx = ms.grad(lambda x: cell(x, y).sum())(x)
    assert close(gx, [3.0, 3.0]) and seen == []
