"""nn.Cell: the base class of layers and networks (the seeds' mindspore.nn.Cell).

A Cell registers the Parameters and sub-Cells assigned to its attributes, names parameters by their
attribute path ("fc.weight": a sub-cell's parameters are renamed with the attribute name as a prefix when
it is attached, as MindSpore does), switches between training and inference (cells start in inference
mode), and runs ``construct`` when called, with forward hooks around it and, when the cell defines
``bprop`` or has backward hooks, a custom backward through the autograd engine.
"""
import itertools
from collections import OrderedDict

from numpy import ndarray as _ndarray

from . import _util
from .. import context as _context
from ..jit import state as _jit_state
from ._util import Parameter, ParameterTuple, PARAMETER_NAME_DEFAULT

__all__ = ["Cell", "HookHandle"]

_handle_ids = itertools.count()


class HookHandle:
    """Returned by the register_*_hook methods: ``handle.remove()`` unregisters the hook (also usable as a
    context manager that removes the hook on exit)."""

    __slots__ = ("_hooks", "_id", "_owner", "__weakref__")

    def __init__(self, hooks, owner=None):
        self._hooks = hooks
        self._id = next(_handle_ids)
        self._owner = owner

    @property
    def handle_id(self):
        return self._id

    def remove(self):
        """Unregisters the hook (a second call does nothing)."""
        self._hooks.pop(self._id, None)
        if self._owner is not None:
            self._owner._refresh_hooked()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def _is_cell(v):
    return isinstance(v, Cell)


def _as_tuple(v):
    return v if isinstance(v, tuple) else (v,)


