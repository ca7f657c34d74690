#!/usr/bin/env python3
"""Eager autograd micro-benchmarks: what recording on the tape adds to a tiny op, and a small backward.

Prints the per-op time (microseconds, best of several runs of 2000 ops each) of `x * y` on 4-element
float32 tensors:
  * outside any tape (the plain eager op),
  * with a tape active but no input requiring grad (recording is a hash lookup per input),
  * inside a gradient context with x requiring grad (the op is recorded: one IR node appended),
and the difference (the recording overhead; budget: under 1 microsecond, docs/DESIGN.md). Then the time of
ms.grad of a 10-op function on 4-element tensors (tape creation, forward, backward, Python wrapper).

    PYTHONPATH=python python3 bench/autograd.py
"""
import os
import sys
import time

try:
    import dynastat as ms
except ImportError:  # run from a checkout without PYTHONPATH
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
    import dynastat as ms
from dynastat import _C

N = 2000
REPEATS = 15


def per_op(setup_tape, watch):
    """Best time per `x * y` in microseconds; a fresh tape per run (recording appends to it)."""
    x = ms.Tensor([1.0, 2.0, 3.0, 4.0])
    y = ms.Tensor([0.5, 0.25, 2.0, 1.0])
    best = float("inf")
    for _ in range(REPEATS):
        tape = _C.Tape() if setup_tape else None
        if tape is not None and watch:
            tape.watch(x)
        if tape is not None:
            tape.push()
        r = range(N)
        t0 = time.perf_counter()
        for _ in r:
            x * y
        t1 = time.perf_counter()
        if tape is not None:
            tape.pop()
            if watch:
                assert tape.num_nodes == N, tape.num_nodes
        best = min(best, (t1 - t0) / N * 1e6)
    return best


def grad_step():
    x = ms.Tensor([1.0, 2.0, 3.0, 4.0])
    y = ms.Tensor([0.5, 0.25, 2.0, 1.0])

    def f(x, y):
        z = x * y
        for _ in range(4):
            z = z * y + x
        return z.sum()

    g = ms.grad(f, (0, 1))
    g(x, y)
    best = float("inf")
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        for _ in range(100):
            g(x, y)
        best = min(best, (time.perf_counter() - t0) / 100 * 1e6)
    return best


def main():
    plain = per_op(False, False)
    idle = per_op(True, False)
    rec = per_op(True, True)
    print(f"x * y, 4 float32 elements (best of {REPEATS} x {N} ops)")
    print(f"  no tape                         {plain:7.3f} us")
    print(f"  tape active, nothing watched    {idle:7.3f} us   (+{idle - plain:.3f} us)")
    print(f"  recorded (x requires grad)      {rec:7.3f} us   (+{rec - plain:.3f} us recording overhead)")
    print(f"ms.grad of a 10-op function (4 elements): {grad_step():.1f} us per call")


if __name__ == "__main__":
    main()
