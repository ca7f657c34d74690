"""Execution context: the seeds' set_context / get_context.

PYNATIVE_MODE (the default) runs ops eagerly. GRAPH_MODE compiles a Cell's construct into a graph
when the Cell is called (dynastat.jit); `@jit` functions compile in either mode.
"""
GRAPH_MODE = 0
PYNATIVE_MODE = 1
STRICT = 0
COMPATIBLE = 1
LAX = 2

_context = {
    "mode": PYNATIVE_MODE,
    "device_target": "CPU",
    "device_id": 0,
    "jit_syntax_level": STRICT,
    "save_graphs": False,
    "save_graphs_path": ".",
}

_DEVICE_TARGETS = ("CPU",)
graph_mode = False  # read on every Cell call


def set_context(**kwargs):
    """Sets context options: mode, device_target ("CPU"), device_id, jit_syntax_level, save_graphs,
    save_graphs_path. Every option is checked before any is applied: an unknown key or an unsupported
    value raises and changes nothing."""
    for key, value in kwargs.items():
        if key not in _context:
            raise ValueError(f"set_context: unknown option '{key}' (known: {', '.join(sorted(_context))})")
        if key == "mode":
            if value not in (GRAPH_MODE, PYNATIVE_MODE) or isinstance(value, bool):
                raise ValueError(f"set_context: mode must be GRAPH_MODE (0) or PYNATIVE_MODE (1), got {value!r}")
        elif key == "device_target":
            if value not in _DEVICE_TARGETS:
                raise ValueError(f"set_context: device_target must be one of {_DEVICE_TARGETS}, got {value!r} "
                                 "(dynastat runs on the CPU)")
        elif key == "device_id":
            if not isinstance(value, int) or isinstance(value, bool) or value != 0:
                raise ValueError(f"set_context: device_id must be 0 (one CPU device), got {value!r}")
        elif key == "jit_syntax_level":
            if value not in (STRICT, COMPATIBLE, LAX) or isinstance(value, bool):
                raise ValueError(f"set_context: jit_syntax_level must be STRICT, COMPATIBLE or LAX, got {value!r}")
        elif key == "save_graphs":
            if not isinstance(value, (bool, int)):
                raise TypeError(f"set_context: save_graphs must be a bool or int, got {type(value).__name__}")
        elif key == "save_graphs_path":
            if not isinstance(value, str):
                raise TypeError(f"set_context: save_graphs_path must be a str, got {type(value).__name__}")
    _context.update(kwargs)
    global graph_mode
    graph_mode = _context["mode"] == GRAPH_MODE


def get_context(key):
    """The value of one context option."""
    if key not in _context:
        raise ValueError(f"get_context: unknown option '{key}' (known: {', '.join(sorted(_context))})")
    return _context[key]
