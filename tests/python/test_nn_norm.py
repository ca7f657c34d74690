"""BatchNorm1d / BatchNorm2d / LayerNorm: forward values against NumPy, running statistics with the seeds'
momentum convention, inference mode, and finite-difference gradient checks (float64)."""
import numpy as np
import pytest

import dynastat as ms
from dynastat import nn, Tensor
from nn_testutil import T, close, grads, numeric_grad, rng


def bn_ref(x, gamma, beta, eps, axes):
    mean = x.mean(axes, keepdims=True)
    var = x.var(axes, keepdims=True)
    shape = [1] * x.ndim
    shape[1] = x.shape[1]
    return (x - mean) / np.sqrt(var + eps) * gamma.reshape(shape) + beta.reshape(shape), \
        mean.reshape(-1), var.reshape(-1)


def test_batchnorm2d_training_forward_and_running_stats():
    x = rng(0).standard_normal((4, 3, 5, 5)) * 2 + 1
    bn = nn.BatchNorm2d(3, gamma_init=Tensor(np.array([1.0, 2.0, 0.5], np.float32)),
                        beta_init=Tensor(np.array([0.0, -1.0, 3.0], np.float32)))
    bn.set_train()
    y_ref, mean, var = bn_ref(x, np.array([1.0, 2.0, 0.5]), np.array([0.0, -1.0, 3.0]), 1e-5, (0, 2, 3))
    close(bn(T(x)), y_ref, rtol=1e-4, atol=1e-5)
    # moving = momentum * moving + (1 - momentum) * batch, momentum = 0.9
    close(bn.moving_mean, 0.9 * 0 + 0.1 * mean, rtol=1e-5, atol=1e-6)
    close(bn.moving_variance, 0.9 * 1 + 0.1 * var, rtol=1e-5, atol=1e-6)
    bn(T(x))
    close(bn.moving_mean, 0.81 * 0 + (0.1 + 0.09) * mean, rtol=1e-5, atol=1e-6)
    close(bn.moving_variance, 0.81 * 1 + 0.19 * var, rtol=1e-5, atol=1e-6)


def test_batchnorm_inference_uses_moving_stats():
    bn = nn.BatchNorm2d(2, eps=1e-3, moving_mean_init=Tensor(np.array([1.0, -2.0], np.float32)),
                        moving_var_init=Tensor(np.array([4.0, 0.25], np.float32)))
    assert not bn.training
    x = rng(1).standard_normal((2, 2, 3, 3))
    mm = np.array([1.0, -2.0]).reshape(1, 2, 1, 1)
    mv = np.array([4.0, 0.25]).reshape(1, 2, 1, 1)
    close(bn(T(x)), (x - mm) / np.sqrt(mv + 1e-3), rtol=1e-5, atol=1e-6)
    close(bn.moving_mean, [1.0, -2.0])  # untouched in inference


def test_batchnorm_use_batch_statistics_overrides_mode():
    x = rng(2).standard_normal((3, 2, 2, 2))
    bn = nn.BatchNorm2d(2, use_batch_statistics=True)
    y_ref, _, _ = bn_ref(x, np.ones(2), np.zeros(2), 1e-5, (0, 2, 3))
    close(bn(T(x)), y_ref, rtol=1e-4, atol=1e-5)
    bn2 = nn.BatchNorm2d(2, use_batch_statistics=False).set_train()
    close(bn2(T(x)), x / np.sqrt(1 + 1e-5), rtol=1e-5, atol=1e-6)


def test_batchnorm_seed_example():
    # the seeds' CellCallSingleCell: conv (ones) on a 2x2 ones image, BatchNorm2d in its default (inference)
    # mode, then (x + x) * 0.5 squared
    conv = nn.Conv2d(1, 2, kernel_size=2, stride=1, padding=0, weight_init="ones", pad_mode="valid")
    bn = nn.BatchNorm2d(2, momentum=0.99, eps=0.00001, gamma_init="ones")
    x = bn(conv(T(np.ones((1, 1, 2, 2)))))
    out = (x + x) * Tensor(np.float32(0.5))
    out = out * out
    assert str(out) == "[[[[15.99984]]\n\n  [[15.99984]]]]"


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5)])
def test_batchnorm1d(shape):
    x = rng(3).standard_normal(shape)
    bn = nn.BatchNorm1d(3, momentum=0.8).set_train()
    axes = (0,) if len(shape) == 2 else (0, 2)
    y_ref, mean, var = bn_ref(x, np.ones(3), np.zeros(3), 1e-5, axes)
    close(bn(T(x)), y_ref, rtol=1e-4, atol=1e-5)
    close(bn.moving_mean, 0.2 * mean, rtol=1e-5, atol=1e-6)
    close(bn.moving_variance, 0.8 + 0.2 * var, rtol=1e-5, atol=1e-6)


def _fd_check(cell, x, params, ct, rtol=1e-6, atol=1e-8):
    """Autograd gradients of sum(cell(x) * ct) with respect to x and params against central differences
    (float64)."""
    (gx,), gws = grads(cell, [Tensor(x)], ct, weights=params)

    def f_x(v):
        return float((cell(Tensor(v)).asnumpy() * ct).sum())

    np.testing.assert_allclose(gx.asnumpy(), numeric_grad(f_x, x), rtol=rtol, atol=atol)
    for p, g in zip(params, gws):
        orig = p.asnumpy().copy()

        def f_p(v, p=p):
            p.set_data(Tensor(v))
            return float((cell(Tensor(x)).asnumpy() * ct).sum())

        num = numeric_grad(f_p, orig)
        p.set_data(Tensor(orig))
        np.testing.assert_allclose(g.asnumpy(), num, rtol=rtol, atol=atol, err_msg=p.name)


