"""Source of user functions as ASTs, with their file and line numbers (cached per code object)."""
import ast
import inspect
import textwrap

from .errors import JitSyntaxError

_cache = {}


class FunctionSource:
    """The parsed definition of a function: `node` (ast.FunctionDef / AsyncFunctionDef / Lambda) with
    line numbers as in `filename`."""
    __slots__ = ("node", "filename", "name")

    def __init__(self, node, filename, name):
        self.node, self.filename, self.name = node, filename, name


def _find_lambda(tree, code):
    lams = [n for n in ast.walk(tree) if isinstance(n, ast.Lambda) and n.lineno == code.co_firstlineno]
    if len(lams) == 1:
        return lams[0]
    # several lambdas on one line: match by argument names
    names = code.co_varnames[:code.co_argcount]
    for n in lams:
        if tuple(a.arg for a in n.args.args) == names:
            return n
    return lams[0] if lams else None


def get_source(fn):
    """FunctionSource of a Python function; JitSyntaxError when its source is unavailable."""
    code = fn.__code__
    src = _cache.get(code)
    if src is not None:
        return src
    filename = code.co_filename
    try:
        lines, start = inspect.getsourcelines(fn)
    except (OSError, TypeError) as e:
        raise JitSyntaxError(
            f"cannot compile '{fn.__qualname__}': its source code is not available ({e}); graph mode reads "
            f"the function's source (define it in a .py file, or register interactive code in linecache)") from None
    text = textwrap.dedent("".join(lines))
    try:
        tree = ast.parse(text)
    except SyntaxError:
        # a lambda inside a larger expression: parse the enclosing statement lines as far as they parse
        tree = ast.parse("(" + text.strip().rstrip(",") + ")") if fn.__name__ == "<lambda>" else None
        if tree is None:
            raise
    ast.increment_lineno(tree, start - 1)
    if fn.__name__ == "<lambda>":
        node = _find_lambda(tree, code)
    else:
        node = next((n for n in ast.walk(tree)
                     if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == fn.__name__), None)
    if node is None:
        raise JitSyntaxError(f"cannot find the definition of '{fn.__qualname__}' in {filename}")
    if isinstance(node, ast.AsyncFunctionDef):
        raise JitSyntaxError(f"async function '{fn.__qualname__}' cannot be compiled to a graph")
    src = FunctionSource(node, filename, fn.__qualname__)
    _cache[code] = src
    return src
