"""dynastat: a deep-learning execution system with a C engine.

Scripts written for the seeds' system run after changing the import line::

    import dynastat as ms
    from dynastat import nn, ops, Tensor
"""
from . import _C
from .common.dtype import (bool_, int8, uint8, int16, int32, int64, float16, bfloat16, float32, float64,
                           dtype, pytype_to_dtype)
from .common.tensor import Tensor, from_numpy
from .context import (PYNATIVE_MODE, GRAPH_MODE, STRICT, COMPATIBLE, LAX, set_context, get_context)
from .runtime import set_seed, get_seed, config, set_num_threads
from ._C import AxisError
from . import ops, nn
# autograd (eager): Parameter, grad / value_and_grad / vjp, Tensor.register_hook
from .common.parameter import Parameter, ParameterTuple
from .common.autograd import grad, value_and_grad, vjp
# graph compilation: @jit / ms_function, GRAPH_MODE Cells
from .jit.api import jit, ms_function, show_graph
from .jit.errors import JitSyntaxError
jit.show_graph = show_graph

float_ = float32
int_ = int64
from_dlpack = Tensor._from_dlpack

__version__ = "0.1.0"
__all__ = [
    "Tensor", "from_numpy", "from_dlpack", "dtype", "bool_", "int8", "uint8", "int16", "int32", "int64",
    "float16", "bfloat16", "float32", "float64", "PYNATIVE_MODE", "GRAPH_MODE", "STRICT", "COMPATIBLE", "LAX",
    "set_context", "get_context", "AxisError", "set_seed", "get_seed", "config", "set_num_threads", "ops", "nn",
    "Parameter", "ParameterTuple", "grad", "value_and_grad", "vjp", "jit", "ms_function", "JitSyntaxError",
]
