"""Control flow: conditions known at compile time choose a branch or unroll a loop; tensor-dependent
ones become If / While subgraphs built in sub-traces, whose outputs are the variables the branches or
the loop body assign."""
import ast
import functools

from .. import _C
from ..common import dtype as _dt
from .errors import syntax_error
from .frames import ReturnSignal, BreakSignal, ContinueSignal
from .values import (Undefined, is_tensor, is_symbolic, scalar_tensor, as_condition, describe, flatten,
                     unflatten, same_template)
from . import graph_builtins

MAX_UNROLL = 100000


# ---------------------------------------------------------------------------------------- analysis
def _walk_no_defs(nodes, loops=True):
    """AST nodes under `nodes`, not entering nested function/class definitions (nor loops if not loops):
    such a node is yielded, its body is not (a `return`, a `break` or an assignment there belongs to
    another function or loop; the `else` of a loop still belongs to the enclosing one)."""
    stack = list(nodes)
    while stack:
        n = stack.pop()
        yield n
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        if not loops and isinstance(n, (ast.For, ast.While)):
            stack.extend(n.orelse)
            continue
        stack.extend(ast.iter_child_nodes(n))


def _has(nodes, kinds, loops=True):
    return any(isinstance(n, kinds) for n in _walk_no_defs(nodes, loops))


# methods that change a list / dict / set in place
_MUTATORS = frozenset(("append", "extend", "insert", "pop", "remove", "clear", "update", "setdefault", "popitem",
                       "sort", "reverse", "add", "discard"))


def _root_name(n):
    while isinstance(n, ast.Subscript):
        n = n.value
    return n.id if isinstance(n, ast.Name) else None


def assigned_names(nodes):
    """Names assigned (stored) under nodes, in first-seen order; a variable changed in place (`y[i] = v`,
    `d[k] = v`, `lst.append(v)`) counts as assigned (a loop must carry its new value)."""
    out = []
    for n in _walk_no_defs(nodes):
        name = None
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
            name = n.id
        elif isinstance(n, ast.FunctionDef):
            name = n.name
        elif isinstance(n, ast.Subscript) and isinstance(n.ctx, (ast.Store, ast.Del)):
            name = _root_name(n)
        elif isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in _MUTATORS:
            name = _root_name(n.func.value)
        if name is not None and name not in out:
            out.append(name)
    return out


# ---------------------------------------------------------------------------------------- merging
def _leaf_pair_type(a, b):
    """The dtype both branch leaves become, or None when they cannot agree."""
    ta = a.dtype if is_tensor(a) else None
    tb = b.dtype if is_tensor(b) else None
    if ta is not None and tb is not None:
        return ta if ta == tb else None
    if ta is None and tb is None:
        sa, sb = scalar_tensor(a), scalar_tensor(b)
        if sa.dtype == sb.dtype:
            return sa.dtype
        # an int on one path and a float on the other: both become float32 (as int + float in Python)
        return sa.dtype if sa.dtype == _dt.float32 else sb.dtype if sb.dtype == _dt.float32 else None
    return ta if ta is not None else tb


def _as_leaf_tensor(v, dtype):
    t = v if is_tensor(v) else scalar_tensor(v)
    if t.dtype != dtype:
        t = _C.ops["cast"](t, dtype)
    return t


def merge_leaves(what, names, per_branch, loc):
    """per_branch: [leaves_a, leaves_b]; returns (indices of leaves that differ, [tensors_a, tensors_b])
    after checking that each pair can be one value (same dtype and shape)."""
    a, b = per_branch
    idx, ta, tb = [], [], []
    for i, (x, y) in enumerate(zip(a, b)):
        if x is y or (not is_tensor(x) and not is_tensor(y) and type(x) is type(y) and x == y):
            continue
        dt = _leaf_pair_type(x, y)
        xs = getattr(x, "shape", ())
        ys = getattr(y, "shape", ())
        if dt is None or tuple(xs) != tuple(ys):
            from .errors import where
            raise TypeError(f"{what} gives {names[i]} different types on its two paths: {describe(x)} and "
                            f"{describe(y)}; both paths must produce the same dtype and shape\n{where(*loc)}")
        idx.append(i)
        ta.append(_as_leaf_tensor(x, dt))
        tb.append(_as_leaf_tensor(y, dt))
    return idx, [ta, tb]


