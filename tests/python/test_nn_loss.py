"""Losses against NumPy references: values for every reduction, gradients with respect to the logits, the
seeds' defaults, and error messages."""
import numpy as np
import pytest

from dynastat import nn, Tensor
from nn_testutil import T, close, grads, rng, log_softmax, softmax


def _reduce(v, reduction):
    return {"mean": v.mean(), "sum": v.sum(), "none": v}[reduction]


def _grad_of(loss, x, y):
    (g,) = grads(lambda a: loss(a, y), [x])
    return g


# ------------------------------------------------------------------------------------------ MSE / L1
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_and_l1(reduction):
    r = rng(0)
    x, y = r.standard_normal((3, 4)), r.standard_normal((3, 4))
    close(nn.MSELoss(reduction)(T(x), T(y)), _reduce((x - y) ** 2, reduction), rtol=1e-5)
    close(nn.L1Loss(reduction)(T(x), T(y)), _reduce(np.abs(x - y), reduction), rtol=1e-5)
    scale = 1.0 / x.size if reduction == "mean" else 1.0
    if reduction != "none":
        close(_grad_of(nn.MSELoss(reduction), T(x), T(y)), 2 * (x - y) * scale, rtol=1e-5)
        close(_grad_of(nn.L1Loss(reduction), T(x), T(y)), np.sign(x - y) * scale, rtol=1e-5)


def test_mse_defaults_and_broadcast():
    assert nn.MSELoss().reduction == "mean" and nn.L1Loss().reduction == "mean"
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    close(nn.MSELoss()(T(x), T(np.ones(3))), ((x - 1) ** 2).mean())
    with pytest.raises(ValueError, match=r"MSELoss: logits of shape \(2, 3\) and labels of shape \(2,\) cannot be "
                                         "broadcast"):
        nn.MSELoss()(T(x), T(np.ones(2)))
    with pytest.raises(ValueError, match="MSELoss: argument 'reduction' must be 'mean', 'sum' or 'none'"):
        nn.MSELoss("avg")


def test_smooth_l1():
    x = np.array([0.0, 0.5, 2.0, -3.0])
    y = np.zeros(4)
    ref = np.where(np.abs(x) < 1, 0.5 * x * x, np.abs(x) - 0.5)
    close(nn.SmoothL1Loss()(T(x), T(y)), ref)
    (g,) = grads(lambda a: nn.SmoothL1Loss(beta=2.0, reduction="sum")(a, T(y)), [T(x)])
    close(g, np.where(np.abs(x) < 2, x / 2.0, np.sign(x)))


# ------------------------------------------------------------------------------------------ CrossEntropyLoss
def ce_ref(x, labels, weight=None, ignore_index=-100, reduction="mean", ls=0.0):
    """CrossEntropy over class dim 1 with integer labels (PyTorch / the seeds' semantics)."""
    x = np.moveaxis(x, 1, -1).reshape(-1, x.shape[1])
    lab = labels.reshape(-1)
    c = x.shape[1]
    lp = log_softmax(x, -1)
    w = np.ones(c) if weight is None else weight
    valid = lab != ignore_index
    safe = np.where(valid, lab, 0)
    wi = w[safe] * valid
    nll = -lp[np.arange(len(lab)), safe] * wi
    smooth = -(lp * w).sum(-1) * valid
    if reduction == "none":
        out = (1 - ls) * nll + ls / c * smooth
        return out.reshape(labels.shape)
    if reduction == "sum":
        return (1 - ls) * nll.sum() + ls / c * smooth.sum()
    return ((1 - ls) * nll.sum() + ls / c * smooth.sum()) / wi.sum()


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_class_indices(reduction):
    r = rng(1)
    x = r.standard_normal((5, 4)) * 2
    y = np.array([0, 3, 1, 1, 2], np.int32)
    loss = nn.CrossEntropyLoss(reduction=reduction)
    close(loss(T(x), Tensor(y)), ce_ref(x, y, reduction=reduction), rtol=1e-5, atol=1e-6)
    if reduction != "none":
        onehot = np.eye(4)[y]
        g = (softmax(x) - onehot) / (5 if reduction == "mean" else 1)
        close(_grad_of(loss, T(x), Tensor(y)), g, rtol=1e-4, atol=1e-6)


