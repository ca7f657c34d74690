"""Operators: functional forms (ops.add) and primitive classes (ops.Add()), generated from the op table."""
from ._generated import *  # noqa: F401,F403
from ._generated import __all__ as _gen_all
from .functional import *  # noqa: F401,F403
from .functional import __all__ as _fn_all
from .primitives import *  # noqa: F401,F403
from .primitives import __all__ as _prim_all

__all__ = list(_gen_all) + list(_fn_all) + [n for n in _prim_all if n not in _fn_all]

# autograd (eager): GradOperation, HookBackward, grad, value_and_grad, vjp, stop_gradient (tuples too)
from . import composite  # noqa: E402
from .composite import *  # noqa: F401,F403,E402
from .composite import __all__ as _composite_all  # noqa: E402
__all__ += [n for n in _composite_all if n not in __all__]