# ---------------------------------------------------------------------------------------- break/continue flags
# A break or continue under a tensor-dependent condition sets a flag variable (a bool tensor after the if);
# the rest of the loop body then runs under `if not (break or continue)`, the next iterations of an unrolled
# loop under `if not break`, and a graph loop's condition gets `and not break`.
BRK, CNT = "__ds_break__", "__ds_continue__"


def _stop_flag(frame):
    """not (break or continue) as a bool tensor, or None when neither flag is a tensor."""
    b, c = frame.locals.get(BRK, False), frame.locals.get(CNT, False)
    if not (is_symbolic(b) or is_symbolic(c)):
        return None
    stop = _C.ops["logical_or"](_as_bool(b), _as_bool(c))
    return _C.ops["logical_not"](stop)


def _as_bool(v):
    return v if is_tensor(v) else scalar_tensor(bool(v))


def flags_changed(before, frame):
    """Whether a statement turned a flag into a (new) tensor."""
    return any(frame.locals.get(k, False) is not v and is_symbolic(frame.locals.get(k)) for k, v in
               zip((BRK, CNT), before))


def guard_rest(interp, rest, frame, conts, node):
    """Runs the statements after a tensor-dependent break/continue under `if not (break or continue)`."""
    go = _stop_flag(frame)
    synthetic = ast.copy_location(ast.If(test=ast.Constant(True), body=list(rest), orelse=[]), node)
    symbolic_if(interp, synthetic, go, frame, conts)


def _enter_loop(frame, body):
    """Sets fresh flags for a loop whose body has break/continue; returns the outer loop's flags."""
    saved = (frame.locals.pop(BRK, _NONE), frame.locals.pop(CNT, _NONE))
    if _has(body, (ast.Break, ast.Continue), loops=False):
        frame.locals[BRK] = False
        frame.locals[CNT] = False
    return saved


def _leave_loop(frame, saved):
    for k, v in zip((BRK, CNT), saved):
        frame.locals.pop(k, None)
        if v is not _NONE:
            frame.locals[k] = v


# ---------------------------------------------------------------------------------------- if
def _run_branch(interp, sub, stmts, frame, conts):
    """Runs a branch in sub trace `sub` on a copy of the frame; with `conts` (an if that returns), the
    rest of the function runs in the branch too, after the branch's own statements."""
    f = frame.copy()
    comp = interp.comp
    prev = comp.trace
    comp.trace = sub
    returned = False
    value = None
    try:
        with sub:
            try:
                if conts is not None:
                    run_conts(interp, [stmts] + conts, f)
                else:
                    try:
                        interp.exec_block(stmts, f, None)
                    except BreakSignal:
                        f.locals[BRK] = True
                    except ContinueSignal:
                        f.locals[CNT] = True
            except ReturnSignal as r:
                returned, value = True, r.value
    finally:
        comp.trace = prev
    return f, returned, value


def run_conts(interp, conts, frame):
    """Runs a continuation (see StatementsMixin.exec_block): statement lists, and the tails of the
    unrolled loops they are inside. A break or continue in the rest of a loop's body skips to that
    loop's tail, which a break skips too."""
    signal = None
    for k, c in enumerate(conts):
        if isinstance(c, LoopTail):
            if signal is not BreakSignal:
                c.run(frame, conts[k + 1:])
            signal = None
        elif signal is None:
            try:
                interp.exec_block(c, frame, conts[k + 1:])
            except (BreakSignal, ContinueSignal) as e:
                signal = type(e)


