"""Training wrappers: WithLossCell, TrainOneStepCell (forward, gradients with respect to the optimizer's
parameters, in-place update), and small networks whose loss falls."""
import numpy as np
import pytest

import dynastat as ms
from dynastat import nn, Tensor
from nn_testutil import T, close, rng


class MLP(nn.Cell):
    def __init__(self, n_in=4, hidden=16, n_out=3):
        super().__init__()
        self.fc1 = nn.Dense(n_in, hidden, activation="relu")
        self.fc2 = nn.Dense(hidden, hidden)
        self.act = nn.Tanh()
        self.fc3 = nn.Dense(hidden, n_out)

    def construct(self, x):
        return self.fc3(self.act(self.fc2(self.fc1(x))))


def blobs(n=96, seed=0):
    r = rng(seed)
    centers = np.array([[2, 0, 0, 1], [-2, 1, 0, 0], [0, -2, 2, 0]], np.float32)
    y = r.integers(0, 3, n)
    x = centers[y] + r.standard_normal((n, 4)).astype(np.float32) * 0.5
    return x, y.astype(np.int32)


def test_with_loss_cell():
    ms.set_seed(0)
    net = MLP()
    loss_fn = nn.CrossEntropyLoss()
    wl = nn.WithLossCell(net, loss_fn)
    x, y = blobs(8)
    close(wl(T(x), Tensor(y)), loss_fn(net(T(x)), Tensor(y)))
    assert wl.backbone_network is net
    assert [p.name for p in wl.trainable_params()] == [p.name for p in net.trainable_params()]
    assert [p.name for p in wl.trainable_params()][0] == "fc1.weight"


def test_train_one_step_cell_mlp_loss_falls():
    ms.set_seed(1)
    net = MLP()
    opt = nn.Momentum(net.trainable_params(), learning_rate=0.05, momentum=0.9)
    step = nn.TrainOneStepCell(nn.WithLossCell(net, nn.CrossEntropyLoss()), opt)
    assert step.training and net.training
    x, y = blobs()
    xt, yt = T(x), Tensor(y)
    losses = [float(step(xt, yt).asnumpy()) for _ in range(60)]
    assert losses[-1] < 0.25 * losses[0], losses
    assert all(np.isfinite(losses))
    acc = (net(xt).asnumpy().argmax(1) == y).mean()
    assert acc > 0.95


def test_train_one_step_matches_manual_step():
    ms.set_seed(2)
    net = nn.Dense(3, 2)
    w0, b0 = net.weight.asnumpy().copy(), net.bias.asnumpy().copy()
    x = rng(3).standard_normal((5, 3)).astype(np.float32)
    t = rng(4).standard_normal((5, 2)).astype(np.float32)
    step = nn.TrainOneStepCell(nn.WithLossCell(net, nn.MSELoss()), nn.SGD(net.trainable_params(), 0.1), sens=2.0)
    loss = step(T(x), T(t))
    pred = x @ w0.T + b0
    close(loss, ((pred - t) ** 2).mean(), rtol=1e-5)
    dpred = 2 * (pred - t) / pred.size * 2.0  # sens scales the gradient
    close(net.weight, w0 - 0.1 * dpred.T @ x, rtol=1e-5, atol=1e-6)
    close(net.bias, b0 - 0.1 * dpred.sum(0), rtol=1e-5, atol=1e-6)


def test_train_one_step_with_batchnorm_and_dropout_cnn():
    ms.set_seed(3)

    class CNN(nn.Cell):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 4, 3, pad_mode="same", has_bias=True)
            self.bn = nn.BatchNorm2d(4)
            self.relu = nn.ReLU()
            self.pool = nn.MaxPool2d(2, 2)
            self.flatten = nn.Flatten()
            self.drop = nn.Dropout(p=0.1)
            self.fc = nn.Dense(4 * 3 * 3, 2)

        def construct(self, x):
            return self.fc(self.drop(self.flatten(self.pool(self.relu(self.bn(self.conv(x)))))))

    r = rng(5)
    y = r.integers(0, 2, 32).astype(np.int32)
    x = r.standard_normal((32, 1, 6, 6)).astype(np.float32) * 0.3
    x[y == 1, :, :3, :] += 1.0  # class 1: bright top half
    net = CNN()
    step = nn.TrainOneStepCell(nn.WithLossCell(net, nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")),
                               nn.Adam(net.trainable_params(), learning_rate=0.01))
    losses = [float(step(T(x), Tensor(y)).asnumpy()) for _ in range(40)]
    assert losses[-1] < 0.5 * losses[0], losses
    mm = net.bn.moving_mean.asnumpy()
    assert np.any(mm != 0)  # running statistics were updated in training
    net.set_train(False)
    acc = (net(T(x)).asnumpy().argmax(1) == y).mean()
    assert acc > 0.9


def test_train_one_step_cell_errors():
    net = nn.Dense(2, 2)
    with pytest.raises(TypeError, match="TrainOneStepCell: optimizer must be an optimizer"):
        nn.TrainOneStepCell(net, object())
    with pytest.raises(TypeError, match="TrainOneStepCell: network must be a Cell"):
        nn.TrainOneStepCell(lambda x: x, nn.SGD(net.trainable_params()))
    with pytest.raises(TypeError, match="WithLossCell: backbone must be a Cell"):
        nn.WithLossCell(3, nn.MSELoss())


def test_value_and_grad_training_loop_as_in_the_seeds_tutorials():
    ms.set_seed(6)
    net = MLP()
    loss_fn = nn.CrossEntropyLoss()
    opt = nn.SGD(net.trainable_params(), learning_rate=0.1)

    def forward_fn(data, label):
        logits = net(data)
        return loss_fn(logits, label), logits

    grad_fn = ms.value_and_grad(forward_fn, None, opt.parameters, has_aux=True)
    x, y = blobs(64, seed=7)
    first = last = None
    for _ in range(40):
        (loss, _), grads = grad_fn(T(x), Tensor(y))
        opt(grads)
        first = first if first is not None else float(loss.asnumpy())
        last = float(loss.asnumpy())
    assert last < 0.5 * first
