"""Extracts the code examples with printed outputs from the seed documents (../shared/seeds/*.rendered.md).

Each example is a ```python block followed (after an "Output:"/"输出:" line or directly) by a ```text block.
The import lines are rewritten from mindspore to dynastat, as a user would.
"""
import pathlib
import re

REPO = pathlib.Path(__file__).resolve().parents[2]
SEEDS = REPO.parent / "shared" / "seeds"

_BLOCK = re.compile(r"```(python|text)\n(.*?)```", re.S)


def to_dynastat(code):
    """Rewrites the seeds' imports to dynastat's, the only change a user makes."""
    code = re.sub(r"\bimport mindspore as ms\b", "import dynastat as ms", code)
    code = re.sub(r"\bimport mindspore\.(\w+) as (\w+)", r"import dynastat.\1 as \2", code)
    code = re.sub(r"\bfrom mindspore import\b", "from dynastat import", code)
    code = re.sub(r"\bfrom mindspore\.", "from dynastat.", code)
    code = re.sub(r"\bimport mindspore\b", "import dynastat as mindspore", code)
    return code


def examples():
    """[(id, code, expected_output)] for every example of every rendered seed document."""
    if not SEEDS.is_dir():
        raise FileNotFoundError(f"seed documents not found at {SEEDS} (shared/ must sit beside the repo)")
    out = []
    for doc in sorted(SEEDS.glob("*.rendered.md")):
        blocks = _BLOCK.findall(doc.read_text(encoding="utf-8"))
        n = 0
        for (kind, body), nxt in zip(blocks, blocks[1:] + [("", "")]):
            if kind == "python" and nxt[0] == "text":
                out.append((f"{doc.name.split('_')[0]}-{n}", body, nxt[1]))
                n += 1
    return out
