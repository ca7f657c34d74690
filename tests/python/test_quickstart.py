"""examples/quickstart.py (the README's demonstration) runs and prints what it claims."""
import os
import subprocess
import sys

import dynastat

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_quickstart_runs():
    env = dict(os.environ)
    # the dynastat this test process imported (installed, or the checkout's python/ with PYTHONPATH)
    pkg_parent = os.path.dirname(os.path.dirname(os.path.abspath(dynastat.__file__)))
    env["PYTHONPATH"] = os.pathsep.join([pkg_parent] + [p for p in [env.get("PYTHONPATH")] if p])
    out = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "quickstart.py")], env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "[[9.02      5.4       7.2000003]" in text
    assert "largest difference from eager: 0.0e+00" in text
    assert "@jit collatz_steps(27) = 111" in text
    assert "While(" in text
    assert "the 'try' statement is not supported" in text
