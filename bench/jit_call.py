#!/usr/bin/env python3
"""Per-call overhead of a cached @jit entry (_C.JitFunction, bind/jit.c).

Times, per call (microseconds, best of several runs of N calls each), with a 4-element float32 add:
  * the plain eager op `ops.add(x, y)` (an op function called from Python),
  * a JitFunction call hitting its cache, whose entry is the 1-op graph add(%x, %y) (key walk, lookup,
    plan run, wrapping the result),
  * the same with a guard (an attribute checked per call), a tuple output template, a keyword argument,
    and with a tape active and x requiring grad (the call recorded as one custom node),
  * a ("python", operator.add) entry against operator.add itself (the key walk and lookup alone),
and prints the overhead of the cached call over the eager op (target: under 3 us). The plan's own run
time is part of the difference, so the figure is an upper bound of the cache's overhead.

    PYTHONPATH=python python3 bench/jit_call.py [--quick]
"""
import os
import sys
import time

try:
    import dynastat as ms
except ImportError:  # run from a checkout without PYTHONPATH
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
    import dynastat as ms
from dynastat import _C, ops

QUICK = "--quick" in sys.argv
N = 2000 if QUICK else 5000
REPEATS = 7 if QUICK else 15

ADD = """graph @add(%x: f32[4], %y: f32[4]) {
  %0 = add(%x, %y)
  return %0
}"""


def best_per_call(fn):
    best = float("inf")
    r = range(N)
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        for _ in r:
            fn()
        best = min(best, (time.perf_counter() - t0) / N * 1e6)
    return best


class Config:
    scale = 1


def main():
    cfg = ms.config()
    print(f"dynastat {cfg['version']}  blas={cfg['blas']}  simd={cfg['simd']}  threads={cfg['num_threads']}  "
          f"load={os.getloadavg()[0]:.2f}")
    x = ms.Tensor([1.0, 2.0, 3.0, 4.0])
    y = ms.Tensor([0.5, 0.25, 2.0, 1.0])
    g = _C.parse_graph(ADD)
    conf = Config()
    plain = _C.JitFunction(lambda a, k: ("graph", g, [], [], ("T", 0), None), name="add")
    guarded = _C.JitFunction(lambda a, k: ("graph", g, [], [("attr", conf, "scale", 1)], ("T", 0), None), name="add")
    tupled = _C.JitFunction(lambda a, k: ("graph", g, [], [], ("tuple", [("T", 0), ("C", None)]), None), name="add")
    for f in (plain, guarded, tupled):
        f(x, y)
        f(x, y=y)
    assert (plain(x, y).asnumpy() == ops.add(x, y).asnumpy()).all()
    add = ops.add

    eager = best_per_call(lambda: add(x, y))
    rows = [
        ("eager ops.add(x, y)", eager),
        ("jit hit, 1-op graph", best_per_call(lambda: plain(x, y))),
        ("jit hit, keyword argument", best_per_call(lambda: plain(x, y=y))),
        ("jit hit, one attr guard", best_per_call(lambda: guarded(x, y))),
        ("jit hit, tuple template", best_per_call(lambda: tupled(x, y))),
    ]
    # the cache alone: a ("python", fn) entry calls fn with the arguments, so the difference to calling fn
    # directly is the key walk, the lookup and one vectorcall
    import operator
    pyent = _C.JitFunction(lambda a, k: ("python", operator.add), name="add")
    pyent(x, y)
    direct = best_per_call(lambda: operator.add(x, y))
    cached = best_per_call(lambda: pyent(x, y))
    rows += [("operator.add(x, y)", direct), ("jit hit, ('python', operator.add)", cached)]
    tape = _C.Tape()
    xw = ms.Tensor([1.0, 2.0, 3.0, 4.0])
    tape.watch(xw)
    with tape:
        rec_eager = best_per_call(lambda: add(xw, y))
        rec_jit = best_per_call(lambda: plain(xw, y))
    rows += [("eager, recorded on a tape", rec_eager), ("jit hit, recorded on a tape", rec_jit)]
    for name, t in rows:
        print(f"  {name:<36} {t:7.3f} us")
    info = plain.cache_info()
    assert info["misses"] == 2 and info["entries"] == 2, info
    over = rows[1][1] - eager
    print(f"overhead of a cached call over the eager op: {over:.3f} us (target < 3 us); "
          f"key + lookup alone: {cached - direct:.3f} us; recorded on a tape: {rec_jit - rec_eager:.3f} us")


if __name__ == "__main__":
    main()
