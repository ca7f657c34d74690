"""The main demonstration: dynastat's eager tensor engine, run the way the seeds' examples run.

    python3 examples/quickstart.py
"""
import time

import numpy as np

import dynastat as ms
from dynastat import ops, Tensor

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