def symbolic_if(interp, node, cond, frame, conts):
    comp = interp.comp
    loc = (frame.filename, node.lineno)
    what = f"the tensor-dependent if at line {node.lineno}"
    c = as_condition(cond, "an if statement", loc)
    returns = _has(node.body + node.orelse, ast.Return)
    if not returns and _has(node.body + node.orelse, (ast.Break, ast.Continue), loops=False) \
            and BRK not in frame.locals:
        raise syntax_error("break/continue here", frame.filename, node.lineno, node.col_offset)
    if returns and conts is None:
        raise syntax_error("return inside a tensor-dependent if within a loop whose condition is a tensor",
                           frame.filename, node.lineno, node.col_offset, "assign the result to a variable, leave "
                           "the loop (via its condition) and return after it")
    subs = comp.trace.group(2)
    results = [_run_branch(interp, s, stmts, frame, conts if returns else None)
               for s, stmts in zip(subs, (node.body, node.orelse))]
    if returns:
        if not (results[0][1] and results[1][1]):
            raise syntax_error("a path through a tensor-dependent if that returns on one branch but falls through "
                               "on the other", frame.filename, node.lineno, node.col_offset,
                               "return on every path, or assign a variable and return it after the if")
        leaves = [[], []]
        tpls = [flatten(r[2], leaves[k]) for k, r in enumerate(results)]
        if not same_template(*tpls) or len(leaves[0]) != len(leaves[1]):
            raise TypeError(f"{what} returns values of different structure: {describe(results[0][2])} and "
                            f"{describe(results[1][2])}")
        names = [f"the return value (item {i})" for i in range(len(leaves[0]))]
        idx, tens = merge_leaves(what, names, leaves, loc)
        outs = _emit_if(comp, c, subs, tens)
        merged = list(leaves[0])
        for i, o in zip(idx, outs):
            merged[i] = o
        raise ReturnSignal(unflatten(tpls[0], merged))
    _merge_frames(comp, what, frame, [r[0] for r in results], c, subs, loc)


def _emit_if(comp, c, subs, tens):
    for s, t in zip(subs, tens):
        s.finish(t)
    return comp.trace.add_if(c, subs[0], subs[1])


def _merge_frames(comp, what, frame, frames, c, subs, loc):
    names = [n for n in dict.fromkeys(list(frames[0].locals) + list(frames[1].locals))]
    entries = []  # (name, template, n leaves)
    leaves = [[], []]
    undefined = []
    for n in names:
        va = frames[0].locals.get(n, _NONE)
        vb = frames[1].locals.get(n, _NONE)
        if va is _NONE or vb is _NONE or isinstance(va, Undefined) or isinstance(vb, Undefined):
            undefined.append(n)
            continue
        if va is vb:
            frame.locals[n] = va
            continue
        la, lb = [], []
        ta, tb = flatten(va, la), flatten(vb, lb)
        if not same_template(ta, tb) or len(la) != len(lb):
            raise TypeError(f"{what} assigns '{n}' values of different kinds on its two paths: {describe(va)} and "
                            f"{describe(vb)}")
        entries.append((n, ta, len(leaves[0]), len(la)))
        leaves[0].extend(la)
        leaves[1].extend(lb)
    label = [e[0] for e in entries for _ in range(e[3])]
    idx, tens = merge_leaves(what, [f"'{x}'" for x in label], leaves, loc)
    outs = _emit_if(comp, c, subs, tens)
    merged = list(leaves[0])
    for i, o in zip(idx, outs):
        merged[i] = o
    for n, tpl, start, count in entries:
        frame.locals[n] = unflatten(_shift(tpl, start), merged)
    for n in undefined:
        frame.locals[n] = Undefined(n, f"it is assigned on only one path of {what}")


