"""Python builtins inside compiled code. On compile-time values they are Python's own; on symbolic
tensors they become graph operations (len -> the known first dim, max -> maximum/amax, int -> cast,
print -> a print node that runs in program order, ...)."""
import builtins

from .. import _C
from ..common import dtype as _dt
from .errors import syntax_error
from .values import is_tensor, is_symbolic, contains_symbolic

_ops = _C.ops


class SymRange:
    """range() with a tensor bound: only a `for` statement can use it (it becomes a While)."""

    def __init__(self, start, stop, step):
        self.start, self.stop, self.step = start, stop, step


def _loc(interp):
    return interp.comp.loc


def _range(interp, args, kwargs):
    if kwargs:
        raise TypeError("range() takes no keyword arguments")
    if any(is_symbolic(a) for a in args):
        if len(args) == 1:
            start, stop, step = 0, args[0], 1
        elif len(args) == 2:
            start, stop, step = args[0], args[1], 1
        else:
            start, stop, step = args
        if is_symbolic(step):
            raise syntax_error("range() with a tensor step", *_loc(interp), hint="use a Python int step")
        return SymRange(start, stop, step)
    return range(*args)


def _len(interp, args, kwargs):
    (x,) = args
    if is_tensor(x):
        if x.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        n = x.shape[0]
        if n is None:
            raise syntax_error("len() of a tensor whose first dimension is unknown at compile time",
                               *_loc(interp), hint="use ops.shape / a declared size instead")
        return n
    return len(x)


def _minmax(name):
    pyfn = getattr(builtins, name)
    pair = _ops["minimum" if name == "min" else "maximum"]
    reduce = _ops["amin" if name == "min" else "amax"]

    def handler(interp, args, kwargs):
        if len(args) == 1 and is_tensor(args[0]) and not kwargs:
            return reduce(args[0])
        items = list(args[0]) if len(args) == 1 else list(args)
        if not any(is_symbolic(v) for v in items) or kwargs:
            if any(is_symbolic(v) for v in items):
                raise syntax_error(f"{name}() with key= or default= on tensors", *_loc(interp))
            return pyfn(*args, **kwargs)
        if not items:
            raise ValueError(f"{name}() arg is an empty sequence")
        acc = items[0]
        for v in items[1:]:
            acc = pair(acc, v)
        return acc
    return handler


def _sum(interp, args, kwargs):
    if len(args) >= 1 and is_tensor(args[0]) and not kwargs and len(args) == 1:
        x = args[0]
        return _ops["sum"](x, 0) if x.ndim else x
    return builtins.sum(*args, **kwargs)



def _round(interp, args, kwargs):
    if args and is_tensor(args[0]):
        if len(args) > 1 and args[1] is not None:
            raise syntax_error("round() of a tensor with ndigits", *_loc(interp), hint="scale, round and rescale")
        return _ops["round"](args[0])
    return builtins.round(*args, **kwargs)


def _converter(name, dtype):
    pyfn = getattr(builtins, name)

    def handler(interp, args, kwargs):
        if args and is_symbolic(args[0]):
            x = args[0]
            if x.ndim != 0:
                n = 1
                for d in x.shape:
                    n = None if d is None or n is None else n * d
                if n != 1:
                    raise TypeError(f"{name}() of a tensor of shape {list(x.shape)}: only one-element tensors "
                                    f"can be converted to Python scalars")
                x = _ops["reshape"](x, ())
            if name == "bool":
                return _ops["not_equal"](x, 0) if x.dtype != _dt.bool_ else x
            return _ops["cast"](x, dtype)
        return pyfn(*args, **kwargs)
    return handler


def _allany(name):
    pyfn = getattr(builtins, name)
    red = _ops[name]
    logical = _ops["logical_and" if name == "all" else "logical_or"]

    def handler(interp, args, kwargs):
        (x,) = args
        if is_tensor(x):
            return red(x)
        items = list(x)
        if not any(is_symbolic(v) for v in items):
            return pyfn(items)
        acc = None
        for v in items:
            b = red(v) if is_tensor(v) else bool(v)
            acc = b if acc is None else logical(acc, b)
        return acc
    return handler


