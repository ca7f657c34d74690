#!/usr/bin/env python3
"""One training step (forward, backward, optimizer update) of small networks, dynastat eager against
PyTorch eager, side by side.

Models (the same weights in both libraries; the first step's losses are checked to agree):
  * mlp:   784-512-256-10 MLP (ReLU), batch 32, cross entropy, SGD with momentum 0.9
  * lenet: LeNet-5 (conv 5x5 1->6, maxpool, conv 5x5 6->16, maxpool, 256-120-84-10), 28x28 inputs,
           batch 64, cross entropy, SGD with momentum 0.9

dynastat runs the step as a MindSpore script would: nn.TrainOneStepCell(nn.WithLossCell(net, loss), opt).
PyTorch runs zero_grad / forward / backward / step. Times are medians over repeated runs (ms per step);
the ratio is dynastat's time over PyTorch's (below 1.00x dynastat is faster). A forward-only column
(inference mode, no gradients) is shown too. PyTorch columns appear only when `import torch` works.

    PYTHONPATH=python python3 bench/train_step.py [--quick] [--threads N]
"""
import argparse
import os
import platform
import statistics
import sys
import time

import numpy as np

try:
    import dynastat as ms
except ImportError:  # run from a checkout without PYTHONPATH
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
    import dynastat as ms
from dynastat import nn, Tensor

try:
    import torch
except ImportError:
    torch = None


# ------------------------------------------------------------------------------------------ dynastat models
class MLP(nn.Cell):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.fc1 = nn.Dense(784, 512)
        self.fc2 = nn.Dense(512, 256)
        self.fc3 = nn.Dense(256, 10)
        self.relu = nn.ReLU()

    def construct(self, x):
        x = self.relu(self.fc1(self.flatten(x)))
        return self.fc3(self.relu(self.fc2(x)))


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


# ------------------------------------------------------------------------------------------ torch twins
def torch_twin(kind, ds_net):
    tnn = torch.nn
    if kind == "mlp":
        net = tnn.Sequential(tnn.Flatten(), tnn.Linear(784, 512), tnn.ReLU(), tnn.Linear(512, 256), tnn.ReLU(),
                             tnn.Linear(256, 10))
        pairs = [(net[1], ds_net.fc1), (net[3], ds_net.fc2), (net[5], ds_net.fc3)]
    else:
        net = tnn.Sequential(tnn.Conv2d(1, 6, 5), tnn.ReLU(), tnn.MaxPool2d(2, 2), tnn.Conv2d(6, 16, 5), tnn.ReLU(),
                             tnn.MaxPool2d(2, 2), tnn.Flatten(), tnn.Linear(256, 120), tnn.ReLU(),
                             tnn.Linear(120, 84), tnn.ReLU(), tnn.Linear(84, 10))
        pairs = [(net[0], ds_net.conv1), (net[3], ds_net.conv2), (net[7], ds_net.fc1), (net[9], ds_net.fc2),
                 (net[11], ds_net.fc3)]
    with torch.no_grad():
        for t, d in pairs:
            t.weight.copy_(torch.from_numpy(d.weight.asnumpy()))
            t.bias.copy_(torch.from_numpy(d.bias.asnumpy()))
    return net


def torch_step(tnet, tx, ty, model=None):
    """A PyTorch training step function (SGD momentum 0.9, lr 0.01, cross entropy) of tnet; `model` (e.g.
    torch.compile(tnet)) runs the forward when given."""
    topt = torch.optim.SGD(tnet.parameters(), lr=0.01, momentum=0.9)
    lossf = torch.nn.CrossEntropyLoss()
    fwd = model or tnet

    def step():
        topt.zero_grad(set_to_none=True)
        loss = lossf(fwd(tx), ty)
        loss.backward()
        topt.step()
        return loss
    return step


# ------------------------------------------------------------------------------------------ timing
def median_ms(fn, warmup, repeats, inner):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        times.append((time.perf_counter() - t0) / inner * 1e3)
    return statistics.median(times)


