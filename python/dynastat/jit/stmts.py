"""Statements of the interpreter: assignment, control flow (compile-time or tensor-dependent, see
control.py), definitions, print/raise/assert; anything else is a JitSyntaxError naming the construct."""
import ast

from .. import _C
from .errors import JitSyntaxError, syntax_error, located
from .frames import ReturnSignal, BreakSignal, ContinueSignal
from . import control
from .values import is_tensor, is_symbolic, contains_symbolic

_SIGNALS = (ReturnSignal, BreakSignal, ContinueSignal, JitSyntaxError)

_STMT_HINTS = {
    "With": "context managers are not compiled; move the `with` block out of the compiled function",
    "AsyncWith": "async code cannot be compiled",
    "Try": "exception handling is not compiled; check conditions explicitly, or handle errors outside the compiled function",
    "TryStar": "exception handling is not compiled",
    "ClassDef": "define classes outside the compiled function",
    "Import": "import modules at the top of the file, outside the compiled function",
    "ImportFrom": "import names at the top of the file, outside the compiled function",
    "Global": "pass the value as an argument and return the new value instead of assigning a global",
    "Nonlocal": "return the new value instead of assigning a variable of the enclosing function",
    "AsyncFor": "async code cannot be compiled",
    "AsyncFunctionDef": "async code cannot be compiled",
    "Match": "use if/elif chains",
}