def _seq(name):
    pyfn = getattr(builtins, name)

    def handler(interp, args, kwargs):
        if args and is_tensor(args[0]):
            return pyfn(_items(interp, args[0]))
        return pyfn(*args, **kwargs)
    return handler


def _items(interp, x):
    if x.ndim == 0:
        raise TypeError("iteration over a 0-d tensor")
    n = x.shape[0]
    if n is None:
        raise syntax_error("iterating over a tensor whose first dimension is unknown at compile time", *_loc(interp))
    return [x[i] for i in range(n)]


def _enumerate(interp, args, kwargs):
    if args and is_tensor(args[0]):
        return builtins.enumerate(_items(interp, args[0]), *args[1:], **kwargs)
    return builtins.enumerate(*args, **kwargs)


def _zip(interp, args, kwargs):
    return builtins.zip(*[_items(interp, a) if is_tensor(a) else a for a in args], **kwargs)


def _print(interp, args, kwargs):
    """print(...) at run time, in program order: strings and Python values first, then tensors."""
    sep = kwargs.pop("sep", " ")
    end = kwargs.pop("end", "\n")
    if kwargs.pop("file", None) is not None or kwargs.pop("flush", False) or kwargs:
        raise syntax_error("print() with file= or flush=", *_loc(interp), hint="print to stdout")
    if sep is None:
        sep = " "
    if end not in ("\n", None):
        raise syntax_error("print() with end= other than a newline", *_loc(interp))
    prefix, tensors = [], []
    for a in args:
        if is_tensor(a):
            tensors.append(a)
        elif tensors:
            raise syntax_error("print() with a Python value after a tensor", *_loc(interp),
                               hint="put the text first (print('x =', x, 'y =', y) -> print('x =', x); "
                                    "print('y =', y))")
        elif contains_symbolic(a):
            raise syntax_error("print() of a container holding tensors", *_loc(interp),
                               hint="print the tensors one by one")
        else:
            prefix.append(str(a))
    if tensors and sep != " ":
        raise syntax_error("print() of tensors with sep= other than ' '", *_loc(interp))
    interp.comp.trace.add_print(sep.join(prefix), tensors)
    return None



def _getattr(interp, args, kwargs):
    if len(args) == 3:
        obj, name, default = args
        if not builtins.hasattr(obj, name):
            return default
        return interp.getattr(obj, name)
    return interp.getattr(*args)



_TABLE = {
    "range": _range, "len": _len, "min": _minmax("min"), "max": _minmax("max"), "sum": _sum,
    "round": _round, "int": _converter("int", _dt.int64), "float": _converter("float", _dt.float32),
    "bool": _converter("bool", _dt.bool_), "all": _allany("all"), "any": _allany("any"), "tuple": _seq("tuple"),
    "list": _seq("list"), "enumerate": _enumerate, "zip": _zip, "print": _print, "getattr": _getattr,
}

_REFUSED = ("open", "input", "exec", "eval", "compile", "setattr", "delattr", "globals", "locals", "vars",
            "breakpoint", "__import__", "exit", "quit", "help", "memoryview")


def _refused(name):
    def handler(interp, args, kwargs):
        raise syntax_error(f"the builtin {name}()", *_loc(interp),
                           hint="it has effects outside the graph: call it outside the compiled function "
                                "(the LAX syntax level's fallback to the interpreter will handle it)")
    return handler


_TABLE.update({k: _refused(k) for k in _REFUSED if hasattr(builtins, k)})

# id(builtin) -> (builtin, handler): the identity check in the interpreter rules out reused ids
HANDLERS = {id(getattr(builtins, k)): (getattr(builtins, k), v) for k, v in _TABLE.items()}
