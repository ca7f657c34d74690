#!/usr/bin/env python3
"""Eager-mode micro-benchmarks: dynastat against NumPy (and PyTorch when `import torch` works), side by side.

Prints, for each library:
  * the per-call time (median over repeated timeit runs, microseconds) of
      - a 4-element float32 add            x + y
      - a 1000-element float32 mul         x * y
      - sum of 1000 floats                 x.sum()
      - sum of a 1000x1000 float32 array   x.sum()
  * GFLOPS of 256 / 1024 / 2048 square float32 matmuls (x @ y)
and the ratios of dynastat against NumPy and PyTorch. A header says which BLAS each side uses, the CPU and
the threads. Total run time is well under a minute.

    PYTHONPATH=python python3 bench/eager.py            # from the repository root
    PYTHONPATH=python python3 bench/eager.py --quick    # fewer repeats (about 10 s)

Budget (docs/DESIGN.md): a tiny eager op within 1.5x of a NumPy ufunc call and at least 2x faster than
PyTorch eager; matmul at 90% or more of the BLAS it links.
"""
import argparse
import ctypes
import os
import platform
import statistics
import sys
import time
import timeit

try:
    import dynastat as ms
except ImportError:  # run from a checkout without PYTHONPATH
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
    import dynastat as ms
import numpy as np

try:
    import torch
except Exception:  # not installed (the default), or broken
    torch = None


# ---------------------------------------------------------------------------- environment
def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def usable_cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count()


def loaded_openblas():
    """{path: (corename, threads)} for every OpenBLAS mapped into this process (NumPy's and dynastat's
    may be different libraries)."""
    found = {}
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "openblas" in line.lower() and "/" in line}
    except OSError:
        return found
    for p in sorted(paths):
        core = threads = None
        try:
            lib = ctypes.CDLL(p)
            for corename, nthreads in (("openblas_get_corename", "openblas_get_num_threads"),
                                       ("scipy_openblas_get_corename64_", "scipy_openblas_get_num_threads64_"),
                                       ("scipy_openblas_get_corename", "scipy_openblas_get_num_threads")):
                fn = getattr(lib, corename, None)
                if fn is None:
                    continue
                fn.restype = ctypes.c_char_p
                core = fn().decode()
                tn = getattr(lib, nthreads, None)
                if tn is not None:
                    tn.restype = ctypes.c_int
                    threads = tn()
                break
        except OSError:
            pass
        found[p] = (core, threads)
    return found


def set_threads(n):
    """Limits every library's threads to n (dynastat's pool, NumPy's and dynastat's OpenBLAS, PyTorch)."""
    ms.set_num_threads(n)
    if torch is not None:
        torch.set_num_threads(n)
    try:
        import threadpoolctl

        threadpoolctl.threadpool_limits(n)
        return
    except ImportError:
        pass
    for p in loaded_openblas():
        try:
            lib = ctypes.CDLL(p)
        except OSError:
            continue
        for name in ("openblas_set_num_threads", "scipy_openblas_set_num_threads64_",
                     "scipy_openblas_set_num_threads"):
            fn = getattr(lib, name, None)
            if fn is not None:
                fn.argtypes = [ctypes.c_int]
                fn(n)
                break


def numpy_blas():
    """NumPy's BLAS as 'name version' (threadpoolctl, if installed, also gives the kernel and threads)."""
    try:
        import threadpoolctl

        for info in threadpoolctl.threadpool_info():
            if info.get("user_api") == "blas" and "numpy" in info.get("filepath", "").lower():
                return (f"{info.get('internal_api')} {info.get('version')} ({info.get('architecture')}, "
                        f"{info.get('num_threads')} threads)")
    except ImportError:
        pass
    try:
        deps = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        desc = f"{deps.get('name')} {deps.get('version')}"
    except Exception:
        desc = "unknown"
    for path, (core, threads) in loaded_openblas().items():
        if "numpy" in path or "scipy_openblas" in path:
            desc += f" ({core or '?'} kernels, {threads if threads else '?'} threads)"
            break
    return desc


def dynastat_blas(cfg):
    desc = cfg["blas"]
    for path, (core, threads) in loaded_openblas().items():
        if "numpy" not in path and "scipy_openblas" not in path and cfg["blas"] in ("openblas", "cblas"):
            desc += f" {path} ({core or '?'} kernels, {threads if threads else '?'} threads)"
            break
    return desc


