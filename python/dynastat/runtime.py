"""Seeding, threads and build configuration."""
from . import _C

_seed = None


def set_seed(seed):
    """Seeds the global random generator (random ops become reproducible)."""
    global _seed
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"set_seed: seed must be an int, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"set_seed: seed must be non-negative, got {seed}")
    _seed = seed
    _C.set_seed(seed)


def get_seed():
    """The seed last given to set_seed (None if never set)."""
    return _seed


def set_num_threads(n):
    """Number of threads the kernels may use."""
    _C.set_num_threads(int(n))


def config():
    """Build and run-time configuration: {'blas': 'openblas'|'cblas'|'builtin', 'simd': ..., 'num_threads': ...}."""
    return _C.config()
