"""Errors of the graph compiler: they name the user's construct, file:line and source line."""
import linecache


class JitSyntaxError(SyntaxError):
    """Python syntax or a Python feature the graph compiler does not support at the current
    jit_syntax_level. ``str(e)`` names the construct, the file:line, shows the source line, and says
    what to write instead."""


def source_line(filename, lineno):
    """The stripped source line (or "")."""
    return linecache.getline(filename, lineno).strip() if filename and lineno else ""


def where(filename, lineno):
    """'  File "f.py", line 3\\n    y = x + 1' for messages."""
    text = source_line(filename, lineno)
    s = f'  File "{filename}", line {lineno}'
    return s + (f"\n    {text}" if text else "")


def syntax_error(construct, filename, lineno, col=0, hint=None):
    """A JitSyntaxError for `construct` at filename:lineno with the hint (what to write instead)."""
    text = source_line(filename, lineno)
    msg = f"{construct} is not supported in graph mode (jit_syntax_level STRICT)\n{where(filename, lineno)}"
    if hint:
        msg += f"\n{hint}"
    err = JitSyntaxError(msg)
    err.filename, err.lineno, err.offset, err.text = filename, lineno, (col or 0) + 1, text
    return err


def located(exc, filename, lineno):
    """A copy of exception `exc` whose message also points at the user's line (same type when the type
    takes one message argument; the original is chained)."""
    if getattr(exc, "_ds_located", False) or isinstance(exc, JitSyntaxError):
        return exc
    if where(filename, lineno) in str(exc):  # the message already shows this line
        exc._ds_located = True
        return exc
    msg = f"{exc}\n{where(filename, lineno)}"
    try:
        new = type(exc)(msg)
    except Exception:  # an exception type with another constructor: keep it, add a note when possible
        new = exc
        if hasattr(exc, "add_note"):
            exc.add_note(where(filename, lineno))
    new._ds_located = True
    return new
