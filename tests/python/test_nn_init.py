"""Initializers (dynastat.common.initializer / nn.initializer): names, classes, statistics, seeding, and
the layers' default initializers."""
import math

import numpy as np
import pytest

import dynastat as ms
from dynastat import nn, Tensor
from dynastat.common import initializer as init_mod
from dynastat.common.initializer import (initializer, Initializer, Zero, One, Constant, Normal, Uniform,
                                         TruncatedNormal, HeUniform, HeNormal, XavierUniform, XavierNormal,
                                         Identity, Orthogonal, VarianceScaling)


def arr(init, shape, dtype=ms.float32):
    t = initializer(init, shape, dtype)
    assert isinstance(t, Tensor)
    assert t.shape == tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
    return t.asnumpy().astype(np.float64)


def test_constants():
    np.testing.assert_array_equal(arr("zeros", (2, 3)), np.zeros((2, 3)))
    np.testing.assert_array_equal(arr("ones", [4]), np.ones(4))
    np.testing.assert_array_equal(arr(Zero(), 3), np.zeros(3))
    np.testing.assert_array_equal(arr(One(), (1, 2)), np.ones((1, 2)))
    np.testing.assert_array_equal(arr(Constant(2.5), (2, 2)), np.full((2, 2), 2.5))
    np.testing.assert_array_equal(arr(7, (3,)), np.full(3, 7.0))
    np.testing.assert_array_equal(arr(-1.5, (2,)), np.full(2, -1.5))


def test_names_are_case_insensitive():
    np.testing.assert_array_equal(arr("Ones", (2,)), np.ones(2))
    assert arr("TruncatedNormal", (10,)).shape == (10,)
    assert arr("HE_UNIFORM", (3, 4)).shape == (3, 4)


def test_dtype():
    t = initializer("ones", (2, 2), ms.float64)
    assert t.dtype == ms.float64
    t = initializer("normal", (2, 2), ms.float16)
    assert t.dtype == ms.float16
    t = initializer("zeros", (3,), ms.int32)
    assert t.dtype == ms.int32


def test_normal_statistics():
    ms.set_seed(0)
    a = arr("normal", (200, 200))
    assert abs(a.mean()) < 0.01 * 0.02
    assert abs(a.std() - 0.01) < 0.01 * 0.02
    b = arr(Normal(sigma=2.0, mean=3.0), (200, 200))
    assert abs(b.mean() - 3.0) < 0.02 and abs(b.std() - 2.0) < 0.02


def test_uniform_statistics():
    ms.set_seed(1)
    a = arr("uniform", (200, 200))  # U(-0.07, 0.07)
    assert a.min() >= -0.07 and a.max() <= 0.07
    assert abs(a.std() - 0.07 / math.sqrt(3)) < 0.001
    b = arr(Uniform(scale=3.0), (100, 100))
    assert b.min() >= -3 and b.max() <= 3 and b.max() > 2.9 and b.min() < -2.9


def test_truncated_normal_within_bounds():
    ms.set_seed(2)
    a = arr(TruncatedNormal(sigma=1.0), (100000,))
    assert a.min() >= -2.0 and a.max() <= 2.0
    # std of a standard normal truncated to [-2, 2]
    assert abs(a.std() - 0.8796) < 0.01
    b = arr(TruncatedNormal(sigma=1.0, mean=1.0, a=0.5, b=1.5), (10000,))
    assert b.min() >= 0.5 and b.max() <= 1.5
    c = arr("truncatedNormal", (1000,))
    assert abs(c.std() - 0.01) < 0.001


def test_he_and_xavier_bounds_and_stds():
    ms.set_seed(3)
    shape = (64, 32, 3, 3)
    fan_in, fan_out = 32 * 9, 64 * 9
    a = arr("he_uniform", shape)  # leaky_relu with slope 0 -> gain sqrt(2)
    bound = math.sqrt(3.0) * math.sqrt(2.0) / math.sqrt(fan_in)
    assert a.max() <= bound and a.min() >= -bound and a.max() > 0.95 * bound
    b = arr(HeNormal(mode="fan_out", nonlinearity="relu"), shape)
    assert abs(b.std() - math.sqrt(2.0) / math.sqrt(fan_out)) < 0.002
    c = arr("xavier_uniform", (300, 200))
    xb = math.sqrt(6.0 / 500)
    assert c.max() <= xb and c.min() >= -xb and abs(c.std() - xb / math.sqrt(3)) < 0.002
    d = arr(XavierNormal(gain=2.0), (300, 200))
    assert abs(d.std() - 2.0 * math.sqrt(2.0 / 500)) < 0.003
    e = arr(HeUniform(negative_slope=math.sqrt(5)), (50, 40))
    assert e.max() <= 1.0 / math.sqrt(40) and e.min() >= -1.0 / math.sqrt(40)


