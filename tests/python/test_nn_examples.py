"""examples/train_digits.py: the message without scikit-learn, a short training run with it, and the
hand-written PNG of the loss curve."""
import importlib.util
import os
import struct
import sys
import zlib

import pytest

EXAMPLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "train_digits.py")


def load_example():
    spec = importlib.util.spec_from_file_location("train_digits", EXAMPLE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_without_scikit_learn_exits_zero(monkeypatch, capsys):
    mod = load_example()
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    assert mod.main([]) == 0
    assert "scikit-learn is not installed" in capsys.readouterr().out


def test_hand_drawn_png(tmp_path):
    mod = load_example()
    path = tmp_path / "curve.png"
    mod._save_png_by_hand([2.3, 1.5, 0.9, 0.4, 0.2, 0.1], [3, 6], str(path), w=120, h=80)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    length, tag = struct.unpack(">I4s", data[8:16])
    w, h = struct.unpack(">II", data[16:24])
    assert tag == b"IHDR" and (w, h) == (120, 80)
    idat = data.index(b"IDAT")
    n = struct.unpack(">I", data[idat - 4:idat])[0]
    raw = zlib.decompress(data[idat + 4:idat + 4 + n])
    assert len(raw) == h * (1 + 3 * w)


def test_training_reaches_95_percent(tmp_path, capsys):
    """The example's acceptance: at least 95% test accuracy (scikit-learn is installed by
    scripts/install.sh --test, so this runs in CI)."""
    mod = load_example()
    out = tmp_path / "loss.png"
    rc = mod.main(["--out", str(out)])
    text = capsys.readouterr().out
    assert "final test accuracy" in text
    acc = float(text.split("final test accuracy: ")[1].split("%")[0])
    assert acc >= 95.0 and rc == 0, text[-500:]
    assert out.exists() and out.stat().st_size > 100
