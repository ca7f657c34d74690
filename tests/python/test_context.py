"""set_context / get_context, config(), set_seed."""
import subprocess
import sys

import numpy as np
import pytest

import dynastat as ms
from dynastat import context


@pytest.fixture(autouse=True)
def restore_context():
    saved = {k: ms.get_context(k) for k in ("mode", "device_target", "device_id", "jit_syntax_level",
                                            "save_graphs", "save_graphs_path")}
    yield
    ms.set_context(**{k: v for k, v in saved.items() if k != "mode"})
    if saved["mode"] == ms.PYNATIVE_MODE:
        ms.set_context(mode=ms.PYNATIVE_MODE)


# ---------------------------------------------------------------------------- context
def test_mode_constants():
    assert ms.GRAPH_MODE == 0
    assert ms.PYNATIVE_MODE == 1
    assert {ms.STRICT, ms.COMPATIBLE, ms.LAX} == {0, 1, 2}


def test_defaults_in_a_fresh_process():
    code = ("import dynastat as ms; print(ms.get_context('mode'), ms.get_context('device_target'), "
            "ms.get_context('device_id'), ms.get_context('jit_syntax_level'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == [str(ms.PYNATIVE_MODE), "CPU", "0", str(ms.STRICT)]


def test_pynative_round_trip():
    ms.set_context(mode=ms.PYNATIVE_MODE)
    assert ms.get_context("mode") == ms.PYNATIVE_MODE


def test_graph_mode_can_be_set_and_reset():
    try:
        ms.set_context(mode=ms.GRAPH_MODE)
        assert ms.get_context("mode") == ms.GRAPH_MODE
    finally:
        ms.set_context(mode=ms.PYNATIVE_MODE)
    assert ms.get_context("mode") == ms.PYNATIVE_MODE
    with pytest.raises(ValueError, match="mode"):
        ms.set_context(mode=5)
    assert ms.get_context("mode") == ms.PYNATIVE_MODE  # unchanged


def test_device_target():
    ms.set_context(device_target="CPU")
    assert ms.get_context("device_target") == "CPU"
    for bad in ("GPU", "Ascend", "cpu?", 3):
        with pytest.raises(ValueError, match="device_target"):
            ms.set_context(device_target=bad)
    assert ms.get_context("device_target") == "CPU"


def test_other_options_round_trip():
    ms.set_context(device_id=0, jit_syntax_level=ms.LAX, save_graphs=True, save_graphs_path="/tmp/g")
    assert ms.get_context("jit_syntax_level") == ms.LAX
    assert ms.get_context("save_graphs") is True
    assert ms.get_context("save_graphs_path") == "/tmp/g"
    ms.set_context(jit_syntax_level=ms.STRICT)
    assert ms.get_context("jit_syntax_level") == ms.STRICT


def test_several_options_at_once():
    ms.set_context(mode=ms.PYNATIVE_MODE, device_target="CPU", jit_syntax_level=ms.COMPATIBLE)
    assert ms.get_context("jit_syntax_level") == ms.COMPATIBLE


@pytest.mark.parametrize("bad", [5, -1, "GRAPH_MODE", None, 1.0j])
def test_bad_mode_values(bad):
    with pytest.raises(ValueError, match="mode"):
        ms.set_context(mode=bad)
    assert ms.get_context("mode") == ms.PYNATIVE_MODE


@pytest.mark.parametrize("bad", [3, -1, "LAX"])
def test_bad_jit_syntax_level(bad):
    with pytest.raises(ValueError, match="jit_syntax_level"):
        ms.set_context(jit_syntax_level=bad)


def test_unknown_key():
    with pytest.raises(ValueError) as ei:
        ms.set_context(no_such_option=1)
    msg = str(ei.value)
    assert "no_such_option" in msg and "mode" in msg  # names the bad key and lists the known ones
    with pytest.raises(ValueError, match="no_such_option"):
        ms.get_context("no_such_option")


def test_a_bad_option_changes_nothing():
    """set_context validates every option before applying any, so a failed call leaves no half-applied state."""
    ms.set_context(jit_syntax_level=ms.STRICT)
    with pytest.raises(ValueError):
        ms.set_context(jit_syntax_level=ms.LAX, device_target="GPU")
    assert ms.get_context("jit_syntax_level") == ms.STRICT


def test_positional_arguments_rejected():
    with pytest.raises(TypeError):
        ms.set_context(ms.PYNATIVE_MODE)


def test_context_module_spellings():
    assert context.set_context is ms.set_context
    assert context.get_context is ms.get_context
    assert context.PYNATIVE_MODE == ms.PYNATIVE_MODE
    from dynastat import context as ctx2

    assert ctx2 is context


# ---------------------------------------------------------------------------- config
def test_config_reports_blas_and_simd():
    c = ms.config()
    assert isinstance(c, dict)
    assert c["blas"] in ("openblas", "cblas", "builtin")
    assert c["simd"] in ("avx512", "avx2", "generic")
    assert isinstance(c["num_threads"], int) and c["num_threads"] >= 1
    assert c["version"] == ms.__version__


def test_config_simd_matches_cpu():
    flags = ""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line for line in f if line.startswith("flags")), "")
    except OSError:
        pytest.skip("no /proc/cpuinfo")
    simd = ms.config()["simd"]
    if simd == "avx512":
        assert "avx512f" in flags
    elif simd == "avx2":
        assert "avx2" in flags and "fma" in flags