def test_identity_orthogonal_variance_scaling():
    np.testing.assert_array_equal(arr(Identity(), (2, 3)), np.eye(2, 3))
    np.testing.assert_array_equal(arr("identity", (3, 3)), np.eye(3))
    q = arr(Orthogonal(), (4, 6))
    np.testing.assert_allclose(q @ q.T, np.eye(4), atol=1e-5)
    v = arr(VarianceScaling(scale=2.0, mode="fan_in", distribution="uniform"), (100, 50))
    lim = math.sqrt(3 * 2.0 / 50)
    assert v.max() <= lim and v.min() >= -lim


def test_seeded_generator_reproduces():
    ms.set_seed(42)
    a = arr("normal", (5, 5))
    b = arr("he_uniform", (5, 5))
    ms.set_seed(42)
    np.testing.assert_array_equal(arr("normal", (5, 5)), a)
    np.testing.assert_array_equal(arr("he_uniform", (5, 5)), b)
    ms.set_seed(42)
    d1 = nn.Dense(5, 5)
    ms.set_seed(42)
    d2 = nn.Dense(5, 5)
    np.testing.assert_array_equal(d1.weight.asnumpy(), d2.weight.asnumpy())
    np.testing.assert_array_equal(d1.bias.asnumpy(), d2.bias.asnumpy())


def test_tensor_init_is_returned_after_shape_check():
    t = Tensor(np.ones((2, 3), np.float32))
    assert initializer(t, (2, 3)) is t
    assert initializer(t) is t
    with pytest.raises(ValueError, match=r"shape of 'init' \(2, 3\) differs from 'shape' \(3, 2\)"):
        initializer(t, (3, 2))


def test_errors():
    with pytest.raises(ValueError, match="unknown initializer name 'bogus'"):
        initializer("bogus", (2,))
    with pytest.raises(TypeError, match="'init' must be"):
        initializer(object(), (2,))
    with pytest.raises(ValueError, match="positive ints"):
        initializer("ones", (2, 0))
    with pytest.raises(ValueError, match="fewer than 2 dims"):
        initializer("he_uniform", (5,))
    with pytest.raises(ValueError, match="'shape' is required"):
        initializer("ones")


def test_user_initializer_subclass_with_numpy_initialize():
    class Sevens(Initializer):
        def _initialize(self, arr):
            arr.fill(7)

    np.testing.assert_array_equal(arr(Sevens(), (2, 2)), np.full((2, 2), 7.0))
    a = np.zeros((2, 3), np.float32)
    Constant(4.0)(a)  # an initializer object fills a NumPy array in place
    np.testing.assert_array_equal(a, np.full((2, 3), 4.0))


def test_layer_default_initializers():
    ms.set_seed(5)
    d = nn.Dense(400, 300)
    w, b = d.weight.asnumpy(), d.bias.asnumpy()
    bound = 1.0 / math.sqrt(400)  # HeUniform(sqrt(5)): sqrt(3) * sqrt(2 / 6) / sqrt(fan_in)
    assert w.max() <= bound and w.min() >= -bound and w.max() > 0.95 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.001
    assert b.max() <= bound and b.min() >= -bound
    c = nn.Conv2d(16, 32, 3, has_bias=True)
    cb = 1.0 / math.sqrt(16 * 9)
    assert c.weight.shape == (32, 16, 3, 3)
    assert np.abs(c.weight.asnumpy()).max() <= cb and np.abs(c.bias.asnumpy()).max() <= cb
    assert nn.Conv2d(4, 8, 3).bias is None
    bn = nn.BatchNorm2d(3)
    np.testing.assert_array_equal(bn.gamma.asnumpy(), np.ones(3))
    np.testing.assert_array_equal(bn.beta.asnumpy(), np.zeros(3))
    np.testing.assert_array_equal(bn.moving_mean.asnumpy(), np.zeros(3))
    np.testing.assert_array_equal(bn.moving_variance.asnumpy(), np.ones(3))
    e = nn.Embedding(100, 50)
    assert abs(e.embedding_table.asnumpy().std() - 0.01) < 0.001


def test_layer_init_arguments():
    d = nn.Dense(3, 2, weight_init="ones", bias_init="zeros")
    np.testing.assert_array_equal(d.weight.asnumpy(), np.ones((2, 3)))
    np.testing.assert_array_equal(d.bias.asnumpy(), np.zeros(2))
    w = Tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
    d = nn.Dense(3, 2, weight_init=w, bias_init=Constant(0.5))
    np.testing.assert_array_equal(d.weight.asnumpy(), w.asnumpy())
    np.testing.assert_array_equal(d.bias.asnumpy(), np.full(2, 0.5))
    with pytest.raises(ValueError, match=r"weight_init must have shape \(2, 3\)"):
        nn.Dense(3, 2, weight_init=Tensor(np.ones((3, 2), np.float32)))


def test_nn_exports_initializers():
    assert nn.initializer is init_mod.initializer
    assert nn.HeUniform is HeUniform and nn.XavierUniform is XavierUniform
