"""Optimizers against reference update loops written in NumPy from the seeds' formulas: several steps with
fixed gradients, in-place updates, learning-rate forms, groups, weight-decay filtering, errors."""
import numpy as np
import pytest

import dynastat as ms
from dynastat import nn, Tensor, Parameter
from nn_testutil import T, rng

STEPS = 5


def make_params(seed=0, names=("w", "b")):
    r = rng(seed)
    shapes = [(3, 4), (4,)]
    return [Parameter(T(r.standard_normal(s)), name=n) for s, n in zip(shapes, names)]


def grad_seq(params, seed=1):
    r = rng(seed)
    return [[r.standard_normal(p.shape) for p in params] for _ in range(STEPS)]


def run(opt, params, gs):
    ids = [id(p) for p in params]
    for step in gs:
        assert opt(tuple(T(g) for g in step)) is True
    assert [id(p) for p in opt.parameters] == ids  # updated in place
    return [p.asnumpy().astype(np.float64) for p in params]


# ------------------------------------------------------------------------------------------ references
def sgd_ref(ps, gs, lr, momentum=0.0, dampening=0.0, wd=0.0, nesterov=False):
    ps = [p.copy() for p in ps]
    acc = [None] * len(ps)
    for step in gs:
        for i, g in enumerate(step):
            g = g + wd * ps[i]
            if momentum > 0:
                acc[i] = g.copy() if acc[i] is None else momentum * acc[i] + (1 - dampening) * g
                g = g + momentum * acc[i] if nesterov else acc[i]
            ps[i] = ps[i] - lr * g
    return ps


def momentum_ref(ps, gs, lr, momentum, wd=0.0, nesterov=False, decay=None):
    ps = [p.copy() for p in ps]
    acc = [np.zeros_like(p) for p in ps]
    for step in gs:
        for i, g in enumerate(step):
            if decay is None or decay[i]:
                g = g + wd * ps[i]
            acc[i] = momentum * acc[i] + g
            ps[i] = ps[i] - (lr * g + lr * momentum * acc[i] if nesterov else lr * acc[i])
    return ps


def adam_ref(ps, gs, lr, b1=0.9, b2=0.999, eps=1e-8, wd=0.0, nesterov=False, amsgrad=False, decay=None):
    ps = [p.copy() for p in ps]
    m = [np.zeros_like(p) for p in ps]
    v = [np.zeros_like(p) for p in ps]
    vh = [np.zeros_like(p) for p in ps]
    for t, step in enumerate(gs, 1):
        lr_t = lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        for i, g in enumerate(step):
            if decay is None or decay[i]:
                g = g + wd * ps[i]
            m[i] = m[i] + (g - m[i]) * (1 - b1)
            v[i] = v[i] + (g * g - v[i]) * (1 - b2)
            vv = v[i]
            if amsgrad:
                vh[i] = np.maximum(vh[i], v[i])
                vv = vh[i]
            num = m[i] * b1 + (1 - b1) * g if nesterov else m[i]
            ps[i] = ps[i] - lr_t * num / (np.sqrt(vv) + eps)
    return ps


def adam_weight_decay_ref(ps, gs, lr, b1=0.9, b2=0.999, eps=1e-6, wd=0.0, decay=None):
    ps = [p.copy() for p in ps]
    m = [np.zeros_like(p) for p in ps]
    v = [np.zeros_like(p) for p in ps]
    for step in gs:
        for i, g in enumerate(step):
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            upd = m[i] / (np.sqrt(v[i]) + eps)
            if decay is None or decay[i]:
                upd = upd + wd * ps[i]
            ps[i] = ps[i] - lr * upd
    return ps


def adamw_ref(ps, gs, lr, b1=0.9, b2=0.999, eps=1e-8, wd=1e-2, amsgrad=False):
    ps = [p.copy() for p in ps]
    m = [np.zeros_like(p) for p in ps]
    v = [np.zeros_like(p) for p in ps]
    vmax = [np.zeros_like(p) for p in ps]
    for t, step in enumerate(gs, 1):
        for i, g in enumerate(step):
            ps[i] = ps[i] * (1 - lr * wd)
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            vv = v[i]
            if amsgrad:
                vmax[i] = np.maximum(vmax[i], v[i])
                vv = vmax[i]
            denom = np.sqrt(vv) / np.sqrt(1 - b2 ** t) + eps
            ps[i] = ps[i] - lr / (1 - b1 ** t) * m[i] / denom
    return ps