def test_batchnorm2d_training_gradient_finite_differences():
    r = rng(4)
    bn = nn.BatchNorm2d(3, gamma_init=Tensor(r.standard_normal(3)), beta_init=Tensor(r.standard_normal(3)),
                        dtype=ms.float64).set_train()
    x = r.standard_normal((3, 3, 2, 3))
    ct = r.standard_normal(x.shape)
    _fd_check(bn, x, [bn.gamma, bn.beta], ct, rtol=1e-5, atol=1e-7)


def test_batchnorm1d_inference_gradient_finite_differences():
    r = rng(5)
    bn = nn.BatchNorm1d(4, dtype=ms.float64, moving_mean_init=Tensor(r.standard_normal(4)),
                        moving_var_init=Tensor(r.random(4) + 0.5), gamma_init=Tensor(r.standard_normal(4)))
    x = r.standard_normal((5, 4))
    _fd_check(bn, x, [bn.gamma, bn.beta], r.standard_normal(x.shape), rtol=1e-6, atol=1e-8)


def test_batchnorm_training_gradient_closed_form():
    # d/dx of batch norm (gamma = 1): (dy - mean(dy) - xhat * mean(dy * xhat)) / sqrt(var + eps)
    r = rng(6)
    x = r.standard_normal((8, 2))
    dy = r.standard_normal((8, 2))
    bn = nn.BatchNorm1d(2).set_train()
    (g,) = grads(bn, [T(x)], dy)
    var = x.var(0)
    xhat = (x - x.mean(0)) / np.sqrt(var + 1e-5)
    ref = (dy - dy.mean(0) - xhat * (dy * xhat).mean(0)) / np.sqrt(var + 1e-5)
    close(g, ref, rtol=1e-4, atol=1e-5)


def test_batchnorm_errors_and_names():
    bn = nn.BatchNorm2d(3)
    with pytest.raises(ValueError, match=r"BatchNorm2d: expected input of shape \(N, 3, H, W\) \(3 channels\), got "
                                         r"shape \(2, 4, 5, 5\)"):
        bn(T(np.ones((2, 4, 5, 5))))
    with pytest.raises(ValueError, match=r"BatchNorm1d: expected input of shape \(N, 3\) or \(N, 3, L\)"):
        nn.BatchNorm1d(3)(T(np.ones((2, 3, 4, 4))))
    with pytest.raises(ValueError, match=r"'momentum' must be in \[0.0, 1.0\]"):
        nn.BatchNorm2d(3, momentum=1.5)
    assert not bn.moving_mean.requires_grad and not bn.moving_variance.requires_grad
    assert bn.gamma.requires_grad and not nn.BatchNorm2d(3, affine=False).gamma.requires_grad


def ln_ref(x, gamma, beta, eps, begin):
    axes = tuple(range(begin, x.ndim))
    m = x.mean(axes, keepdims=True)
    v = x.var(axes, keepdims=True)
    return (x - m) / np.sqrt(v + eps) * gamma + beta


def test_layernorm_forward():
    r = rng(7)
    x = r.standard_normal((2, 3, 4))
    ln = nn.LayerNorm((4,), gamma_init=Tensor(r.standard_normal(4).astype(np.float32)),
                      beta_init=Tensor(r.standard_normal(4).astype(np.float32)))
    close(ln(T(x)), ln_ref(x, ln.gamma.asnumpy(), ln.beta.asnumpy(), 1e-7, 2), rtol=1e-4, atol=1e-5)
    ln2 = nn.LayerNorm((3, 4), begin_norm_axis=1, begin_params_axis=1, epsilon=1e-5)
    close(ln2(T(x)), ln_ref(x, 1.0, 0.0, 1e-5, 1), rtol=1e-4, atol=1e-5)
    assert [p.name for p in ln2.get_parameters()] == ["gamma", "beta"]


def test_layernorm_gradient_finite_differences():
    r = rng(8)
    ln = nn.LayerNorm((3, 4), begin_norm_axis=1, begin_params_axis=1,
                      gamma_init=Tensor(r.standard_normal((3, 4))), beta_init=Tensor(r.standard_normal((3, 4))),
                      dtype=ms.float64, epsilon=1e-5)
    x = r.standard_normal((2, 3, 4))
    _fd_check(ln, x, [ln.gamma, ln.beta], r.standard_normal(x.shape), rtol=1e-5, atol=1e-7)
    ln_last = nn.LayerNorm((4,), dtype=ms.float64, gamma_init=Tensor(r.standard_normal(4)))
    _fd_check(ln_last, x, [ln_last.gamma, ln_last.beta], r.standard_normal(x.shape), rtol=1e-5, atol=1e-7)


def test_layernorm_errors():
    with pytest.raises(TypeError, match="LayerNorm: normalized_shape must be a non-empty tuple"):
        nn.LayerNorm(4)
    with pytest.raises(ValueError, match=r"LayerNorm: expected input whose dims from 2 on are \(4,\) "
                                         r"\(normalized_shape\), got shape \(2, 3, 5\)"):
        nn.LayerNorm((4,))(T(np.ones((2, 3, 5))))