def torch_blas():
    try:
        cfg = torch.__config__.show()
        blas = next((line.split("=", 1)[1].strip().rstrip(",") for line in cfg.replace(",", "\n").splitlines()
                     if "BLAS_INFO" in line), "?")
        return f"{blas} ({torch.get_num_threads()} threads)"
    except Exception:
        return "?"


# ---------------------------------------------------------------------------- timing
def per_call_us(fn, repeat, target_s):
    """Median per-call time in microseconds over `repeat` timeit runs of ~target_s each."""
    t = timeit.Timer(fn)
    number = 1
    while True:  # calibrate: grow number until one run takes ~target_s
        elapsed = t.timeit(number)
        if elapsed >= target_s / 4 or number >= 1 << 24:
            break
        number *= 4
    number = max(1, int(number * target_s / max(elapsed, 1e-9)))
    runs = t.repeat(repeat=repeat, number=number)
    return statistics.median(runs) / number * 1e6


def settle():
    """Lets the worker threads of the library just measured go to sleep (OpenMP and OpenBLAS threads spin
    for a while after each call), so they do not steal cores from the next library's measurement."""
    time.sleep(0.25)


def matmul_gflops(fn, n, min_time):
    fn()  # warm up (threads, page faults)
    times = []
    start = time.perf_counter()
    while len(times) < 3 or (time.perf_counter() - start < min_time and len(times) < 50):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 2.0 * n ** 3 / statistics.median(times) / 1e9


# ---------------------------------------------------------------------------- cases
def elementwise_cases():
    """(label, {lib: callable}) for the per-call benchmarks."""
    rng = np.random.default_rng(0)
    a4, b4 = rng.random(4, dtype=np.float32), rng.random(4, dtype=np.float32)
    a1k, b1k = rng.random(1000, dtype=np.float32), rng.random(1000, dtype=np.float32)
    big = rng.random((1000, 1000), dtype=np.float32)
    libs = {
        "dynastat": lambda a: ms.Tensor(a),
        "numpy": lambda a: a.copy(),
    }
    if torch is not None:
        libs["torch"] = lambda a: torch.from_numpy(a.copy())
    cases = []
    for label, arrays, op in [
        ("add    4 x float32       x + y", (a4, b4), lambda x, y: x + y),
        ("mul 1000 x float32       x * y", (a1k, b1k), lambda x, y: x * y),
        ("sum 1000 float32         x.sum()", (a1k,), lambda x: x.sum()),
        ("sum 1000x1000 float32    x.sum()", (big,), lambda x: x.sum()),
    ]:
        fns = {}
        for lib, make in libs.items():
            args = tuple(make(a) for a in arrays)
            fns[lib] = (lambda op=op, args=args: op(*args))
        cases.append((label, fns))
    return cases