def bench_model(kind, batch, shape, args):
    ms.set_seed(0)
    net = MLP() if kind == "mlp" else LeNet()
    r = np.random.default_rng(0)
    x = r.standard_normal((batch,) + shape).astype(np.float32)
    y = r.integers(0, 10, batch).astype(np.int32)
    xt, yt = Tensor(x), Tensor(y)
    row = {"model": kind, "batch": batch}

    tnet = torch_twin(kind, net) if torch is not None else None
    opt = nn.SGD(net.trainable_params(), learning_rate=0.01, momentum=0.9)
    step = nn.TrainOneStepCell(nn.WithLossCell(net, nn.CrossEntropyLoss()), opt)
    first_ds = float(step(xt, yt).asnumpy())
    row["ds_step"] = median_ms(lambda: step(xt, yt), args.warmup, args.repeats, args.inner)
    net.set_train(False)
    row["ds_fwd"] = median_ms(lambda: net(xt), args.warmup, args.repeats, args.inner)

    if tnet is not None:
        tx, ty = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
        tstep = torch_step(tnet, tx, ty)
        first_t = float(tstep().detach())
        row["agree"] = abs(first_ds - first_t) <= 1e-4 * max(1.0, abs(first_t))
        row["loss"] = (first_ds, first_t)
        row["t_step"] = median_ms(tstep, args.warmup, args.repeats, args.inner)

        def tfwd():
            with torch.no_grad():
                return tnet(tx)

        row["t_fwd"] = median_ms(tfwd, args.warmup, args.repeats, args.inner)
    return row


def header(args):
    cfg = ms.config()
    print(f"python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cpus, "
          f"load {os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else "")
    print(f"dynastat {ms.__version__}: blas={cfg.get('blas')}, simd={cfg.get('simd')}, "
          f"threads={cfg.get('num_threads')}")
    if torch is not None:
        print(f"torch {torch.__version__}: threads={torch.get_num_threads()}")
    else:
        print("torch: not installed (only dynastat columns)")
    print(f"median of {args.repeats} runs of {args.inner} steps after {args.warmup} warm-up steps")


def main(argv=None):
    ap = argparse.ArgumentParser(description="training-step benchmark: dynastat eager vs PyTorch eager")
    ap.add_argument("--quick", action="store_true", help="fewer repeats")
    ap.add_argument("--threads", type=int, default=None, help="threads for both libraries")
    args = ap.parse_args(argv)
    args.warmup, args.repeats, args.inner = (3, 5, 5) if args.quick else (10, 15, 10)
    if args.threads:
        ms.set_num_threads(args.threads)
        if torch is not None:
            torch.set_num_threads(args.threads)
    header(args)
    rows = [bench_model("mlp", 32, (1, 28, 28), args), bench_model("lenet", 64, (1, 28, 28), args)]
    names = {"mlp": "MLP 784-512-256-10", "lenet": "LeNet-5 (28x28)"}
    print()
    if torch is None:
        print(f"{'model':<20} {'batch':>5} {'step ms':>9} {'fwd ms':>8}")
        for r in rows:
            print(f"{names[r['model']]:<20} {r['batch']:>5} {r['ds_step']:>9.3f} {r['ds_fwd']:>8.3f}")
        return 0
    print(f"{'':<26} {'train step (ms)':^31} {'forward only (ms)':^31}")
    print(f"{'model':<20} {'batch':>5} {'dynastat':>9} {'torch':>9} {'ratio':>9}   {'dynastat':>9} {'torch':>9} "
          f"{'ratio':>9}")
    for r in rows:
        print(f"{names[r['model']]:<20} {r['batch']:>5} {r['ds_step']:>9.3f} {r['t_step']:>9.3f} "
              f"{r['ds_step'] / r['t_step']:>8.2f}x   {r['ds_fwd']:>9.3f} {r['t_fwd']:>9.3f} "
              f"{r['ds_fwd'] / r['t_fwd']:>8.2f}x")
    for r in rows:
        if not r["agree"]:
            print(f"warning: first-step losses differ for {r['model']}: dynastat {r['loss'][0]:.6f}, "
                  f"torch {r['loss'][1]:.6f}")
    print("(ratio = dynastat time / PyTorch time; below 1.00x dynastat is faster)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