def _shift(tpl, k):
    if tpl[0] == "L":
        return ("L", tpl[1] + k)
    if tpl[0] == "C":
        return tpl
    if tpl[0] in ("dict", "ntuple"):
        return (tpl[0], tpl[1], [_shift(t, k) for t in tpl[2]])
    return (tpl[0], [_shift(t, k) for t in tpl[1]])


class _None:
    pass


_NONE = _None()


def if_expression(interp, node, frame):
    cond = interp.eval(node.test, frame)
    if not is_symbolic(cond):
        return interp.eval(node.body if cond else node.orelse, frame)
    comp = interp.comp
    loc = (frame.filename, node.lineno)
    c = as_condition(cond, "a conditional expression", loc)
    subs = comp.trace.group(2)
    vals = []
    prev = comp.trace
    for s, e in zip(subs, (node.body, node.orelse)):
        comp.trace = s
        try:
            with s:
                vals.append(interp.eval(e, frame))
        finally:
            comp.trace = prev
    leaves = [[], []]
    tpls = [flatten(v, leaves[k]) for k, v in enumerate(vals)]
    what = f"the conditional expression at line {node.lineno}"
    if not same_template(*tpls):
        raise TypeError(f"{what} has values of different kinds: {describe(vals[0])} and {describe(vals[1])}")
    idx, tens = merge_leaves(what, [f"item {i}" for i in range(len(leaves[0]))], leaves, loc)
    outs = _emit_if(comp, c, subs, tens)
    merged = list(leaves[0])
    for i, o in zip(idx, outs):
        merged[i] = o
    return unflatten(tpls[0], merged)


# ---------------------------------------------------------------------------------------- loops
class LoopTail:
    """In a continuation: the rest of an unrolled loop after the current iteration (the next
    iterations, then its `else`). run(frame, conts) runs it; `conts` is what follows the loop."""
    __slots__ = ("run",)

    def __init__(self, run):
        self.run = run


def _unrolled(interp, node, frame, items, conts, start=0):
    """Runs a loop body once per compile-time item from `start`; returns True if the loop ended by break.
    With `conts` (a loop not inside a graph loop), a tensor-dependent if that returns inside the body
    compiles the rest of the loop and of the function into its branches (see run_conts)."""
    saved = _enter_loop(frame, node.body) if start == 0 else None
    try:
        return _unrolled_items(interp, node, frame, items, conts, start)
    finally:
        if saved is not None:
            _leave_loop(frame, saved)


def _unrolled_items(interp, node, frame, items, conts, start):
    for n in range(start, len(items)):
        if n >= MAX_UNROLL:
            raise syntax_error(f"a loop running more than {MAX_UNROLL} iterations at compile time", frame.filename,
                               node.lineno, node.col_offset, "make its condition depend on a tensor so it "
                               "becomes a graph loop")
        if items[n] is not _NO_ITEM:
            interp.assign(node.target, items[n], frame)
        tail = None if conts is None else [LoopTail(functools.partial(_for_rest, interp, node, items, n + 1))] + conts
        try:
            _iteration(interp, node, frame, tail)
        except BreakSignal:
            return True
        except ContinueSignal:
            pass
    return False


def _iteration(interp, node, frame, tail):
    """One iteration of an unrolled loop's body: under `if not break` once a tensor break may have happened."""
    if CNT in frame.locals:
        frame.locals[CNT] = False
    if is_symbolic(frame.locals.get(BRK)):
        go = _C.ops["logical_not"](frame.locals[BRK])
        synthetic = ast.copy_location(ast.If(test=ast.Constant(True), body=list(node.body), orelse=[]), node)
        symbolic_if(interp, synthetic, go, frame, tail)
    else:
        interp.exec_block(node.body, frame, tail)


def _for_rest(interp, node, items, start, frame, conts):
    if not _unrolled(interp, node, frame, items, conts, start) and node.orelse:
        interp.exec_block(node.orelse, frame, conts)


_NO_ITEM = object()