def test_cross_entropy_weight_ignore_index_and_smoothing():
    r = rng(2)
    x = r.standard_normal((6, 3))
    y = np.array([0, 2, -100, 1, 2, 0], np.int64)
    w = np.array([0.2, 1.0, 3.0])
    for ls in (0.0, 0.1):
        for red in ("mean", "sum", "none"):
            loss = nn.CrossEntropyLoss(weight=T(w), reduction=red, label_smoothing=ls)
            close(loss(T(x), Tensor(y)), ce_ref(x, y, w, reduction=red, ls=ls), rtol=1e-5, atol=1e-6)
    loss = nn.CrossEntropyLoss(weight=T(w), label_smoothing=0.1)
    num = _fd(lambda v: ce_ref(v, y, w, ls=0.1), x)
    close(_grad_of(loss, Tensor(x), Tensor(y)), num, rtol=1e-5, atol=1e-7)
    loss_ii = nn.CrossEntropyLoss(ignore_index=2)
    close(loss_ii(T(x), Tensor(np.array([0, 2, 1, 1, 2, 0]))), ce_ref(x, np.array([0, 2, 1, 1, 2, 0]),
                                                                           ignore_index=2), rtol=1e-5)


def _fd(f, x, eps=1e-6):
    from nn_testutil import numeric_grad
    return numeric_grad(lambda v: float(f(v)), x, eps)


def test_cross_entropy_spatial_and_1d():
    r = rng(3)
    x = r.standard_normal((2, 3, 4, 5))
    y = r.integers(0, 3, (2, 4, 5))
    close(nn.CrossEntropyLoss()(T(x), Tensor(y)), ce_ref(x, y), rtol=1e-5, atol=1e-6)
    out = nn.CrossEntropyLoss(reduction="none")(T(x), Tensor(y))
    assert out.shape == (2, 4, 5)
    num = _fd(lambda v: ce_ref(v, y), x)
    close(_grad_of(nn.CrossEntropyLoss(), Tensor(x), Tensor(y)), num, rtol=1e-5, atol=1e-7)


def test_cross_entropy_probability_targets():
    r = rng(4)
    x = r.standard_normal((4, 3))
    p = softmax(r.standard_normal((4, 3)))
    ref = -(p * log_softmax(x)).sum(-1)
    close(nn.CrossEntropyLoss()(T(x), T(p)), ref.mean(), rtol=1e-5)
    close(nn.CrossEntropyLoss(reduction="none")(T(x), T(p)), ref, rtol=1e-5)
    close(_grad_of(nn.CrossEntropyLoss(reduction="sum"), T(x), T(p)), softmax(x) - p, rtol=1e-4, atol=1e-6)
    ps = p * 0.8 + 0.2 / 3
    close(nn.CrossEntropyLoss(label_smoothing=0.2)(T(x), T(p)), (-(ps * log_softmax(x)).sum(-1)).mean(), rtol=1e-5)


def test_cross_entropy_errors():
    loss = nn.CrossEntropyLoss()
    with pytest.raises(ValueError, match=r"CrossEntropyLoss: class-index labels must have shape \(4,\) for logits of "
                                         r"shape \(4, 3\), got \(4, 1\)"):
        loss(T(np.zeros((4, 3))), Tensor(np.zeros((4, 1), np.int32)))
    with pytest.raises(ValueError, match=r"CrossEntropyLoss: weight must be a Tensor of shape \(3,\)"):
        nn.CrossEntropyLoss(weight=T(np.ones(2)))(T(np.zeros((4, 3))), Tensor(np.zeros(4, np.int32)))


def test_nll_loss():
    r = rng(5)
    lp = log_softmax(r.standard_normal((4, 3)))
    y = np.array([2, 0, 1, 1])
    close(nn.NLLLoss()(T(lp), Tensor(y)), -lp[np.arange(4), y].mean(), rtol=1e-5)
    w = np.array([1.0, 2.0, 0.5])
    close(nn.NLLLoss(weight=T(w), reduction="sum")(T(lp), Tensor(y)), -(w[y] * lp[np.arange(4), y]).sum(),
          rtol=1e-5)
    g = _grad_of(nn.NLLLoss(weight=T(w)), T(lp), Tensor(y))
    ref = np.zeros((4, 3))
    ref[np.arange(4), y] = -w[y] / w[y].sum()
    close(g, ref, rtol=1e-5, atol=1e-7)