def _start(params):
    return [p.asnumpy().astype(np.float64) for p in params]


def _check(got, want, rtol=2e-5, atol=2e-6):
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)


# ------------------------------------------------------------------------------------------ SGD
@pytest.mark.parametrize("kw", [{}, {"momentum": 0.9}, {"momentum": 0.9, "dampening": 0.3},
                                {"momentum": 0.8, "nesterov": True}, {"momentum": 0.5, "weight_decay": 0.1},
                                {"weight_decay": 0.05}])
def test_sgd(kw):
    ps = make_params()
    p0, gs = _start(ps), grad_seq(ps)
    opt = nn.SGD(ps, learning_rate=0.05, **kw)
    want = sgd_ref(p0, gs, 0.05, kw.get("momentum", 0.0), kw.get("dampening", 0.0), kw.get("weight_decay", 0.0),
                   kw.get("nesterov", False))
    _check(run(opt, ps, gs), want)


def test_sgd_defaults():
    ps = make_params()
    opt = nn.SGD(ps)
    assert opt.get_lr().asnumpy() == np.float32(0.1)
    assert opt.momentum == 0.0 and opt.dampening == 0.0 and opt.weight_decay == 0.0 and opt.nesterov is False
    with pytest.raises(ValueError, match="nesterov needs momentum > 0"):
        nn.SGD(ps, nesterov=True)


# ------------------------------------------------------------------------------------------ Momentum
@pytest.mark.parametrize("kw", [{}, {"use_nesterov": True}, {"weight_decay": 0.01}])
def test_momentum(kw):
    ps = make_params(names=("w", "gamma"))
    p0, gs = _start(ps), grad_seq(ps, 2)
    opt = nn.Momentum(ps, learning_rate=0.1, momentum=0.9, **kw)
    want = momentum_ref(p0, gs, 0.1, 0.9, kw.get("weight_decay", 0.0), kw.get("use_nesterov", False),
                        decay=[True, False])  # 'gamma' is not decayed
    _check(run(opt, ps, gs), want)


# ------------------------------------------------------------------------------------------ Adam family
@pytest.mark.parametrize("kw", [{}, {"use_nesterov": True}, {"use_amsgrad": True}, {"weight_decay": 0.1},
                                {"beta1": 0.5, "beta2": 0.9, "eps": 1e-3}])
def test_adam(kw):
    ps = make_params(names=("fc.weight", "bn.beta"))
    p0, gs = _start(ps), grad_seq(ps, 3)
    opt = nn.Adam(ps, learning_rate=0.01, **kw)
    want = adam_ref(p0, gs, 0.01, kw.get("beta1", 0.9), kw.get("beta2", 0.999), kw.get("eps", 1e-8),
                    kw.get("weight_decay", 0.0), kw.get("use_nesterov", False), kw.get("use_amsgrad", False),
                    decay=[True, False])
    _check(run(opt, ps, gs), want)


def test_adam_weight_decay():
    ps = make_params(names=("w", "ln.gamma"))
    p0, gs = _start(ps), grad_seq(ps, 4)
    opt = nn.AdamWeightDecay(ps, learning_rate=0.01, weight_decay=0.1)
    _check(run(opt, ps, gs), adam_weight_decay_ref(p0, gs, 0.01, wd=0.1, decay=[True, False]))


@pytest.mark.parametrize("kw", [{}, {"amsgrad": True}, {"weight_decay": 0.0}])
def test_adamw(kw):
    ps = make_params()
    p0, gs = _start(ps), grad_seq(ps, 5)
    opt = nn.AdamW(ps, lr=0.02, betas=(0.8, 0.99), **kw)
    _check(run(opt, ps, gs), adamw_ref(p0, gs, 0.02, 0.8, 0.99, wd=kw.get("weight_decay", 1e-2),
                                       amsgrad=kw.get("amsgrad", False)))


def test_loss_scale_divides_gradients():
    ps = make_params()
    p0, gs = _start(ps), grad_seq(ps, 6)
    opt = nn.Momentum(ps, 0.1, 0.9, loss_scale=4.0)
    run(opt, ps, [[g * 4.0 for g in step] for step in gs])
    _check(_start(ps), momentum_ref(p0, gs, 0.1, 0.9))