def exec_for(interp, node, frame, conts=None):
    it = interp.eval(node.iter, frame)
    if isinstance(it, graph_builtins.SymRange):
        if node.orelse:
            raise syntax_error("for ... else over a tensor-bounded range", frame.filename, node.lineno,
                               node.col_offset)
        saved = _enter_loop(frame, node.body)
        try:
            return _symbolic_range_for(interp, node, frame, it)
        finally:
            _leave_loop(frame, saved)
    _for_rest(interp, node, interp.iterate(it, frame, node.iter), 0, frame, conts)


def exec_while(interp, node, frame, conts=None, count=0):
    """A while loop: unrolled while its condition is known at compile time (`count` iterations ran
    already), a graph loop from the first iteration whose condition depends on a tensor (or after which a
    tensor-dependent break may have happened)."""
    saved = _enter_loop(frame, node.body) if count == 0 else None
    try:
        return _while_iterations(interp, node, frame, conts, count)
    finally:
        if saved is not None:
            _leave_loop(frame, saved)


def _while_iterations(interp, node, frame, conts, count):
    while True:
        cond = interp.eval(node.test, frame)
        if is_symbolic(cond) or is_symbolic(frame.locals.get(BRK)):
            if node.orelse:
                raise syntax_error("while ... else with a tensor condition", frame.filename, node.lineno,
                                   node.col_offset)
            return symbolic_loop(interp, node, frame, lambda f: interp.eval(node.test, f), node.body, None)
        if not cond:
            break
        count += 1
        if count > MAX_UNROLL:
            raise syntax_error(f"a while loop running more than {MAX_UNROLL} iterations at compile time",
                               frame.filename, node.lineno, node.col_offset,
                               "make its condition depend on a tensor so it becomes a graph loop")
        tail = None if conts is None else [LoopTail(functools.partial(_while_rest, interp, node, count))] + conts
        try:
            _iteration(interp, node, frame, tail)
        except BreakSignal:
            return
        except ContinueSignal:
            pass
    if node.orelse:
        interp.exec_block(node.orelse, frame, conts)


def _while_rest(interp, node, count, frame, conts):
    exec_while(interp, node, frame, conts, count)


def _symbolic_range_for(interp, node, frame, rng):
    """for i in range(a, b, s) with tensor bounds: a While over a counter tensor."""
    if not isinstance(node.target, ast.Name):
        raise syntax_error("unpacking the items of a tensor-bounded range", frame.filename, node.lineno,
                           node.col_offset)
    counter = "__range_counter_%d" % node.lineno
    start = rng.start if is_tensor(rng.start) else scalar_tensor(int(rng.start))
    frame.locals[counter] = _C.ops["cast"](start, _dt.int64)
    step = rng.step
    stop = rng.stop

    def cond(f):
        i = f.locals[counter]
        return (i < stop) if not (isinstance(step, int) and step < 0) else (i > stop)

    def before_body(f):
        f.locals[node.target.id] = f.locals[counter]
        f.locals[counter] = f.locals[counter] + step
    symbolic_loop(interp, node, frame, cond, node.body, before_body, extra_carried=[counter])
    frame.locals.pop(counter, None)


