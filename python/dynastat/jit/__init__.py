"""Graph compilation of Python functions (`jit`, `ms_function`, GRAPH_MODE Cells).

The front end reads a function's source (`source.py`), interprets it (`interp.py`, `stmts.py`,
`control.py`, `graph_builtins.py`) on symbolic tensors recorded by the C graph capture (`_C.Trace`),
and hands the optimized graph to the C call cache (`_C.JitFunction`), which checks guards and runs the
plan on every call. See docs/jit.md."""
from .api import jit, ms_function, show_graph
from .errors import JitSyntaxError
from .diagnostics import events, RecompileWarning
from .state import tracing

__all__ = ["jit", "ms_function", "show_graph", "JitSyntaxError", "events", "RecompileWarning", "tracing"]