class StatementsMixin:
    """exec_* methods of the Interpreter."""

    def exec_block(self, stmts, frame, conts):
        """Runs statements; `conts` (the continuation) is what follows this block up to the function's
        end: statement lists, and for an unrolled loop the rest of it (control.LoopTail). A
        tensor-dependent `if` that returns compiles it into its branches. None inside a graph loop."""
        for i, s in enumerate(stmts):
            flags = (frame.locals.get(control.BRK, False), frame.locals.get(control.CNT, False))
            self.exec_stmt(s, frame, None if conts is None else [stmts[i + 1:]] + conts)
            if i + 1 < len(stmts) and control.flags_changed(flags, frame):
                # a break/continue may have happened under a tensor condition: the rest runs only if not
                control.guard_rest(self, stmts[i + 1:], frame, conts, stmts[i + 1])
                return

    def exec_stmt(self, node, frame, conts):
        comp = self.comp
        comp.set_loc(frame.filename, node.lineno, node.col_offset)
        m = getattr(self, "s_" + type(node).__name__, None)
        if m is None:
            raise syntax_error(f"the '{_stmt_name(node)}' statement", frame.filename, node.lineno, node.col_offset,
                               _STMT_HINTS.get(type(node).__name__))
        try:
            m(node, frame, conts)
        except _SIGNALS:
            raise
        except _C.TraceError as e:
            raise syntax_error(f"using a tensor's value at compile time ({e})", frame.filename, node.lineno,
                               node.col_offset, "tensor values exist only when the graph runs: use tensor "
                               "operations, or make the value a Python constant") from None
        except Exception as e:
            raise located(e, frame.filename, node.lineno) from e

    # ------------------------------------------------------------------------------------ simple
    def s_Expr(self, node, frame, conts):
        self.eval(node.value, frame)

    def s_Pass(self, node, frame, conts):
        pass

    def s_Assign(self, node, frame, conts):
        value = self.eval(node.value, frame)
        for t in node.targets:
            self.assign(t, value, frame)

    def s_AnnAssign(self, node, frame, conts):
        if node.value is not None:
            self.assign(node.target, self.eval(node.value, frame), frame)

    def s_AugAssign(self, node, frame, conts):
        from .interp import BINOPS
        t = node.target
        if isinstance(t, ast.Name):
            cur = self.lookup(t.id, frame, t)
        elif isinstance(t, ast.Subscript):
            cur = self.eval(t.value, frame)[self.eval(t.slice, frame)]
        else:
            cur = self.eval(t, frame)
        rhs = self.eval(node.value, frame)
        if is_tensor(cur) or is_tensor(rhs):  # functional: a graph has no in-place update of a value
            new = BINOPS[type(node.op)](cur, rhs)
        else:
            new = _INPLACE[type(node.op)](cur, rhs)
        self.assign(t, new, frame)

    def s_Delete(self, node, frame, conts):
        for t in node.targets:
            if isinstance(t, ast.Name):
                frame.locals.pop(t.id, None)
            elif isinstance(t, ast.Subscript):
                obj = self.eval(t.value, frame)
                if is_tensor(obj):
                    raise syntax_error("deleting tensor elements", frame.filename, t.lineno, t.col_offset)
                del obj[self.eval(t.slice, frame)]
            else:
                raise syntax_error("deleting an attribute", frame.filename, t.lineno, t.col_offset)

    def s_Return(self, node, frame, conts):
        raise ReturnSignal(None if node.value is None else self.eval(node.value, frame))

    def s_Break(self, node, frame, conts):
        raise BreakSignal()

    def s_Continue(self, node, frame, conts):
        raise ContinueSignal()

    def s_FunctionDef(self, node, frame, conts):
        f = self.make_function(node, frame, node.name)
        for d in reversed(node.decorator_list):
            f = self.call_function(self.eval(d, frame), [f], {})
        frame.locals[node.name] = f

    def s_Raise(self, node, frame, conts):
        if node.exc is None:
            raise syntax_error("a bare `raise`", frame.filename, node.lineno, node.col_offset,
                               "raise an exception object with a message")
        exc = self.eval(node.exc, frame)
        if isinstance(exc, type):
            exc = exc()
        if contains_symbolic(list(exc.args)):
            raise syntax_error("raising an exception whose message contains a tensor", frame.filename,
                               node.lineno, node.col_offset, "use a constant message")
        raise located(exc, frame.filename, node.lineno)

    def s_Assert(self, node, frame, conts):
        test = self.eval(node.test, frame)
        if is_symbolic(test):
            raise syntax_error("an assert on a tensor's value", frame.filename, node.lineno, node.col_offset,
                               "tensor values are not known at compile time; check shapes or Python values, "
                               "or assert outside the compiled function")
        if not test:
            msg = None if node.msg is None else self.eval(node.msg, frame)
            raise located(AssertionError(msg) if msg is not None else AssertionError(), frame.filename, node.lineno)

    # ------------------------------------------------------------------------------------ control flow
    def s_If(self, node, frame, conts):
        cond = self.eval(node.test, frame)
        if is_symbolic(cond):
            control.symbolic_if(self, node, cond, frame, conts)
        elif cond:
            self.exec_block(node.body, frame, conts)
        else:
            self.exec_block(node.orelse, frame, conts)

    def s_While(self, node, frame, conts):
        control.exec_while(self, node, frame, conts)

    def s_For(self, node, frame, conts):
        control.exec_for(self, node, frame, conts)

    # ------------------------------------------------------------------------------------ assignment
    def assign(self, target, value, frame):
        if isinstance(target, ast.Name):
            frame.locals[target.id] = value
        elif isinstance(target, (ast.Tuple, ast.List)):
            self._unpack(target, value, frame)
        elif isinstance(target, ast.Subscript):
            self._assign_item(target, value, frame)
        elif isinstance(target, ast.Attribute):
            self._assign_attr(target, value, frame)
        elif isinstance(target, ast.Starred):
            raise syntax_error("a starred assignment target here", frame.filename, target.lineno, target.col_offset)
        else:
            raise syntax_error(f"assigning to {type(target).__name__}", frame.filename, target.lineno,
                               target.col_offset)

    def _unpack(self, target, value, frame):
        items = self.iterate(value, frame, target)
        star = [i for i, e in enumerate(target.elts) if isinstance(e, ast.Starred)]
        n = len(target.elts)
        if star:
            k = star[0]
            after = n - k - 1
            if len(items) < n - 1:
                raise ValueError(f"not enough values to unpack (expected at least {n - 1}, got {len(items)})")
            parts = items[:k] + [list(items[k:len(items) - after])] + items[len(items) - after:]
            for e, v in zip(target.elts, parts):
                self.assign(e.value if isinstance(e, ast.Starred) else e, v, frame)
            return
        if len(items) != n:
            raise ValueError(f"{'too many' if len(items) > n else 'not enough'} values to unpack "
                             f"(expected {n}, got {len(items)})")
        for e, v in zip(target.elts, items):
            self.assign(e, v, frame)

    def _assign_item(self, target, value, frame):
        obj = self.eval(target.value, frame)
        key = self.eval(target.slice, frame)
        if is_tensor(obj) and (is_symbolic(obj) or contains_symbolic(value) or contains_symbolic(key)):
            # a graph value is never written in place: the variable gets an updated copy
            if not isinstance(target.value, ast.Name):
                raise syntax_error("assigning into a tensor that is not a local variable", frame.filename,
                                   target.lineno, target.col_offset,
                                   "copy it into a local first: `t = self.t; t[i] = v`, then use t")
            new = _C.ops["copy"](obj)
            new[key] = value
            frame.locals[target.value.id] = new
            return
        obj[key] = value

    def _assign_attr(self, target, value, frame):
        from ..common.parameter import Parameter
        obj = self.eval(target.value, frame)
        cur = getattr(obj, target.attr, None)
        if isinstance(cur, Parameter):
            self.comp.bind_parameter(cur)
            self.comp.trace.add_assign(cur, value)
            return
        raise syntax_error(f"setting attribute '{target.attr}' of a {type(obj).__name__}", frame.filename,
                           target.lineno, target.col_offset,
                           "a compiled function may assign only Parameters (self.p = value updates the Parameter); "
                           "return other values instead")


def _stmt_name(node):
    return {"ClassDef": "class", "FunctionDef": "def", "AsyncFunctionDef": "async def", "Try": "try",
            "TryStar": "try", "With": "with", "AsyncWith": "async with", "Import": "import",
            "ImportFrom": "from ... import", "Global": "global", "Nonlocal": "nonlocal", "Match": "match",
            "AsyncFor": "async for"}.get(type(node).__name__, type(node).__name__)


import operator as _op  # noqa: E402

_INPLACE = {
    ast.Add: _op.iadd, ast.Sub: _op.isub, ast.Mult: _op.imul, ast.Div: _op.itruediv, ast.FloorDiv: _op.ifloordiv,
    ast.Mod: _op.imod, ast.Pow: _op.ipow, ast.MatMult: _op.imatmul, ast.BitAnd: _op.iand, ast.BitOr: _op.ior,
    ast.BitXor: _op.ixor, ast.LShift: _op.ilshift, ast.RShift: _op.irshift,
}
