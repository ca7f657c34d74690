"""Operators: functional forms (ops.add) and primitive classes (ops.Add()), generated from the op table."""
from ._generated import *  # noqa: F401,F403
from ._generated import __all__ as _gen_all
from .functional import *  # noqa: F401,F403
from .functional import __all__ as _fn_all

__all__ = list(_gen_all) + list(_fn_all)