def check_results_agree():
    """The benchmarked expressions compute the same thing in every library (a guard against timing a
    broken or trivially short path)."""
    rng = np.random.default_rng(1)
    a, b = rng.random(1000, dtype=np.float32), rng.random(1000, dtype=np.float32)
    np.testing.assert_allclose((ms.Tensor(a) * ms.Tensor(b)).asnumpy(), a * b, rtol=1e-6)
    np.testing.assert_allclose(float(ms.Tensor(a).sum().asnumpy()), a.sum(), rtol=1e-4)
    m = rng.random((64, 64), dtype=np.float32)
    np.testing.assert_allclose((ms.Tensor(m) @ ms.Tensor(m)).asnumpy(), m @ m, rtol=1e-4)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer, shorter repeats")
    ap.add_argument("--repeat", type=int, default=None, help="timeit runs per measurement (median taken)")
    ap.add_argument("--sizes", type=int, nargs="*", default=[256, 1024, 2048], help="square matmul sizes")
    ap.add_argument("--threads", type=int, default=None,
                    help="limit every library to this many threads (default: each library's own default)")
    args = ap.parse_args()
    repeat = args.repeat or (5 if args.quick else 9)
    target = 0.02 if args.quick else 0.05
    mm_time = 0.3 if args.quick else 1.0
    t_start = time.perf_counter()

    check_results_agree()  # also loads every library's BLAS, so the header can name it
    if torch is not None:
        torch.ones(4) @ torch.ones(4)
    if args.threads:
        set_threads(args.threads)
    cfg = ms.config()
    libs = ["dynastat", "numpy"] + (["torch"] if torch is not None else [])

    print("dynastat eager benchmarks")
    print(f"  CPU        {cpu_model()}, {usable_cores()} usable cores ({platform.machine()}, {platform.system()})")
    print(f"  Python     {platform.python_version()}; NumPy {np.__version__}"
          + (f"; PyTorch {torch.__version__}" if torch is not None else "; PyTorch not installed"))
    print(f"  dynastat   {ms.__version__}: BLAS {dynastat_blas(cfg)}; SIMD {cfg['simd']}; "
          f"{cfg['num_threads']} kernel threads")
    print(f"  NumPy      BLAS {numpy_blas()}")
    if torch is not None:
        print(f"  PyTorch    BLAS {torch_blas()}")
    print(f"  timing     median of {repeat} timeit runs of ~{target * 1e3:.0f} ms each"
          + (f"; every library limited to {args.threads} threads" if args.threads else ""))
    try:
        print(f"  load       {' '.join(f'{x:.2f}' for x in os.getloadavg())} (1/5/15-min load average; "
              "figures are noisy when it exceeds the core count)")
    except OSError:
        pass
    print()

    # ---- per-call times
    hdr = f"{'per call (us)':36s}" + "".join(f"{lib:>11s}" for lib in libs) + f"{'vs NumPy':>11s}"
    if torch is not None:
        hdr += f"{'vs torch':>11s}"
    print(hdr)
    results = {}
    for label, fns in elementwise_cases():
        row = {}
        for lib in libs:
            row[lib] = per_call_us(fns[lib], repeat, target)
            settle()
        results[label] = row
        line = f"{label:36s}" + "".join(f"{row[lib]:11.2f}" for lib in libs)
        line += f"{row['dynastat'] / row['numpy']:10.2f}x"
        if torch is not None:
            line += f"{row['dynastat'] / row['torch']:10.2f}x"
        print(line)
    print("  (ratios are dynastat time / other time: below 1.00x dynastat is faster)")
    print()

    # ---- matmul
    hdr = f"{'matmul float32 (GFLOPS)':36s}" + "".join(f"{lib:>11s}" for lib in libs) + f"{'vs NumPy':>11s}"
    if torch is not None:
        hdr += f"{'vs torch':>11s}"
    print(hdr)
    rng = np.random.default_rng(2)
    for n in args.sizes:
        a = rng.standard_normal((n, n), dtype=np.float32)
        b = rng.standard_normal((n, n), dtype=np.float32)
        ta, tb = ms.Tensor(a), ms.Tensor(b)
        fns = {"dynastat": lambda: ta @ tb, "numpy": lambda: a @ b}
        if torch is not None:
            pa, pb = torch.from_numpy(a.copy()), torch.from_numpy(b.copy())
            fns["torch"] = lambda: pa @ pb
        row = {}
        for lib in libs:
            row[lib] = matmul_gflops(fns[lib], n, mm_time * (n / 2048) ** 2 + 0.05)
            settle()
        line = f"{f'{n} x {n} @ {n} x {n}':36s}" + "".join(f"{row[lib]:11.1f}" for lib in libs)
        line += f"{row['dynastat'] / row['numpy']:10.2f}x"
        if torch is not None:
            line += f"{row['dynastat'] / row['torch']:10.2f}x"
        print(line)
    print("  (ratios are dynastat GFLOPS / other GFLOPS: above 1.00x dynastat is faster)")
    print()

    # ---- budget verdict for the tiny op
    add = results[next(iter(results))]
    verdict = f"tiny-op budget: add(4) is {add['dynastat'] / add['numpy']:.2f}x NumPy (budget <= 1.5x)"
    if torch is not None:
        verdict += f", {add['torch'] / add['dynastat']:.2f}x faster than PyTorch (budget >= 2x)"
    print(verdict)
    print(f"total time {time.perf_counter() - t_start:.1f} s")


if __name__ == "__main__":
    main()
