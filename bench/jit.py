#!/usr/bin/env python3
"""Graph compilation (@jit / GRAPH_MODE) side by side with eager execution and PyTorch.

Prints, in one run:
  1. the compile time of a LeNet-5 training step (forward + backward + SGD-momentum update, batch 64)
     compiled as one graph in GRAPH_MODE (budget: under 50 ms);
  2. the overhead of a cached call of a 1-op @jit function (add of two 4-element tensors) over the same
     op called eagerly (budget: under 3 us);
  3. the training-step time of the same LeNet: dynastat eager, dynastat graph, PyTorch eager and
     torch.compile (the PyTorch columns when torch is installed; torch.compile when it works here).

    PYTHONPATH=python python3 bench/jit.py [--quick] [--no-torch-compile]
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
except ImportError:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
    import dynastat as ms
from dynastat import nn, ops, Tensor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_step import LeNet, torch_twin, torch_step, median_ms  # noqa: E402

try:
    import torch
except ImportError:
    torch = None


def make_step(seed=0):
    ms.set_seed(seed)
    net = LeNet()
    opt = nn.SGD(net.trainable_params(), learning_rate=0.01, momentum=0.9)
    return net, nn.TrainOneStepCell(nn.WithLossCell(net, nn.CrossEntropyLoss()), opt)


def data(batch=64):
    r = np.random.default_rng(0)
    return (Tensor(r.standard_normal((batch, 1, 28, 28)).astype(np.float32)),
            Tensor(r.integers(0, 10, batch).astype(np.int32)))


def compile_time(args):
    """Median over fresh networks of the first GRAPH_MODE call minus a cached call."""
    x, y = data()
    from dynastat.jit import diagnostics
    times, front = [], []
    for i in range(3 if args.quick else 7):
        _, step = make_step(i)
        ms.set_context(mode=ms.GRAPH_MODE)
        try:
            t0 = time.perf_counter()
            step(x, y)
            first = time.perf_counter() - t0
            t0 = time.perf_counter()
            step(x, y)
            cached = time.perf_counter() - t0
        finally:
            ms.set_context(mode=ms.PYNATIVE_MODE)
        times.append((first - cached) * 1e3)
        front.append(diagnostics.events()[-1]["compile_ms"])
    return statistics.median(times), statistics.median(front), times[0]


def call_overhead(args):
    a = Tensor(np.ones(4, np.float32))
    b = Tensor(np.ones(4, np.float32))
    add = ops.add

    @ms.jit
    def f(x, y):
        return ops.add(x, y)

    f(a, b)
    n = 20000 if args.quick else 100000
    reps = 5 if args.quick else 9

    def per_call(fn):
        best = []
        for _ in range(reps):
            t0 = time.perf_counter()
            for _ in range(n):
                fn(a, b)
            best.append((time.perf_counter() - t0) / n * 1e6)
        return statistics.median(best)
    t_jit = per_call(f)
    t_eager = per_call(add)
    return t_jit, t_eager


def train_steps(args):
    x, y = data()
    rows = {}
    w, r, inner = (3, 5, 5) if args.quick else (10, 15, 10)
    net, step = make_step()
    rows["dynastat eager"] = median_ms(lambda: step(x, y), w, r, inner)
    net_g, step_g = make_step()
    ms.set_context(mode=ms.GRAPH_MODE)
    try:
        rows["dynastat graph"] = median_ms(lambda: step_g(x, y), w, r, inner)
    finally:
        ms.set_context(mode=ms.PYNATIVE_MODE)
    if torch is not None:
        tnet = torch_twin("lenet", net)
        tx, ty = torch.from_numpy(x.asnumpy()), torch.from_numpy(y.asnumpy().astype(np.int64))
        rows["torch eager"] = median_ms(torch_step(tnet, tx, ty), w, r, inner)
        if not args.no_torch_compile:
            try:
                cstep = torch_step(tnet, tx, ty, torch.compile(tnet))
                t0 = time.perf_counter()
                cstep()
                rows["torch.compile (first call s)"] = time.perf_counter() - t0
                rows["torch.compile"] = median_ms(cstep, w, r, inner)
            except Exception as e:  # no compiler toolchain, unsupported platform...
                rows["torch.compile"] = f"unavailable ({type(e).__name__}: {str(e).splitlines()[0][:80]})"
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-torch-compile", action="store_true", help="skip torch.compile (slow to compile)")
    args = ap.parse_args(argv)
    cfg = ms.config()
    print(f"python {platform.python_version()}, {os.cpu_count()} cpus, load {os.getloadavg()[0]:.2f}")
    print(f"dynastat {ms.__version__}: blas={cfg['blas']}, simd={cfg['simd']}, threads={cfg['num_threads']}")
    print(f"torch {torch.__version__}" if torch is not None else "torch: not installed")
    print()
    ct, front, cold = compile_time(args)
    print(f"compile LeNet-5 training step (GRAPH_MODE, batch 64): {ct:8.2f} ms   (budget 50 ms; "
          f"first call minus a cached call)")
    print(f"  of which front end + IR passes: {front:.2f} ms; the process's first compile (cold caches): {cold:.2f} ms")
    tj, te = call_overhead(args)
    print(f"cached 1-op @jit call: {tj:.3f} us; eager op: {te:.3f} us; overhead {tj - te:.3f} us   (budget 3 us)")
    print()
    rows = train_steps(args)
    base = rows.get("torch eager")
    print(f"{'LeNet-5 train step, batch 64':<32} {'ms':>9} {'vs torch eager':>15}")
    for k, v in rows.items():
        if isinstance(v, str):
            print(f"{k:<32} {v}")
        elif k.endswith("(first call s)"):
            print(f"{k:<32} {v:>9.1f} s")
        else:
            ratio = f"{v / base:>14.2f}x" if base else ""
            print(f"{k:<32} {v:>9.3f} {ratio}")
    g, e = rows["dynastat graph"], rows["dynastat eager"]
    print(f"graph / eager: {g / e:.2f}x (below 1.00x the graph is faster)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
