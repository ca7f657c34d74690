"""Dense, Flatten, Dropout, Embedding and the activation cells: forward values and gradients against NumPy
references, and error messages."""
import math

import numpy as np
import pytest

import dynastat as ms
from dynastat import nn, Tensor
from nn_testutil import T, close, grads, rng, softmax, log_softmax


# ------------------------------------------------------------------------------------------ Dense
def test_dense_forward_and_gradients():
    ms.set_seed(0)
    d = nn.Dense(5, 3)
    r = rng(1)
    x = r.standard_normal((4, 5)).astype(np.float32)
    ct = r.standard_normal((4, 3)).astype(np.float32)
    w, b = d.weight.asnumpy(), d.bias.asnumpy()
    close(d(T(x)), x @ w.T + b, rtol=1e-5)
    (gx,), (gw, gb) = grads(d, [T(x)], ct, weights=d.trainable_params())
    close(gx, ct @ w, rtol=1e-5)
    close(gw, ct.T @ x, rtol=1e-5, atol=1e-5)
    close(gb, ct.sum(0), rtol=1e-5)


def test_dense_keeps_leading_dims_and_activation():
    d = nn.Dense(4, 2, weight_init="ones", bias_init="zeros", activation="relu")
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4) - 10
    out = d(T(x))
    assert out.shape == (2, 3, 2)
    close(out, np.maximum(np.repeat(x.sum(-1, keepdims=True), 2, -1), 0))
    d2 = nn.Dense(4, 2, activation=nn.Tanh(), has_bias=False)
    assert d2.bias is None and [p.name for p in d2.get_parameters()] == ["weight"]
    close(d2(T(x[0])), np.tanh(x[0] @ d2.weight.asnumpy().T), rtol=1e-5)
    assert "activation=Tanh<>" in repr(d2) or "activation=" in repr(d)


def test_dense_gradient_through_3d_input():
    ms.set_seed(2)
    d = nn.Dense(3, 2)
    x = rng(2).standard_normal((2, 4, 3)).astype(np.float32)
    ct = rng(3).standard_normal((2, 4, 2)).astype(np.float32)
    (gx,), (gw, gb) = grads(d, [T(x)], ct, weights=d.trainable_params())
    w = d.weight.asnumpy()
    close(gx, ct @ w, rtol=1e-5)
    close(gw, np.einsum("bto,bti->oi", ct, x), rtol=1e-5, atol=1e-5)
    close(gb, ct.sum((0, 1)), rtol=1e-5)


def test_dense_errors():
    d = nn.Dense(784, 10)
    with pytest.raises(ValueError, match=r"Dense: expected input with 784 features \(last dim\), got shape \(32, 100\)"):
        d(T(np.zeros((32, 100))))
    with pytest.raises(TypeError, match="Dense: argument 'in_channels' must be an int"):
        nn.Dense(3.5, 2)
    with pytest.raises(ValueError, match="'out_channels' must be at least 1"):
        nn.Dense(3, 0)
    with pytest.raises(KeyError, match="unknown activation 'nope'"):
        nn.Dense(3, 2, activation="nope")


# ------------------------------------------------------------------------------------------ Flatten
def test_flatten():
    x = T(np.arange(24).reshape(2, 3, 4).astype(np.float32))
    assert nn.Flatten()(x).shape == (2, 12)
    assert nn.Flatten(0, -1)(x).shape == (24,)
    assert nn.Flatten(1, 1)(x).shape == (2, 3, 4)
    assert nn.Flatten(start_dim=0, end_dim=1)(x).shape == (6, 4)
    close(nn.Flatten()(x), np.arange(24).reshape(2, 12))
    with pytest.raises(ValueError, match="Flatten: start_dim"):
        nn.Flatten(3)(x)
    (g,) = grads(nn.Flatten(), [x], np.ones((2, 12)))
    close(g, np.ones((2, 3, 4)))


# ------------------------------------------------------------------------------------------ Dropout
def test_dropout_identity_in_inference():
    x = T(np.ones((100, 100)))
    d = nn.Dropout(keep_prob=0.5)
    assert d(x) is x


def test_dropout_training_statistics_and_scaling():
    ms.set_seed(0)
    d = nn.Dropout(p=0.3).set_train()
    x = np.ones((200, 200), np.float32)
    y = d(T(x)).asnumpy()
    kept = y != 0
    np.testing.assert_allclose(y[kept], 1 / 0.7, rtol=1e-6)
    assert abs(kept.mean() - 0.7) < 0.01
    # keep_prob form
    d2 = nn.Dropout(keep_prob=0.9).set_train()
    y2 = d2(T(x)).asnumpy()
    assert abs((y2 != 0).mean() - 0.9) < 0.01
    # gradient is the same mask times the scale
    xin = T(x)
    ms.set_seed(7)
    y3 = d(xin).asnumpy()
    ms.set_seed(7)
    (g,) = grads(d, [xin], np.ones_like(x))
    close(g, y3)


def test_dropout_p_takes_precedence_and_keep_one_is_identity():
    assert nn.Dropout(keep_prob=0.1, p=0.2).keep_prob == pytest.approx(0.8)
    d = nn.Dropout(keep_prob=1.0).set_train()
    x = T(np.ones(10))
    assert d(x) is x
    d0 = nn.Dropout(p=0.0).set_train()
    assert d0(x) is x


def test_dropout_errors():
    with pytest.raises(ValueError, match=r"Dropout: argument 'keep_prob' must be in \(0.0, 1.0\]"):
        nn.Dropout(keep_prob=0.0)
    with pytest.raises(ValueError, match=r"Dropout: argument 'p' must be in \[0.0, 1.0\)"):
        nn.Dropout(p=1.0)