class Cell:
    """Base class of all layers and networks: subclasses define ``construct(self, *inputs)``.

    ``Cell(auto_prefix=True, flags=None)``: with auto_prefix, the parameters of a sub-cell assigned to an
    attribute get the attribute name as a prefix ("conv.weight")."""

    def __init__(self, auto_prefix=True, flags=None):
        d = self.__dict__
        d["_params"] = OrderedDict()
        d["_cells"] = OrderedDict()
        d["_params_list"] = OrderedDict()
        d["_auto_prefix"] = bool(auto_prefix)
        d["training"] = False
        d["requires_grad"] = False
        d["_forward_pre_hooks"] = OrderedDict()
        d["_forward_hooks"] = OrderedDict()
        d["_backward_pre_hooks"] = OrderedDict()
        d["_backward_hooks"] = OrderedDict()
        d["_flags"] = {}
        d["_bprop_debug"] = False
        d["_has_bprop"] = callable(getattr(type(self), "bprop", None))
        d["_hooked"] = d["_has_bprop"]  # anything that takes __call__ off the fast path
        d["_dynamic_inputs"] = None
        if flags:
            self.add_flags(**flags)

    # ----------------------------------------------------------------------------------- properties
    @property
    def cls_name(self):
        return type(self).__name__

    @property
    def auto_prefix(self):
        return self._auto_prefix

    @property
    def bprop_debug(self):
        return self._bprop_debug

    @bprop_debug.setter
    def bprop_debug(self, value):
        if not isinstance(value, bool):
            raise TypeError(f"{self.cls_name}.bprop_debug must be a bool, got {type(value).__name__}")
        self.__dict__["_bprop_debug"] = value

    @property
    def param_prefix(self):
        """The path of this cell in the network last set by update_cell_prefix() ('' for the root)."""
        return self.__dict__.get("_param_prefix", "")

    def update_cell_prefix(self):
        """Sets every sub-cell's param_prefix to its path in this network."""
        for path, cell in self.cells_and_names():
            cell.__dict__["_param_prefix"] = path

    # ----------------------------------------------------------------------------------- attributes
    def _check_init(self, what):
        if "_params" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: cannot assign {what} before Cell.__init__() is called "
                                 f"(call super().__init__() first in __init__)")

    def __setattr__(self, name, value):
        d = self.__dict__
        params = d.get("_params")
        cells = d.get("_cells")
        if isinstance(value, Parameter):
            self._check_init("a Parameter")
            if name in cells:
                raise TypeError(f"{self.cls_name}: attribute '{name}' holds a Cell and cannot be replaced by a "
                                f"Parameter")
            if name in d and name not in params and d[name] is not None:
                raise TypeError(f"{self.cls_name}: attribute '{name}' already holds a "
                                f"{type(d[name]).__name__} and cannot become a Parameter")
            self.insert_param_to_cell(name, value)
        elif isinstance(value, ParameterTuple):
            self._check_init("a ParameterTuple")
            self._set_param_tuple(name, value)
        elif isinstance(value, Cell):
            self._check_init("a Cell")
            if name in params:
                raise TypeError(f"{self.cls_name}: attribute '{name}' holds a Parameter and cannot be replaced "
                                f"by a Cell")
            self.insert_child_to_cell(name, value)
        elif params is not None and name in params:
            if value is None:
                params[name] = None
                d[name] = None
            elif _util.is_tensor(value) and params[name] is not None:
                _set_data(params[name], value)
            else:
                raise TypeError(f"{self.cls_name}: attribute '{name}' is a Parameter; assign a Parameter, a "
                                f"Tensor (copied into it) or None, not {type(value).__name__}")
        elif cells is not None and name in cells:
            if value is not None:
                raise TypeError(f"{self.cls_name}: attribute '{name}' is a Cell; assign a Cell or None, not "
                                f"{type(value).__name__}")
            cells[name] = None
            d[name] = None
        else:
            if params is not None and name in d.get("_params_list", ()):
                del d["_params_list"][name]
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        d = self.__dict__
        pl = d.get("_params_list")
        if pl is not None and name in pl:
            return pl[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        d = self.__dict__
        if name in d.get("_params", ()):
            del d["_params"][name]
        elif name in d.get("_cells", ()):
            del d["_cells"][name]
        elif name in d.get("_params_list", ()):
            del d["_params_list"][name]
            return
        object.__delattr__(self, name)

    def _set_param_tuple(self, name, value):
        seen = set()
        for p in value:
            if id(p) in seen:
                continue
            seen.add(id(p))
            if _util.param_name(p) in (None, PARAMETER_NAME_DEFAULT):
                raise ValueError(f"{self.cls_name}: every Parameter of the ParameterTuple '{name}' needs a unique "
                                 f"name (got an unnamed Parameter)")
            self.insert_param_to_cell(_util.param_name(p), p, check_name_contain_dot=False)
        self.__dict__.pop(name, None)
        self._params_list[name] = value

    def insert_param_to_cell(self, param_name, param, check_name_contain_dot=True):
        """Registers param (a Parameter, or None) under the attribute name param_name. An unnamed Parameter
        takes param_name as its name; a second, different Parameter with the name of one already in this
        cell is refused."""
        if not isinstance(param_name, str) or not param_name:
            raise KeyError(f"{self.cls_name}.insert_param_to_cell: the name must be a non-empty str, got "
                           f"{param_name!r}")
        if check_name_contain_dot and "." in param_name:
            raise KeyError(f"{self.cls_name}.insert_param_to_cell: the name must not contain '.', got "
                           f"{param_name!r}")
        self._check_init("a Parameter")
        d = self.__dict__
        if param_name in d and param_name not in self._params and d[param_name] is not None:
            raise KeyError(f"{self.cls_name}.insert_param_to_cell: attribute '{param_name}' already exists and "
                           f"is not a Parameter")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"{self.cls_name}.insert_param_to_cell: 'param' must be a Parameter or None, got "
                            f"{type(param).__name__}")
        if param is not None:
            if _util.param_name(param) in (None, PARAMETER_NAME_DEFAULT):
                _util.set_param_name(param, param_name)
            pname = _util.param_name(param)
            for key, other in self._params.items():
                if other is not None and other is not param and key != param_name and \
                        _util.param_name(other) == pname:
                    raise ValueError(f"{self.cls_name}: parameter name clash: attributes '{key}' and "
                                     f"'{param_name}' hold two different Parameters both named '{pname}'; "
                                     f"give each Parameter a unique name")
        self._params[param_name] = param
        if check_name_contain_dot or "." not in param_name:
            d[param_name] = param

    def insert_child_to_cell(self, child_name, child_cell):
        """Registers child_cell (a Cell, or None) under the attribute name child_name; with auto_prefix its
        parameters are renamed '<child_name>.<path>'."""
        if not isinstance(child_name, str) or not child_name or "." in child_name:
            raise KeyError(f"{self.cls_name}.insert_child_to_cell: the name must be a non-empty str without '.', "
                           f"got {child_name!r}")
        self._check_init("a Cell")
        if child_cell is not None and not isinstance(child_cell, Cell):
            raise TypeError(f"{self.cls_name}.insert_child_to_cell: 'child_cell' must be a Cell or None, got "
                            f"{type(child_cell).__name__}")
        if child_cell is self:
            raise ValueError(f"{self.cls_name}: a cell cannot be its own child ('{child_name}')")
        if child_cell is not None and self._auto_prefix:
            child_cell.update_parameters_name(child_name + ".")
        self._cells[child_name] = child_cell
        self.__dict__[child_name] = child_cell

    def update_parameters_name(self, prefix="", recurse=True):
        """Renames every parameter to prefix + its path in this cell ('weight' -> prefix + 'weight')."""
        if not isinstance(prefix, str):
            raise TypeError(f"{self.cls_name}.update_parameters_name: prefix must be a str, got "
                            f"{type(prefix).__name__}")
        for name, p in self.parameters_and_names(expand=recurse):
            _util.set_param_name(p, prefix + name)

    # ----------------------------------------------------------------------------------- traversal
    def cells_and_names(self, cells=None, name_prefix=""):
        """Yields (path, cell) for this cell (path name_prefix) and every sub-cell, depth first, each once."""
        seen = cells if cells is not None else set()
        if id(self) in seen:
            return
        seen.add(id(self))
        yield name_prefix, self
        for name, cell in self._cells.items():
            if cell is not None:
                yield from cell.cells_and_names(seen, f"{name_prefix}.{name}" if name_prefix else name)

    def cells(self):
        """The direct sub-cells."""
        return self.name_cells().values()

    def name_cells(self):
        """OrderedDict of the direct sub-cells by attribute name (each cell once)."""
        out, seen = OrderedDict(), set()
        for name, cell in self._cells.items():
            if cell is not None and id(cell) not in seen:
                seen.add(id(cell))
                out[name] = cell
        return out

    def parameters_and_names(self, name_prefix="", expand=True):
        """Yields (path, parameter) for every parameter (of sub-cells too with expand), each once."""
        cells = self.cells_and_names(name_prefix=name_prefix) if expand else [(name_prefix, self)]
        seen = set()
        for cell_name, cell in cells:
            for pname, p in cell._params.items():
                if p is not None and id(p) not in seen:
                    seen.add(id(p))
                    yield (f"{cell_name}.{pname}" if cell_name else pname), p

    def get_parameters(self, expand=True):
        """Iterator over the parameters (of sub-cells too with expand)."""
        for _, p in self.parameters_and_names(expand=expand):
            yield p

    def trainable_params(self, recurse=True):
        """List of the parameters with requires_grad=True."""
        return [p for p in self.get_parameters(expand=recurse) if _util.requires_grad(p)]

    def untrainable_params(self, recurse=True):
        """List of the parameters with requires_grad=False."""
        return [p for p in self.get_parameters(expand=recurse) if not _util.requires_grad(p)]

    def parameters_dict(self, recurse=True):
        """OrderedDict of the parameters by their name."""
        return OrderedDict((_util.param_name(p), p) for p in self.get_parameters(expand=recurse))

    def init_parameters_data(self, auto_parallel_mode=False):
        """Parameters are initialized when they are created (eagerly, from the seeded generator); returns
        an OrderedDict of them by name, as the seeds' API."""
        return self.parameters_dict()

    def check_names(self):
        """Raises ValueError if two different parameters of this network have the same name."""
        names = {}
        for path, p in self.parameters_and_names():
            n = _util.param_name(p)
            if n in names:
                raise ValueError(f"{self.cls_name}: parameter name clash: '{names[n]}' and '{path}' are two "
                                 f"different Parameters both named '{n}'; give each Parameter a unique name "
                                 f"(or keep auto_prefix=True in the parent cells)")
            names[n] = path

    # ----------------------------------------------------------------------------------- modes
    def set_train(self, mode=True):
        """Training mode (mode=True) or inference mode for this cell and all sub-cells; returns self.
        Cells start in inference mode."""
        mode = bool(mode)
        for _, cell in self.cells_and_names():
            cell.__dict__["training"] = mode
        return self

    def set_grad(self, requires_grad=True):
        """Marks the cell as one whose gradients will be taken; returns self."""
        self.__dict__["requires_grad"] = bool(requires_grad)
        return self

    def add_flags(self, **flags):
        """Sets flags (kept in get_flags() and as attributes of the cell); returns self."""
        self._flags.update(flags)
        self.__dict__.update(flags)
        return self

    def add_flags_recursive(self, **flags):
        for _, cell in self.cells_and_names():
            cell.add_flags(**flags)
        return self

    def get_flags(self):
        return dict(self._flags)

    def set_inputs(self, *inputs):
        """Declares the input signature (dynamic shapes). Accepted for compatibility; eager mode needs none."""
        self.__dict__["_dynamic_inputs"] = inputs

    def get_inputs(self):
        return self._dynamic_inputs

    def apply(self, fn):
        """Calls fn(cell) on every sub-cell and on this cell; returns self."""
        for cell in self.cells():
            cell.apply(fn)
        fn(self)
        return self

    # ----------------------------------------------------------------------------------- hooks
    def register_forward_pre_hook(self, hook_fn):
        """hook_fn(cell, inputs) runs before construct; it may return new inputs (a tuple, or one value).
        Returns a HookHandle."""
        return self._add_hook(self._forward_pre_hooks, hook_fn, "register_forward_pre_hook")

    def register_forward_hook(self, hook_fn):
        """hook_fn(cell, inputs, output) runs after construct; it may return a new output. Returns a
        HookHandle."""
        return self._add_hook(self._forward_hooks, hook_fn, "register_forward_hook")

    def register_backward_pre_hook(self, hook_fn):
        """hook_fn(cell, grad_output) runs when the gradient of the cell's output arrives in the backward
        pass (grad_output is a tuple); it may return a new tuple. Returns a HookHandle."""
        return self._add_hook(self._backward_pre_hooks, hook_fn, "register_backward_pre_hook")

    def register_backward_hook(self, hook_fn):
        """hook_fn(cell, grad_input, grad_output) runs once the gradients of the cell's inputs are computed
        (grad_input: gradients of the inputs, grad_output: gradient of the output, both tuples); it may
        return a new grad_input tuple. Returns a HookHandle."""
        return self._add_hook(self._backward_hooks, hook_fn, "register_backward_hook")

    def _add_hook(self, hooks, fn, what):
        if not callable(fn):
            raise TypeError(f"{self.cls_name}.{what}: the hook must be callable, got {type(fn).__name__}")
        h = HookHandle(hooks, self)
        hooks[h.handle_id] = fn
        self.__dict__["_hooked"] = True
        return h

    def _refresh_hooked(self):
        d = self.__dict__
        d["_hooked"] = bool(d["_has_bprop"] or d["_forward_pre_hooks"] or d["_forward_hooks"] or
                            d["_backward_hooks"] or d["_backward_pre_hooks"])

    # ----------------------------------------------------------------------------------- calling
    def construct(self, *inputs, **kwargs):
        """The computation of the cell; subclasses define it."""
        raise NotImplementedError(f"{self.cls_name}.construct is not defined: a Cell subclass must define "
                                  f"construct(self, ...)")

    def __call__(self, *args, **kwargs):
        for a in args:
            if isinstance(a, _ndarray):
                raise TypeError(f"{self.cls_name}: cell inputs must be Tensors, not NumPy arrays "
                                f"(wrap it: dynastat.Tensor(array))")
        if _context.graph_mode or _jit_state.active:
            if _context.graph_mode or _jit_state.tracing():
                return _jit_graph_call(self, args, kwargs)
        if self.__dict__["_hooked"]:
            return self._call_with_hooks(args, kwargs)
        return self.construct(*args, **kwargs)

    def _call_with_hooks(self, args, kwargs):
        for hook in list(self._forward_pre_hooks.values()):
            r = hook(self, args)
            if r is not None:
                args = _as_tuple(r)
        if self._has_bprop or self._backward_hooks or self._backward_pre_hooks:
            out = _util.autograd()._cell_call(self, args, kwargs)
        else:
            out = self.construct(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            r = hook(self, args, out)
            if r is not None:
                out = r
        return out

    # ----------------------------------------------------------------------------------- printing
    def extend_repr(self):
        """Extra text shown inside the cell's repr (layers override it)."""
        return ""

    def __repr__(self):
        extra = self.extend_repr()
        s = self.cls_name + "<"
        if self._cells:
            sub = "\n"
            if extra:
                sub += extra + "\n"
            for key, value in self._cells.items():
                sub += f"({key}): {value!r}\n"
            s += sub.replace("\n", "\n  ") + ">"
        else:
            s += extra + ">"
        return s

    __str__ = __repr__


def _set_data(param, value):
    """Copies value into param (the seeds' Parameter.set_data)."""
    setter = getattr(param, "set_data", None)
    if setter is not None:
        setter(value)
    else:
        param[...] = value


def _jit_graph_call(cell, args, kwargs):
    from ..jit.api import graph_call
    return graph_call(cell, args, kwargs)