# ------------------------------------------------------------------------------------------ SoftmaxCrossEntropyWithLogits
def test_softmax_cross_entropy_with_logits_dense_and_sparse():
    r = rng(6)
    x = r.standard_normal((5, 4)) * 3
    y = np.array([1, 0, 3, 3, 2])
    onehot = np.eye(4)[y]
    per = -(onehot * log_softmax(x)).sum(-1)
    dense = nn.SoftmaxCrossEntropyWithLogits()
    assert dense.reduction == "none" and dense.sparse is False
    close(dense(T(x), T(onehot)), per, rtol=1e-5, atol=1e-6)
    sparse = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    close(sparse(T(x), Tensor(y.astype(np.int32))), per.mean(), rtol=1e-5)
    close(_grad_of(sparse, T(x), Tensor(y.astype(np.int32))), (softmax(x) - onehot) / 5, rtol=1e-4, atol=1e-6)
    soft = softmax(r.standard_normal((5, 4)))
    (g,) = grads(lambda a: dense(a, T(soft)), [T(x)], np.ones(5))
    close(g, softmax(x) - soft, rtol=1e-4, atol=1e-6)


def test_softmax_cross_entropy_with_logits_errors():
    with pytest.raises(ValueError, match=r"SoftmaxCrossEntropyWithLogits: labels must have the logits' shape \(2, 3\)"):
        nn.SoftmaxCrossEntropyWithLogits()(T(np.zeros((2, 3))), Tensor(np.zeros(2, np.int32)))
    with pytest.raises(ValueError, match=r"with sparse=True, labels must be integer class indices of shape \(2,\)"):
        nn.SoftmaxCrossEntropyWithLogits(sparse=True)(T(np.zeros((2, 3))), T(np.zeros((2, 3))))


# ------------------------------------------------------------------------------------------ BCEWithLogitsLoss
def bce_ref(x, y, weight=None, pos_weight=None):
    ls = -np.logaddexp(0, -x)   # log sigmoid(x)
    l1s = -np.logaddexp(0, x)   # log(1 - sigmoid(x))
    pw = 1.0 if pos_weight is None else pos_weight
    loss = -(pw * y * ls + (1 - y) * l1s)
    return loss if weight is None else loss * weight


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_with_logits(reduction):
    r = rng(7)
    x = r.standard_normal((3, 4)) * 4
    y = r.random((3, 4))
    close(nn.BCEWithLogitsLoss(reduction)(T(x), T(y)), _reduce(bce_ref(x, y), reduction), rtol=1e-5, atol=1e-6)
    if reduction == "sum":
        sig = 1 / (1 + np.exp(-x))
        close(_grad_of(nn.BCEWithLogitsLoss("sum"), T(x), T(y)), sig - y, rtol=1e-4, atol=1e-6)


def test_bce_with_logits_weight_and_pos_weight_and_extremes():
    r = rng(8)
    x = r.standard_normal((2, 3))
    y = (r.random((2, 3)) > 0.5).astype(float)
    w = r.random((2, 3))
    pw = np.array([1.0, 2.0, 0.5])
    loss = nn.BCEWithLogitsLoss(weight=T(w), pos_weight=T(pw))
    close(loss(T(x), T(y)), bce_ref(x, y, w, pw).mean(), rtol=1e-5)
    num = _fd(lambda v: bce_ref(v, y, w, pw).mean(), x)
    close(_grad_of(loss, Tensor(x), Tensor(y)), num, rtol=1e-5, atol=1e-7)
    big = np.array([100.0, -100.0])
    close(nn.BCEWithLogitsLoss("none")(T(big), T(np.array([0.0, 1.0]))), [100.0, 100.0], rtol=1e-5)


def test_bce_with_logits_errors():
    with pytest.raises(ValueError, match=r"BCEWithLogitsLoss: labels must have the logits' shape \(2, 2\), got \(2,\)"):
        nn.BCEWithLogitsLoss()(T(np.zeros((2, 2))), T(np.zeros(2)))
    with pytest.raises(TypeError, match="BCEWithLogitsLoss: weight must be a Tensor or None"):
        nn.BCEWithLogitsLoss(weight=[1.0])
