"""Layers of dynastat.nn."""
from .activation import *  # noqa: F401,F403
from .activation import __all__ as _act
from .basic import *  # noqa: F401,F403
from .basic import __all__ as _basic
from .conv import *  # noqa: F401,F403
from .conv import __all__ as _conv
from .normalization import *  # noqa: F401,F403
from .normalization import __all__ as _norm
from .pooling import *  # noqa: F401,F403
from .pooling import __all__ as _pool
from .embedding import *  # noqa: F401,F403
from .embedding import __all__ as _emb

__all__ = _act + _basic + _conv + _norm + _pool + _emb