# ------------------------------------------------------------------------------------------ learning rates
def test_dynamic_learning_rate_list_and_global_step():
    ps = make_params()
    p0, gs = _start(ps), grad_seq(ps, 7)
    lrs = [0.1, 0.05, 0.01]
    opt = nn.SGD(ps, learning_rate=lrs)
    seen = []
    for step in gs:
        seen.append(float(opt.get_lr().asnumpy()))
        opt(tuple(T(g) for g in step))
    np.testing.assert_allclose(seen, [0.1, 0.05, 0.01, 0.01, 0.01], rtol=1e-6)
    want = [p.copy() for p in p0]
    for lr, step in zip(seen, gs):
        want = [w - lr * g for w, g in zip(want, step)]
    _check(_start(ps), want)
    assert opt.global_step.asnumpy().tolist() == [STEPS]
    opt2 = nn.SGD(make_params(), learning_rate=Tensor(np.array([0.3, 0.2], np.float32)))
    assert float(opt2.get_lr().asnumpy()) == pytest.approx(0.3)


def test_schedule_learning_rate():
    ps = make_params()
    opt = nn.SGD(ps, learning_rate=lambda step: 0.5 / (1 + float(step.asnumpy())))
    got = []
    for _ in range(3):
        got.append(float(opt.get_lr().asnumpy()))
        opt(tuple(T(np.zeros(p.shape)) for p in ps))
    np.testing.assert_allclose(got, [0.5, 0.25, 0.5 / 3], rtol=1e-6)


def test_parameter_groups():
    ps = make_params()
    p0, gs = _start(ps), grad_seq(ps, 8)
    opt = nn.Momentum([{"params": [ps[0]], "lr": 0.2, "weight_decay": 0.1}, {"params": [ps[1]]}],
                      learning_rate=0.05, momentum=0.9)
    assert opt.is_group
    lrs = opt.get_lr()
    assert isinstance(lrs, tuple) and [float(v.asnumpy()) for v in lrs] == pytest.approx([0.2, 0.05])
    assert float(opt.get_lr_parameter(ps[1]).asnumpy()) == pytest.approx(0.05)
    run(opt, ps, gs)
    w = momentum_ref([p0[0]], [[s[0]] for s in gs], 0.2, 0.9, 0.1)
    b = momentum_ref([p0[1]], [[s[1]] for s in gs], 0.05, 0.9)
    _check(_start(ps), w + b)


# ------------------------------------------------------------------------------------------ errors
def test_optimizer_errors():
    ps = make_params()
    opt = nn.SGD(ps)
    with pytest.raises(ValueError, match="SGD: got 1 gradients for 2 parameters"):
        opt((T(np.zeros((3, 4))),))
    with pytest.raises(ValueError, match=r"SGD: the gradient of 'b' must have shape \(4,\), got \(3,\)"):
        opt((T(np.zeros((3, 4))), T(np.zeros(3))))
    with pytest.raises(TypeError, match="SGD: gradients must be a tuple of Tensors"):
        opt(T(np.zeros(4)))
    with pytest.raises(ValueError, match="SGD: the parameter list is empty"):
        nn.SGD([])
    with pytest.raises(ValueError, match="learning_rate must be non-negative"):
        nn.SGD(ps, learning_rate=-1.0)
    with pytest.raises(ValueError, match="weight_decay must be non-negative"):
        nn.Adam(ps, weight_decay=-0.1)
    with pytest.raises(ValueError, match="'beta1' must be in"):
        nn.Adam(ps, beta1=1.0)
    bn = nn.BatchNorm2d(2)
    with pytest.raises(ValueError, match="requires_grad=False; pass trainable_params"):
        nn.SGD(list(bn.get_parameters()))
    with pytest.raises(ValueError, match="parameter name clash"):
        nn.SGD([Parameter(T(np.ones(2)), name="x"), Parameter(T(np.ones(2)), name="x")])


def test_optimizer_on_network_trainable_params():
    ms.set_seed(0)
    net = nn.Dense(3, 2)
    opt = nn.Adam(net.trainable_params(), learning_rate=0.1)
    assert [p.name for p in opt.parameters] == ["weight", "bias"]
    w0 = net.weight.asnumpy().copy()
    opt((T(np.ones((2, 3))), T(np.ones(2))))
    # first Adam step moves every element by about lr against the gradient's sign
    np.testing.assert_allclose(net.weight.asnumpy(), w0 - 0.1, rtol=1e-4, atol=1e-5)
