"""The AST interpreter that compiles user code: Python values are computed at compile time, tensor
operations on symbolic tensors add nodes to the current trace, and tensor-dependent control flow
becomes If/While subgraphs (see stmts.py and control.py).

User functions (and Cells' construct) are interpreted from their source; library code (dynastat,
NumPy, the standard library) is called directly and records through the trace.
"""
import ast
import builtins
import functools
import operator
import os
import sys
import types

from .. import _C
from .errors import JitSyntaxError, syntax_error
from .source import get_source
from .values import Undefined, is_tensor, is_symbolic
from .frames import (MISSING as _MISSING, ReturnSignal, Frame, InterpFunction,
                     bind_arguments)
from .stmts import StatementsMixin
from . import graph_builtins, control

_PKG_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_LIB_DIRS = tuple({os.path.abspath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)})

BINOPS = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow, ast.MatMult: operator.matmul,
    ast.BitAnd: operator.and_, ast.BitOr: operator.or_, ast.BitXor: operator.xor, ast.LShift: operator.lshift,
    ast.RShift: operator.rshift,
}
CMPOPS = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt,
    ast.GtE: operator.ge, ast.Is: operator.is_, ast.IsNot: operator.is_not,
    ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
}
UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Invert: operator.invert}


def _where(comp):
    from .errors import where
    return where(*comp.loc) if comp.loc[1] else "  (at the start of the compiled function)"


