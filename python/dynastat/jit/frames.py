"""Frames, interpreted closures, argument binding and the control signals of the interpreter."""
MISSING = object()


class ReturnSignal(Exception):
    def __init__(self, value):
        self.value = value


class BreakSignal(Exception):
    pass


class ContinueSignal(Exception):
    pass


class Frame:
    """Local variables of one interpreted function call (or comprehension scope)."""
    __slots__ = ("locals", "parent", "fn_globals", "closure", "filename", "name")

    def __init__(self, fn_globals, closure, filename, name, parent=None):
        self.locals = {}
        self.parent = parent          # enclosing interpreted frame (nested defs, comprehensions)
        self.fn_globals = fn_globals
        self.closure = closure        # name -> cell of a real Python closure
        self.filename = filename
        self.name = name

    def copy(self):
        f = Frame(self.fn_globals, self.closure, self.filename, self.name, self.parent)
        f.locals = {k: _copy_containers(v) for k, v in self.locals.items()}
        return f


def _copy_containers(v):
    if isinstance(v, list):
        return [_copy_containers(x) for x in v]
    if isinstance(v, dict):
        return {k: _copy_containers(x) for k, x in v.items()}
    return v


class InterpFunction:
    """A function (def or lambda) defined inside interpreted code: a closure over its frame."""

    def __init__(self, node, frame, defaults, kw_defaults, name):
        self.node, self.frame, self.name = node, frame, name
        self.defaults, self.kw_defaults = defaults, kw_defaults
        self.__name__ = self.__qualname__ = name

    def __repr__(self):
        return f"<compiled function {self.name}>"

    def __call__(self, *args, **kwargs):
        """Called by library code (map, functools.reduce, sorted(key=...)) during the compilation."""
        from . import state
        from .interp import Interpreter
        comp = state.current()
        if comp is None:
            raise RuntimeError(f"{self.name}, defined inside a compiled function, was called after its compilation "
                               f"ended (return values, not functions, from compiled code)")
        return Interpreter(comp).call_function(self, args, kwargs)


def bind_arguments(args_node, defaults, kw_defaults, args, kwargs, fname):
    """Python's argument binding for an ast.arguments node; returns {name: value}."""
    pos = [a.arg for a in args_node.posonlyargs + args_node.args]
    out = {}
    n_pos = len(pos)
    for i, v in enumerate(args[:n_pos]):
        out[pos[i]] = v
    extra = args[n_pos:]
    if args_node.vararg:
        out[args_node.vararg.arg] = tuple(extra)
    elif extra:
        raise TypeError(f"{fname}() takes {n_pos} positional arguments but {len(args)} were given")
    kw = {}
    posonly = {a.arg for a in args_node.posonlyargs}
    kwonly = [a.arg for a in args_node.kwonlyargs]
    for k, v in kwargs.items():
        if k in out and k in pos:
            raise TypeError(f"{fname}() got multiple values for argument '{k}'")
        if (k in pos and k not in posonly) or k in kwonly:
            out[k] = v
        elif args_node.kwarg:
            kw[k] = v
        else:
            raise TypeError(f"{fname}() got an unexpected keyword argument '{k}'")
    first_default = n_pos - len(defaults)
    for i, name in enumerate(pos):
        if name not in out:
            if i >= first_default:
                out[name] = defaults[i - first_default]
            else:
                raise TypeError(f"{fname}() missing required positional argument: '{name}'")
    for name, d in zip(kwonly, kw_defaults):
        if name not in out:
            if d is MISSING:
                raise TypeError(f"{fname}() missing required keyword-only argument: '{name}'")
            out[name] = d
    if args_node.kwarg:
        out[args_node.kwarg.arg] = kw
    return out