def test_set_num_threads_reported_by_config():
    n = ms.config()["num_threads"]
    try:
        ms.set_num_threads(1)
        assert ms.config()["num_threads"] == 1
        ms.set_num_threads(2)
        assert ms.config()["num_threads"] == 2
    finally:
        ms.set_num_threads(n)


# ---------------------------------------------------------------------------- seeds
def uniform(shape, lo=0.0, hi=1.0):
    return ms.ops.uniform(shape, ms.Tensor(lo, ms.float32), ms.Tensor(hi, ms.float32)).asnumpy()


def draw():
    return (uniform((4, 5)), ms.ops.normal((7,), 0.0, 1.0).asnumpy(),
            ms.ops.bernoulli(ms.Tensor(np.zeros((16,), np.float32)), 0.5).asnumpy())


def test_set_seed_reproducible():
    ms.set_seed(1234)
    first = draw()
    ms.set_seed(1234)
    second = draw()
    for x, y in zip(first, second):
        np.testing.assert_array_equal(x, y)
    assert ms.get_seed() == 1234


def test_different_seeds_differ_and_draws_advance():
    ms.set_seed(1)
    a1, a2 = uniform((16,)), uniform((16,))
    ms.set_seed(2)
    b1 = uniform((16,))
    assert not np.array_equal(a1, a2)  # the generator advances
    assert not np.array_equal(a1, b1)


def test_seed_reproducible_across_processes():
    code = "import dynastat as ms; ms.set_seed(7); print(ms.ops.uniform((5,), ms.Tensor(0.0), ms.Tensor(1.0)).asnumpy().tolist())"
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
            for _ in range(2)]
    assert runs[0] == runs[1] and runs[0].strip()


def test_random_values_are_sane():
    ms.set_seed(0)
    u = uniform((10000,), 2.0, 3.0)
    assert u.dtype == np.float32 and u.min() >= 2.0 and u.max() < 3.0
    assert abs(u.mean() - 2.5) < 0.02
    n = ms.ops.normal((10000,), 0.0, 1.0).asnumpy()
    assert abs(n.mean()) < 0.05 and abs(n.std() - 1.0) < 0.05


def test_set_seed_errors():
    with pytest.raises(ValueError):
        ms.set_seed(-1)
    for bad in ("1", 1.5, None, True):
        with pytest.raises(TypeError):  # MindSpore: TypeError for a non-int, ValueError for a negative int
            ms.set_seed(bad)


def test_large_seed():
    ms.set_seed(2**63 + 5)
    a = uniform((3,))
    ms.set_seed(2**63 + 5)
    np.testing.assert_array_equal(a, uniform((3,)))
