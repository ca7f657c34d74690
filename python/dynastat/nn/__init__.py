"""Neural-network building blocks (the seeds' mindspore.nn): Cell and containers, layers, losses,
optimizers and training wrappers. Layers are compositions of C ops; gradients come from the eager
autograd (dynastat.grad / value_and_grad)."""
from .cell import Cell, HookHandle
from .container import SequentialCell, CellList
from .layer import *  # noqa: F401,F403
from .layer import __all__ as _layers
from .loss import *  # noqa: F401,F403
from .loss import __all__ as _losses
from .optim import *  # noqa: F401,F403
from .optim import __all__ as _optims
from .wrap import *  # noqa: F401,F403
from .wrap import __all__ as _wraps
from ..common.initializer import (initializer, Initializer, Zero, One, Constant, Normal, Uniform,  # noqa: F401
                                  TruncatedNormal, HeUniform, HeNormal, XavierUniform, XavierNormal)

__all__ = ["Cell", "HookHandle", "SequentialCell", "CellList", "initializer"] + _layers + _losses + _optims + _wraps
