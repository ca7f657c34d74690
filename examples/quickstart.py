"""The main demonstration: dynastat's eager engine, autograd and nn, run the way the seeds' examples run.

    python3 examples/quickstart.py
"""
import time

import numpy as np

import dynastat as ms
from dynastat import nn, ops, Tensor

# The seeds' PyNative addition example, unchanged except for the import line.
ms.set_context(mode=ms.PYNATIVE_MODE, device_target="CPU")
x = ms.Tensor(np.ones([1, 3, 3, 4]).astype(np.float32))
y = ms.Tensor(np.ones([1, 3, 3, 4]).astype(np.float32))
output = ops.add(x, y)
print(output.asnumpy())

print("\n-- configuration:", ms.config())

# Tensors print exactly as NumPy prints the same values.
a = Tensor([[9.02, 5.4, 7.2000003], [9.02, 5.4, 7.2000003]])
print("\n-- a float32 tensor:\n", a, sep="")
print("repr:", repr(Tensor([1, 2, 3], dtype=ms.int32)))

# Operators, broadcasting, dtype promotion (int tensor * float scalar -> float32), reductions.
b = Tensor(np.arange(12).reshape(3, 4))
print("\n-- b * 0.5 =\n", b * 0.5, "\n   dtype:", (b * 0.5).dtype)
print("-- b.sum(axis=0) =", b.sum(axis=0), " b.mean() =", b.mean())

# Views share memory: transposes and slices copy nothing.
bt = b.T
print("\n-- b.T shares memory with b:", bt.shares_memory(b), " contiguous:", bt.is_contiguous())
print("-- b[1:, ::-2] =\n", b[1:, ::-2], sep="")
print("-- b[b % 2 == 0] =", b[b % 2 == 0])

# Matmul through the BLAS the build found.
m = ops.uniform((512, 512), 0.0, 1.0)
t0 = time.perf_counter()
for _ in range(10):
    p = m @ m
dt = (time.perf_counter() - t0) / 10
print(f"\n-- 512x512 matmul: {2 * 512 ** 3 / dt / 1e9:.1f} GFLOPS ({ms.config()['blas']})")

# Zero-copy NumPy interchange.
arr = np.zeros(4, np.float32)
t = ms.from_numpy(arr)
arr[0] = 42
print("-- from_numpy shares memory:", t)

# Errors name the op and the shapes.
try:
    ops.add(Tensor(np.ones((2, 3))), Tensor(np.ones((4,))))
except ValueError as e:
    print("\n-- a clear error:", e)

# Gradients, as the seeds' PyNative autodiff example computes them (the same numbers as MindSpore prints).
class Net(nn.Cell):
    def __init__(self):
        super().__init__()
        self.matmul = ops.MatMul()
        self.z = ms.Parameter(Tensor(np.array([2.0], np.float32)), name="z")

    def construct(self, x, y):
        return self.matmul(x * self.z, y)


x = Tensor([[0.8, 0.6, 0.2], [1.8, 1.3, 1.1]], dtype=ms.float32)
y = Tensor([[0.11, 3.3, 1.1], [1.1, 0.2, 1.4], [1.1, 2.2, 0.3]], dtype=ms.float32)
print("\n-- ms.grad(net)(x, y) =\n", ms.grad(Net())(x, y), sep="")

# A small network trained eagerly: forward, backward (C tape) and in-place SGD updates in C.
ms.set_seed(0)
rng = np.random.default_rng(0)
inputs = Tensor(rng.standard_normal((64, 8)).astype(np.float32))
targets = Tensor((rng.standard_normal((64, 8)) @ rng.standard_normal((8, 1))).astype(np.float32))
model = nn.SequentialCell([nn.Dense(8, 32), nn.ReLU(), nn.Dense(32, 1)])
step = nn.TrainOneStepCell(nn.WithLossCell(model, nn.MSELoss()), nn.SGD(model.trainable_params(), 0.05, 0.9))
model.set_train()
losses = [float(step(inputs, targets).asnumpy()) for _ in range(100)]
print(f"-- training an MLP: loss {losses[0]:.4f} -> {losses[-1]:.4f} in 100 steps")


# The same step compiled to one graph (forward + backward + optimizer) in GRAPH_MODE: identical losses.
ms.set_seed(0)
model_g = nn.SequentialCell([nn.Dense(8, 32), nn.ReLU(), nn.Dense(32, 1)])
step_g = nn.TrainOneStepCell(nn.WithLossCell(model_g, nn.MSELoss()), nn.SGD(model_g.trainable_params(), 0.05, 0.9))
model_g.set_train()
ms.set_context(mode=ms.GRAPH_MODE)
losses_g = [float(step_g(inputs, targets).asnumpy()) for _ in range(100)]
ms.set_context(mode=ms.PYNATIVE_MODE)
print(f"-- the same training in GRAPH_MODE: loss {losses_g[0]:.4f} -> {losses_g[-1]:.4f} "
      f"(largest difference from eager: {max(abs(a - b) for a, b in zip(losses, losses_g)):.1e})")


# @jit compiles a function from its source; tensor-dependent control flow becomes graph If/While nodes.
@ms.jit
def collatz_steps(n):
    steps = ops.zeros((), ms.int64)
    while n > 1:
        n = n // 2 if n % 2 == 0 else 3 * n + 1
        steps = steps + 1
    return steps


print("-- @jit collatz_steps(27) =", collatz_steps(Tensor(27, ms.int64)))
print("-- its main graph (the loop's cond and body graphs print before it):")
print("\n".join(ms.jit.show_graph(collatz_steps, Tensor(27, ms.int64)).splitlines()[-5:]))
try:
    @ms.jit
    def bad(x):
        try:
            return x + 1
        except ValueError:
            return x
    bad(Tensor([1.0]))
except ms.JitSyntaxError as e:
    print("-- unsupported syntax is a clear error:\n", e, sep="")
