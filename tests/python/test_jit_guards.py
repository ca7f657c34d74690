"""The compiled-function cache: reuse for the same input structure/shapes/dtypes/constants, recompiles
(with a logged reason) when a captured global, closure value or attribute changes, a warning when
recompiles keep happening, symbolic dims from input_signature, save_graphs and show_graph."""
import os
import warnings

import numpy as np
import pytest

import dynastat as ms
from dynastat import nn, ops, Tensor
from dynastat.jit import diagnostics


def T(a, dtype=np.float32):
    return Tensor(np.asarray(a, dtype=dtype))


def info(f):
    return f.cache_info()


def test_same_shapes_reuse_the_compiled_graph():
    @ms.jit
    def f(x, y):
        return x * y + 1

    f(T([1., 2.]), T([3., 4.]))
    f(T([5., 6.]), T([7., 8.]))
    assert info(f)["misses"] == 1 and info(f)["hits"] == 1
    f(T([1., 2., 3.]), T([1., 2., 3.]))  # new shape
    f(T([1, 2], np.int64), T([1, 2], np.int64))  # new dtype
    assert info(f)["misses"] == 3


def test_python_constants_are_part_of_the_key():
    @ms.jit
    def f(x, k):
        return x * k

    np.testing.assert_allclose(f(T([1.]), 2).asnumpy(), [2.])
    np.testing.assert_allclose(f(T([1.]), 3).asnumpy(), [3.])
    np.testing.assert_allclose(f(T([1.]), 2).asnumpy(), [2.])
    assert info(f)["misses"] == 2


GLOBAL_K = 2.0


def test_changed_global_recompiles_and_says_why():
    global GLOBAL_K

    @ms.jit
    def f(x):
        return x * GLOBAL_K

    diagnostics.clear()
    assert f(T([1.])).asnumpy()[0] == 2.0
    GLOBAL_K = 5.0
    try:
        assert f(T([1.])).asnumpy()[0] == 5.0
    finally:
        GLOBAL_K = 2.0
    ev = [e for e in diagnostics.events() if e["kind"] == "recompile"]
    assert ev and "GLOBAL_K" in ev[-1]["reason"] and "2.0" in ev[-1]["reason"] and "5.0" in ev[-1]["reason"]


def test_changed_attribute_recompiles_unlike_the_seeds_stale_graph():
    """The seeds' system keeps using the graph compiled with value=5 (prints [6. 7. 8.] twice);
    dynastat guards the attribute and recompiles (docs/jit.md)."""
    class Func(nn.Cell):
        def __init__(self):
            super().__init__()
            self.value = 5

        @ms.jit
        def construct(self, x):
            return self.value + x

    x = T([1., 2., 3.])
    func = Func()
    np.testing.assert_allclose(func(x).asnumpy(), [6., 7., 8.])
    func.value = 1
    np.testing.assert_allclose(func(x).asnumpy(), [2., 3., 4.])
    func.value = 5  # back to the first graph: a cache hit
    np.testing.assert_allclose(func(x).asnumpy(), [6., 7., 8.])


def test_closure_value_guard():
    k = 1.0

    @ms.jit
    def f(x):
        return x + k

    assert f(T([1.])).asnumpy()[0] == 2.0
    k = 10.0
    assert f(T([1.])).asnumpy()[0] == 11.0


def test_recompiles_without_end_warn_naming_what_changes():
    global GLOBAL_K

    @ms.jit
    def f(x):
        return x * GLOBAL_K

    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        try:
            for i in range(diagnostics.RECOMPILE_WARN + 2):
                GLOBAL_K = float(i)
                f(T([1.]))
        finally:
            GLOBAL_K = 2.0
    msgs = [str(x.message) for x in w if issubclass(x.category, diagnostics.RecompileWarning)]
    assert msgs and "GLOBAL_K" in msgs[0], msgs


def test_input_signature_symbolic_dims_one_graph():
    @ms.jit(input_signature=(Tensor(shape=[None, 3], dtype=ms.float32),))
    def f(x):
        return (x * 2).sum(axis=1)

    for n in (1, 4, 7):
        x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
        np.testing.assert_allclose(f(Tensor(x)).asnumpy(), (x * 2).sum(1))
    assert info(f)["misses"] == 1
    with pytest.raises(ValueError, match="input_signature"):
        f(T(np.ones((2, 4))))


def test_show_graph_returns_the_optimized_ir():
    def f(x):
        return ops.relu(x * 2.0 + 0.0)

    text = ms.jit.show_graph(f, T([1., -1.]))
    assert "relu" in text and "mul" in text
    assert "test_jit_guards.py" in text  # nodes carry the user's file:line


def test_save_graphs_writes_ir_and_dot(tmp_path):
    ms.set_context(save_graphs=True, save_graphs_path=str(tmp_path))
    try:
        @ms.jit
        def f(x):
            return ops.exp(x) * 2

        f(T([1.]))
    finally:
        ms.set_context(save_graphs=False)
    files = os.listdir(tmp_path)
    assert any(n.endswith(".ir") for n in files), files
    assert any(n.endswith(".dot") for n in files), files
    dot = next(n for n in files if n.endswith(".dot"))
    assert "digraph" in (tmp_path / dot).read_text()