def symbolic_loop(interp, node, frame, cond_fn, body, before_body, extra_carried=()):
    """A While node: carried = variables the body assigns that exist before the loop."""
    comp = interp.comp
    loc = (frame.filename, node.lineno)
    what = f"the tensor-dependent loop at line {node.lineno}"
    if _has(body, ast.Return):
        raise syntax_error("return inside a loop whose condition is a tensor", frame.filename, node.lineno,
                           node.col_offset, "assign the result to a variable and return it after the loop")
    assigned = assigned_names(body)
    if isinstance(getattr(node, "target", None), ast.Name):
        assigned.append(node.target.id)
    breaks = _has(body, ast.Break, loops=False)
    if breaks:  # the loop also ends when a break happened: carry the flag, test it in the condition
        if BRK not in frame.locals:
            frame.locals[BRK] = False
        extra_carried = list(extra_carried) + [BRK]
        user_cond = cond_fn

        def cond_fn(f):
            c = user_cond(f)
            c = as_condition(c, "a while loop", loc) if is_tensor(c) else scalar_tensor(bool(c))
            return _C.ops["logical_and"](c, _C.ops["logical_not"](f.locals[BRK]))
    carried = [n for n in list(extra_carried) + assigned
               if n in frame.locals and not isinstance(frame.locals[n], Undefined)]
    carried = list(dict.fromkeys(carried))
    inits, tpls = [], {}
    for n in carried:
        leaves = []
        tpls[n] = (flatten(frame.locals[n], leaves), len(inits), len(leaves))
        for v in leaves:
            inits.append(v if is_tensor(v) else scalar_tensor(v))
    params = [(f"{n}", t) for n in carried for t in inits[tpls[n][1]:tpls[n][1] + tpls[n][2]]]
    subs = comp.trace.group(2, params=params)

    def bind(f, sub):
        ps = sub.params()
        for n in carried:
            tpl, start, cnt = tpls[n]
            f.locals[n] = unflatten(tpl, ps[start:start + cnt])
        return f

    prev = comp.trace
    try:
        # condition
        fc = bind(frame.copy(), subs[0])
        comp.trace = subs[0]
        with subs[0]:
            c = as_condition(cond_fn(fc), "a while loop", loc)
            subs[0].finish([c])
        # body
        fb = bind(frame.copy(), subs[1])
        comp.trace = subs[1]
        with subs[1]:
            if before_body:
                before_body(fb)
            if CNT in fb.locals:
                fb.locals[CNT] = False
            try:
                interp.exec_block(body, fb, None)
            except ContinueSignal:
                pass
            except BreakSignal:
                fb.locals[BRK] = True
            outs = []
            for n in carried:
                tpl, start, cnt = tpls[n]
                nv = fb.locals.get(n)
                if isinstance(nv, Undefined) or nv is None and cnt:
                    raise syntax_error(f"variable '{n}' becoming undefined inside a loop", frame.filename,
                                       node.lineno, node.col_offset)
                leaves = []
                t2 = flatten(nv, leaves)
                if not _same_shape_tpl(tpl, t2):
                    raise TypeError(f"{what} changes the kind of '{n}': {describe(frame.locals[n])} before, "
                                    f"{describe(nv)} after an iteration")
                for k, v in enumerate(leaves):
                    init = inits[start + k]
                    t = v if is_tensor(v) else scalar_tensor(v)
                    if t.dtype != init.dtype and not is_tensor(v):
                        t = _C.ops["cast"](t, init.dtype)
                    if t.dtype != init.dtype or tuple(t.shape) != tuple(init.shape):
                        from .errors import where
                        raise TypeError(f"{what} changes the type of '{n}': {describe(init)} before the loop, "
                                        f"{describe(t)} after an iteration; a loop variable must keep its dtype "
                                        f"and shape\n{where(*loc)}")
                    outs.append(t)
            subs[1].finish(outs)
    finally:
        comp.trace = prev
    finals = comp.trace.add_while(subs[0], subs[1], inits)
    for n in carried:
        tpl, start, cnt = tpls[n]
        frame.locals[n] = unflatten(tpl, finals[start:start + cnt])
    for n in assigned:
        if n not in carried and n not in (BRK, CNT):
            frame.locals[n] = Undefined(n, f"it is first assigned inside {what}")
    if breaks:
        frame.locals[BRK] = False  # the loop is over: a break inside it does not skip code after it


def _same_shape_tpl(a, b):
    """Templates equal up to constants that became leaves (a Python number replaced by a tensor)."""
    if a[0] in ("L", "C") and b[0] in ("L", "C"):
        return True
    if a[0] != b[0]:
        return False
    ca, cb = a[-1], b[-1]
    return len(ca) == len(cb) and all(_same_shape_tpl(x, y) for x, y in zip(ca, cb))