# ------------------------------------------------------------------------------------------ Embedding
def test_embedding_forward_and_gradient():
    ms.set_seed(4)
    e = nn.Embedding(10, 3)
    table = e.embedding_table.asnumpy()
    ids = np.array([[1, 2, 1], [9, 0, 1]], np.int32)
    out = e(Tensor(ids))
    assert out.shape == (2, 3, 3)
    close(out, table[ids])
    ct = rng(5).standard_normal((2, 3, 3)).astype(np.float32)
    (g,) = ms.grad(lambda i: (e(i) * T(ct)).sum(), grad_position=None, weights=e.trainable_params())(Tensor(ids))
    ref = np.zeros_like(table)
    np.add.at(ref, ids, ct)
    close(g, ref, rtol=1e-5, atol=1e-6)


def test_embedding_one_hot_and_padding_idx():
    ms.set_seed(6)
    e = nn.Embedding(5, 4, use_one_hot=True, padding_idx=2)
    table = e.embedding_table.asnumpy()
    np.testing.assert_array_equal(table[2], np.zeros(4))
    ids = np.array([0, 2, 4, 2], np.int64)
    close(e(Tensor(ids)), table[ids], rtol=1e-6)
    (g,) = ms.grad(lambda i: e(i).sum(), grad_position=None, weights=e.trainable_params())(Tensor(ids))
    ref = np.zeros_like(table)
    np.add.at(ref, ids, 1.0)
    close(g, ref)


def test_embedding_errors():
    e = nn.Embedding(5, 2)
    with pytest.raises(TypeError, match="Embedding: input must be a Tensor of integer ids, got dtype Float32"):
        e(T(np.zeros(3)))
    with pytest.raises(ValueError, match=r"padding_idx must be in \[0, 5\)"):
        nn.Embedding(5, 2, padding_idx=5)


# ------------------------------------------------------------------------------------------ activations
def _gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def _gelu_tanh_grad(x):
    u = math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)
    du = math.sqrt(2 / math.pi) * (1 + 3 * 0.044715 * x ** 2)
    t = np.tanh(u)
    return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du


def _erf(x):
    return np.vectorize(math.erf)(x)


ACTS = [
    (nn.ReLU(), lambda x: np.maximum(x, 0), lambda x: (x > 0).astype(float)),
    (nn.ReLU6(), lambda x: np.clip(x, 0, 6), lambda x: ((x > 0) & (x < 6)).astype(float)),
    (nn.LeakyReLU(0.1), lambda x: np.where(x >= 0, x, 0.1 * x), lambda x: np.where(x > 0, 1.0, 0.1)),
    (nn.Sigmoid(), lambda x: 1 / (1 + np.exp(-x)), lambda x: np.exp(-x) / (1 + np.exp(-x)) ** 2),
    (nn.Tanh(), np.tanh, lambda x: 1 - np.tanh(x) ** 2),
    (nn.GELU(), _gelu_tanh, _gelu_tanh_grad),
    (nn.GELU(approximate=False), lambda x: 0.5 * x * (1 + _erf(x / math.sqrt(2))),
     lambda x: 0.5 * (1 + _erf(x / math.sqrt(2))) + x * np.exp(-x * x / 2) / math.sqrt(2 * math.pi)),
    (nn.SiLU(), lambda x: x / (1 + np.exp(-x)),
     lambda x: 1 / (1 + np.exp(-x)) + x * np.exp(-x) / (1 + np.exp(-x)) ** 2),
    (nn.ELU(), lambda x: np.where(x > 0, x, np.exp(x) - 1), lambda x: np.where(x > 0, 1.0, np.exp(x))),
]


@pytest.mark.parametrize("cell,f,df", ACTS, ids=lambda v: type(v).__name__ if isinstance(v, nn.Cell) else "")
def test_activation_forward_and_gradient(cell, f, df):
    x = np.array([-3.0, -1.2, -0.4, 0.3, 0.9, 2.5, 7.0])
    close(cell(T(x)), f(x), rtol=2e-5, atol=2e-6)
    (g,) = grads(cell, [T(x)], np.ones_like(x))
    close(g, df(x), rtol=2e-4, atol=2e-6)
    x64 = Tensor(x)
    close(cell(x64), f(x), rtol=1e-12, atol=1e-12)


def test_get_activation():
    assert isinstance(nn.layer.get_activation("ReLU"), nn.ReLU)
    assert nn.layer.get_activation(None) is None


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_softmax_and_log_softmax(axis):
    x = rng(8).standard_normal((3, 4, 5)) * 3
    ct = rng(9).standard_normal((3, 4, 5))
    s = softmax(x, axis)
    close(nn.Softmax(axis)(T(x)), s, rtol=1e-5, atol=1e-7)
    close(nn.LogSoftmax(axis)(T(x)), log_softmax(x, axis), rtol=1e-5, atol=1e-6)
    (g,) = grads(nn.Softmax(axis), [T(x)], ct)
    close(g, s * (ct - (ct * s).sum(axis, keepdims=True)), rtol=1e-4, atol=1e-6)
    (g,) = grads(nn.LogSoftmax(axis), [T(x)], ct)
    close(g, ct - s * ct.sum(axis, keepdims=True), rtol=1e-4, atol=1e-5)


def test_softmax_axis_error():
    with pytest.raises(ValueError, match=r"Softmax: axis 3 is out of range for an input of shape \(2, 2\)"):
        nn.Softmax(3)(T(np.ones((2, 2))))
