"""The compilation in progress on this thread: its traces, guards and captured weights.

A compilation owns a root `_C.Trace`; control flow pushes sub-traces. Library code (ops, Tensor methods,
nn layers) runs on symbolic tensors and adds nodes to the trace that is current; user code is
interpreted from its AST by `interp.Interpreter`.
"""
import threading
import types

from .. import _C

_local = threading.local()
active = 0  # compilations in progress (any thread): a cheap first test on hot paths


def current():
    """The Compilation running on this thread, or None."""
    return getattr(_local, "comp", None)


def tracing():
    """Whether a graph is being compiled on this thread."""
    return getattr(_local, "comp", None) is not None


def _is_parameter(x):
    from ..common.parameter import Parameter
    return isinstance(x, Parameter)


_NO_GUARD_TYPES = (types.ModuleType, types.BuiltinFunctionType)


class Compilation:
    """State of one compile: root trace, current trace, guards, captured weights, call depth."""

    MAX_DEPTH = 64

    def __init__(self, name):
        self.root = _C.Trace(name)
        self.trace = self.root
        self.guards = {}          # (id(obj), kind, name) -> (kind, obj, name, value)
        self.weights = []         # Parameters bound as weight params of the root graph (extra inputs)
        self._bound = set()       # ids of bound Parameters
        self._cells_bound = set()
        self.depth = 0
        self.stack = []           # (function name, filename, line) of the interpreted calls
        self.loc = ("", 0)
        self.notes = []           # diagnostics (why a value was treated the way it was)

    # -------------------------------------------------------------------------------- activation
    def __enter__(self):
        global active
        self._prev = getattr(_local, "comp", None)
        _local.comp = self
        active += 1
        self.root.__enter__()
        return self

    def __exit__(self, *exc):
        global active
        self.root.__exit__(*exc)
        _local.comp = self._prev
        active -= 1
        return False

    def set_loc(self, filename, line, col=0):
        self.loc = (filename, line)
        self.trace.set_loc(filename, line, col)

    def is_symbolic(self, x):
        """Whether tensor x has a graph value (a symbolic tensor or a bound Parameter)."""
        return isinstance(x, _C.TensorBase) and self.trace.is_symbolic(x)

    # -------------------------------------------------------------------------------- captures
    def bind_parameter(self, p):
        """Makes Parameter p a weight parameter of the root graph (once); returns p."""
        if id(p) not in self._bound:
            self._bound.add(id(p))
            name = getattr(p, "name", None) or f"weight{len(self.weights)}"
            self.root.param(name, p.dtype, p.shape, weight=True, bind=p)
            self.weights.append(p)
        return p

    def bind_cell(self, cell):
        """Binds every Parameter of a Cell (and its sub-cells) as weights, once per cell."""
        if id(cell) in self._cells_bound:
            return
        self._cells_bound.add(id(cell))
        for p in cell.get_parameters():
            self.bind_parameter(p)
        for _, c in cell.cells_and_names():
            self.guard("attr", c, "training", c.training)  # layers read self.training in library code
            self.guard("attr", c, "_hooked", c.__dict__.get("_hooked", False))  # hooks added later are refused
            for v in vars(c).values():  # state kept outside the registered parameters (optimizer moments)
                if isinstance(v, (tuple, list)) and v and all(_is_parameter(x) for x in v):
                    for x in v:
                        self.bind_parameter(x)

    def capture(self, value):
        """A Python value read by the graph from outside (attribute, global, closure): Parameters and
        Cells are bound; everything else is a compile-time constant."""
        from ..nn.cell import Cell
        if isinstance(value, Cell):
            self.bind_cell(value)
        elif _is_parameter(value):
            self.bind_parameter(value)
        elif isinstance(value, (list, tuple)) and value and all(_is_parameter(v) for v in value):
            for v in value:
                self.bind_parameter(v)
        return value

    def assign_parameter(self, p, value):
        """p[...] = value inside the graph: an assign node (the Parameter's memory is written when the
        graph runs), and later reads of p in this graph see the new value."""
        self.bind_parameter(p)
        self.trace.add_assign(p, value)
        self.trace.rebind(p, value)

    def write_parameter(self, p, key, value):
        """p[key] = value inside the graph (Parameter.__setitem__ while compiling)."""
        ops = _C.ops
        self.bind_parameter(p)
        if not isinstance(value, _C.TensorBase):
            from ..common.tensor import Tensor
            value = Tensor(value, p.dtype)
        if key is Ellipsis or (isinstance(key, slice) and key == slice(None)):
            new = value if value.dtype == p.dtype else ops["cast"](value, p.dtype)
            if tuple(new.shape) != tuple(p.shape):
                new = ops["broadcast_to"](new, tuple(p.shape))
        else:
            new = ops["copy"](p)
            new[key] = value
        self.assign_parameter(p, new)

    # -------------------------------------------------------------------------------- guards
    def guard(self, kind, obj, name, value):
        """Records that the compiled graph depends on obj.name / obj[name] / the cell's contents being
        `value` (checked before every cached call)."""
        if isinstance(value, _NO_GUARD_TYPES):
            return
        key = (id(obj), kind, name)
        if key not in self.guards:
            self.guards[key] = (kind, obj, name, value)

    def guard_list(self):
        return [g for g in self.guards.values()]
