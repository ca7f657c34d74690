"""Training compiled as one graph (forward + backward + optimizer) matches eager training step for step."""
import numpy as np
import pytest

import dynastat as ms
from dynastat import nn, ops, Tensor


class LeNet(nn.Cell):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, pad_mode="valid", has_bias=True)
        self.conv2 = nn.Conv2d(6, 16, 5, pad_mode="valid", has_bias=True)
        self.pool = nn.MaxPool2d(2, 2)
        self.relu = nn.ReLU()
        self.flatten = nn.Flatten()
        self.fc1 = nn.Dense(256, 120)
        self.fc2 = nn.Dense(120, 84)
        self.fc3 = nn.Dense(84, 10)

    def construct(self, x):
        x = self.pool(self.relu(self.conv1(x)))
        x = self.pool(self.relu(self.conv2(x)))
        x = self.relu(self.fc1(self.flatten(x)))
        return self.fc3(self.relu(self.fc2(x)))


def train(mode, steps, opt_name="momentum"):
    ms.set_seed(7)
    net = LeNet()
    if opt_name == "momentum":
        opt = nn.SGD(net.trainable_params(), learning_rate=0.05, momentum=0.9)
    else:
        opt = nn.Adam(net.trainable_params(), learning_rate=1e-3)
    step = nn.TrainOneStepCell(nn.WithLossCell(net, nn.CrossEntropyLoss()), opt)
    r = np.random.default_rng(0)
    xs = r.standard_normal((2, 16, 1, 28, 28)).astype(np.float32)  # two batches, alternating
    ys = r.integers(0, 10, (2, 16)).astype(np.int32)
    losses = []
    ms.set_context(mode=mode)
    try:
        for i in range(steps):
            losses.append(float(step(Tensor(xs[i % 2]), Tensor(ys[i % 2])).asnumpy()))
    finally:
        ms.set_context(mode=ms.PYNATIVE_MODE)
    return np.array(losses), net


@pytest.mark.parametrize("opt_name", ["momentum", "adam"])
def test_lenet_trains_identically_in_pynative_and_graph_mode(opt_name):
    eager, net_e = train(ms.PYNATIVE_MODE, 6, opt_name)
    graph, net_g = train(ms.GRAPH_MODE, 6, opt_name)
    np.testing.assert_allclose(graph, eager, rtol=1e-5, atol=1e-5)
    assert eager[-2:].mean() < eager[:2].mean()
    for (n1, p1), (n2, p2) in zip(net_e.parameters_and_names(), net_g.parameters_and_names()):
        assert n1 == n2
        np.testing.assert_allclose(p1.asnumpy(), p2.asnumpy(), rtol=1e-4, atol=1e-5)


def test_jit_train_step_function_in_pynative():
    ms.set_seed(3)
    net = nn.Dense(4, 3)
    opt = nn.SGD(net.trainable_params(), learning_rate=0.1)
    loss_fn = nn.MSELoss()

    def forward(x, y):
        return loss_fn(net(x), y)

    grad_fn = ms.value_and_grad(forward, None, net.trainable_params())

    @ms.jit
    def train_step(x, y):
        loss, grads = grad_fn(x, y)
        opt(grads)
        return loss

    r = np.random.default_rng(1)
    x = Tensor(r.standard_normal((8, 4)).astype(np.float32))
    y = Tensor(r.standard_normal((8, 3)).astype(np.float32))
    w0 = net.weight.asnumpy().copy()
    # the same step computed eagerly
    ref_loss, ref_grads = grad_fn(x, y)
    l1 = train_step(x, y)
    np.testing.assert_allclose(l1.asnumpy(), ref_loss.asnumpy(), rtol=1e-6)
    np.testing.assert_allclose(net.weight.asnumpy(), w0 - 0.1 * ref_grads[0].asnumpy(), rtol=1e-5, atol=1e-6)
    l2 = train_step(x, y)
    assert float(l2.asnumpy()) < float(l1.asnumpy())