def is_user_function(fn):
    """Whether fn's code is the user's (interpreted) rather than a library's (called directly)."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return False
    f = os.path.abspath(code.co_filename) if not code.co_filename.startswith("<") else code.co_filename
    if f.startswith(_PKG_DIR + os.sep):
        return False
    if "site-packages" in f or "dist-packages" in f:
        return False
    return not any(f.startswith(d + os.sep + "lib") for d in _LIB_DIRS)


class Interpreter(StatementsMixin):
    """Evaluates user code on the compilation `comp` (see state.Compilation)."""

    def __init__(self, comp):
        self.comp = comp

    # ================================================================================== calls
    def call_function(self, fn, args, kwargs):
        """Calls any callable inside the graph being compiled."""
        comp = self.comp
        if isinstance(fn, InterpFunction):
            return self._call_interp(fn, args, kwargs)
        entry = graph_builtins.HANDLERS.get(id(fn))
        if entry is not None and entry[0] is fn:
            return entry[1](self, args, kwargs)
        if isinstance(fn, functools.partial):
            return self.call_function(fn.func, tuple(fn.args) + tuple(args), {**fn.keywords, **kwargs})
        inner = getattr(fn, "__ds_jit_fn__", None)
        if inner is not None:  # a @jit function called from compiled code is inlined
            bound_self = getattr(fn, "__self__", None)
            if bound_self is not None:
                args = (bound_self,) + tuple(args)
            return self.call_function(inner, args, kwargs)
        from ..nn.cell import Cell
        if isinstance(fn, Cell):
            return self.call_cell(fn, args, kwargs)
        if isinstance(fn, types.MethodType):
            if isinstance(fn.__self__, Cell):
                comp.capture(fn.__self__)
            if is_user_function(fn.__func__):
                return self.call_user(fn.__func__, (fn.__self__,) + tuple(args), kwargs)
            return fn(*args, **kwargs)
        if isinstance(fn, types.FunctionType) and is_user_function(fn):
            return self.call_user(fn, args, kwargs)
        return fn(*args, **kwargs)

    def call_cell(self, cell, args, kwargs):
        """A Cell called inside the graph: its construct is interpreted (user cells) or traced."""
        self.comp.capture(cell)
        if cell.__dict__.get("_hooked"):
            what = "a custom bprop" if cell.__dict__.get("_has_bprop") else "hooks"
            raise JitSyntaxError(
                f"{type(cell).__name__} has {what}, which compiled graphs do not run (its gradient or hooks would "
                f"silently differ from eager mode)\n{_where(self.comp)}\ncall this Cell from eager code (outside "
                f"@jit / GRAPH_MODE), or remove the {what}")
        construct = type(cell).construct
        inner = getattr(construct, "__ds_jit_fn__", None)
        if inner is not None:
            construct = inner
        if isinstance(construct, types.FunctionType) and is_user_function(construct):
            return self.call_user(construct, (cell,) + tuple(args), kwargs)
        return cell.construct(*args, **kwargs)

    def call_user(self, fn, args, kwargs):
        """Interprets a user function from its source."""
        comp = self.comp
        if comp.depth >= comp.MAX_DEPTH:
            chain = " -> ".join(s[0] for s in comp.stack[-6:])
            raise JitSyntaxError(f"recursion deeper than {comp.MAX_DEPTH} calls while compiling "
                                 f"'{fn.__qualname__}' ({chain} -> ...): recursion must end at compile time "
                                 f"(its depth must not depend on tensor values)")
        src = get_source(fn)
        node = src.node
        closure = {}
        if fn.__closure__:
            closure = dict(zip(fn.__code__.co_freevars, fn.__closure__))
        frame = Frame(fn.__globals__, closure, src.filename, fn.__qualname__)
        defaults = fn.__defaults__ or ()
        kwd = fn.__kwdefaults__ or {}
        kw_defaults = [kwd.get(a.arg, _MISSING) for a in node.args.kwonlyargs]
        frame.locals.update(bind_arguments(node.args, defaults, kw_defaults, tuple(args), kwargs, fn.__qualname__))
        return self._run_body(node, frame)

    def _call_interp(self, f, args, kwargs):
        frame = Frame(f.frame.fn_globals, f.frame.closure, f.frame.filename, f.name, parent=f.frame)
        frame.locals.update(bind_arguments(f.node.args, f.defaults, f.kw_defaults, tuple(args), kwargs, f.name))
        return self._run_body(f.node, frame)

    def _run_body(self, node, frame):
        comp = self.comp
        comp.depth += 1
        comp.stack.append((frame.name, frame.filename, node.lineno))
        saved_loc = comp.loc
        try:
            if isinstance(node, ast.Lambda):
                comp.set_loc(frame.filename, node.lineno, node.col_offset)
                return self.eval(node.body, frame)
            try:
                self.exec_block(node.body, frame, [])
            except ReturnSignal as r:
                return r.value
            return None
        finally:
            comp.depth -= 1
            comp.stack.pop()
            if saved_loc[1]:
                comp.set_loc(*saved_loc)

    # ================================================================================== names
    def lookup(self, name, frame, node):
        f = frame
        while f is not None:
            v = f.locals.get(name, _MISSING)
            if v is not _MISSING:
                if isinstance(v, Undefined):
                    raise syntax_error(f"reading variable '{name}' ({v.why})", frame.filename, node.lineno,
                                       node.col_offset, "assign it before the branch or loop, on every path")
                return v
            if f.closure and name in f.closure:
                cell = f.closure[name]
                try:
                    v = cell.cell_contents
                except ValueError:
                    raise NameError(f"free variable '{name}' referenced before assignment") from None
                self.comp.guard("cell", cell, None, v)
                return self.comp.capture(v)
            f = f.parent
        g = frame.fn_globals
        if name in g:
            v = g[name]
            self.comp.guard("item", g, name, v)
            return self.comp.capture(v)
        b = getattr(builtins, name, _MISSING)
        if b is not _MISSING:
            return b
        raise NameError(f"name '{name}' is not defined")

    def getattr(self, obj, name):
        v = getattr(obj, name)
        if isinstance(obj, (types.ModuleType, _C.TensorBase)) or isinstance(obj, type):
            return v
        if isinstance(v, types.MethodType) and v.__self__ is obj:
            return v
        self.comp.guard("attr", obj, name, v)
        return self.comp.capture(v)

    # ================================================================================== expressions
    def eval(self, node, frame):
        m = getattr(self, "e_" + type(node).__name__, None)
        if m is None:
            raise syntax_error(f"the expression '{type(node).__name__}'", frame.filename, node.lineno,
                               node.col_offset, _EXPR_HINTS.get(type(node).__name__))
        return m(node, frame)

    def e_Constant(self, node, frame):
        return node.value

    def e_Name(self, node, frame):
        return self.lookup(node.id, frame, node)

    def e_Attribute(self, node, frame):
        return self.getattr(self.eval(node.value, frame), node.attr)

    def e_Tuple(self, node, frame):
        return tuple(self._elts(node.elts, frame))

    def e_List(self, node, frame):
        return self._elts(node.elts, frame)

    def e_Set(self, node, frame):
        return set(self._elts(node.elts, frame))

    def _elts(self, elts, frame):
        out = []
        for e in elts:
            if isinstance(e, ast.Starred):
                out.extend(self.iterate(self.eval(e.value, frame), frame, e))
            else:
                out.append(self.eval(e, frame))
        return out

    def e_Dict(self, node, frame):
        d = {}
        for k, v in zip(node.keys, node.values):
            if k is None:
                d.update(self.eval(v, frame))
            else:
                d[self.eval(k, frame)] = self.eval(v, frame)
        return d

    def e_BinOp(self, node, frame):
        return BINOPS[type(node.op)](self.eval(node.left, frame), self.eval(node.right, frame))

    def e_UnaryOp(self, node, frame):
        v = self.eval(node.operand, frame)
        if isinstance(node.op, ast.Not):
            if is_symbolic(v):
                return _C.ops["logical_not"](self.condition(v, "not", node, frame))
            return not v
        return UNARY[type(node.op)](v)

    def e_BoolOp(self, node, frame):
        is_and = isinstance(node.op, ast.And)
        v = self.eval(node.values[0], frame)
        for nxt in node.values[1:]:
            if is_symbolic(v):
                a = self.condition(v, "and" if is_and else "or", node, frame)
                b = self.eval(nxt, frame)
                b = self.condition(b, "and" if is_and else "or", node, frame) if is_tensor(b) else bool(b)
                v = _C.ops["logical_and" if is_and else "logical_or"](a, b)
            elif (not v) if is_and else bool(v):
                return v
            else:
                v = self.eval(nxt, frame)
        return v

    def e_Compare(self, node, frame):
        left = self.eval(node.left, frame)
        result = None
        for op, right_node in zip(node.ops, node.comparators):
            right = self.eval(right_node, frame)
            r = CMPOPS[type(op)](left, right)
            if result is None:
                result = r
            elif is_symbolic(result) or is_symbolic(r):
                result = _C.ops["logical_and"](result, r)
            elif not result:
                return result
            else:
                result = r
            left = right
        return result

    def e_IfExp(self, node, frame):
        return control.if_expression(self, node, frame)

    def e_Call(self, node, frame):
        fn = self.eval(node.func, frame)
        args = self._elts(node.args, frame)
        kwargs = {}
        for kw in node.keywords:
            if kw.arg is None:
                kwargs.update(self.eval(kw.value, frame))
            else:
                kwargs[kw.arg] = self.eval(kw.value, frame)
        return self.call_function(fn, args, kwargs)

    def e_Subscript(self, node, frame):
        return self.eval(node.value, frame)[self.eval(node.slice, frame)]

    def e_Index(self, node, frame):  # Python < 3.9 AST
        return self.eval(node.value, frame)

    def e_Slice(self, node, frame):
        f = lambda n: None if n is None else self.eval(n, frame)  # noqa: E731
        return slice(f(node.lower), f(node.upper), f(node.step))

    def e_Starred(self, node, frame):
        raise syntax_error("a starred expression here", frame.filename, node.lineno, node.col_offset)

    def e_Lambda(self, node, frame):
        return self.make_function(node, frame, "<lambda>")

    def e_JoinedStr(self, node, frame):
        parts = []
        for v in node.values:
            parts.append(self.eval(v, frame) if isinstance(v, ast.Constant) else self.e_FormattedValue(v, frame))
        return "".join(str(p) for p in parts)

    def e_FormattedValue(self, node, frame):
        v = self.eval(node.value, frame)
        if is_symbolic(v):
            raise syntax_error("formatting a tensor's value into a string", frame.filename, node.lineno,
                               node.col_offset, "pass the tensor to print() instead: print('x =', x)")
        conv = {-1: lambda x: x, 115: str, 114: repr, 97: ascii}[node.conversion]
        spec = "" if node.format_spec is None else self.eval(node.format_spec, frame)
        return format(conv(v), spec)

    def e_ListComp(self, node, frame):
        out = []
        self._comprehension(node.generators, frame, lambda f: out.append(self.eval(node.elt, f)))
        return out

    def e_GeneratorExp(self, node, frame):
        return iter(self.e_ListComp(node, frame))

    def e_SetComp(self, node, frame):
        return set(self.e_ListComp(node, frame))

    def e_DictComp(self, node, frame):
        out = {}

        def put(f):
            out[self.eval(node.key, f)] = self.eval(node.value, f)
        self._comprehension(node.generators, frame, put)
        return out

    def _comprehension(self, gens, frame, emit):
        scope = Frame(frame.fn_globals, None, frame.filename, frame.name, parent=frame)

        def level(i):
            if i == len(gens):
                emit(scope)
                return
            g = gens[i]
            if g.is_async:
                raise syntax_error("an async comprehension", frame.filename, g.iter.lineno, 0)
            for item in self.iterate(self.eval(g.iter, scope if i else frame), frame, g.iter):
                self.assign(g.target, item, scope)
                if all(self.truth(self.eval(c, scope), "a comprehension condition", c, frame) for c in g.ifs):
                    level(i + 1)
        level(0)

    # ================================================================================== helpers
    def make_function(self, node, frame, name):
        a = node.args
        defaults = [self.eval(d, frame) for d in a.defaults]
        kw_defaults = [_MISSING if d is None else self.eval(d, frame) for d in a.kw_defaults]
        return InterpFunction(node, frame, defaults, kw_defaults, name)

    def condition(self, v, what, node, frame):
        from .values import as_condition
        return as_condition(v, what, (frame.filename, node.lineno))

    def truth(self, v, what, node, frame):
        """Python truth of a compile-time value; a tensor-dependent one is refused here."""
        if is_symbolic(v):
            raise syntax_error(f"a tensor-dependent {what}", frame.filename, node.lineno, node.col_offset,
                               "only if/while statements and conditional expressions may depend on tensor values")
        return bool(v)

    def iterate(self, v, frame, node):
        """The items of a compile-time iterable (tuples, lists, dicts, ranges, tensors along axis 0)."""
        if is_tensor(v):
            n = v.shape[0] if v.ndim else None
            if v.ndim == 0:
                raise TypeError("iteration over a 0-d tensor")
            if n is None:
                raise syntax_error("iterating over a tensor whose first dimension is unknown at compile time",
                                   frame.filename, node.lineno, node.col_offset,
                                   "iterate over range(n) with n known, or use tensor operations")
            return [v[i] for i in range(n)]
        if isinstance(v, graph_builtins.SymRange):
            raise syntax_error("a range with tensor bounds outside a for statement", frame.filename, node.lineno,
                               node.col_offset, "use it directly as `for i in range(n):`")
        return list(v)

    # statement execution lives in stmts.py (mixed in below)


_EXPR_HINTS = {
    "Await": "graphs run synchronously; call the function without await",
    "Yield": "generators cannot be compiled; return a tuple or list instead",
    "YieldFrom": "generators cannot be compiled; return a tuple or list instead",
    "NamedExpr": "assign the value in a separate statement before using it",
}
