"""Parameter: a named, trainable Tensor (the seeds' ``mindspore.Parameter``), and ParameterTuple.

A Parameter is a ``dynastat.Tensor`` subclass: ops take it wherever they take a Tensor, and their
results are plain Tensors. Its data is updated in place (``set_data``, ``assign_value``), so the C
tensor behind it keeps its identity; the autograd tape knows a tensor by that identity, which is how
``grad(fn, weights=net.trainable_params())`` finds the parameters ``fn`` reads.
"""
import copy as _copy

import numpy as _np

from .. import _C
from .tensor import Tensor
from ..jit import state as _jit_state

__all__ = ["Parameter", "ParameterTuple", "PARAMETER_NAME_DEFAULT"]

#: The name of a Parameter created without one; a Cell renames such a parameter after the attribute
#: holding it (as the seeds' Cell does).
PARAMETER_NAME_DEFAULT = "Parameter"


def _tensor_data(default_input, who):
    """The Tensor a Parameter starts from (a copy: the Parameter owns its data)."""
    if isinstance(default_input, _C.TensorBase):
        if default_input.shape and None in default_input.shape:
            raise ValueError(f"{who}: default_input has unknown dims {default_input.shape}; give a tensor with data")
        return default_input
    init = getattr(default_input, "init_data", None)  # an initializer object (nn.initializer) or a Parameter-like
    if callable(init) and not isinstance(default_input, (_np.ndarray, list, tuple)):
        data = init()
        if isinstance(data, _C.TensorBase):
            return data
    if isinstance(default_input, (bool, int, float, _np.ndarray, _np.generic, list, tuple)):
        return default_input
    raise TypeError(f"{who}: default_input must be a Tensor, a NumPy array, a number or a sequence, "
                    f"got {type(default_input).__name__}")


class Parameter(Tensor):
    """``Parameter(default_input, name=None, requires_grad=True, layerwise_parallel=False,
    parallel_optimizer=True)``: a Tensor holding a trainable value.

    ``default_input`` is a Tensor, NumPy array, number or nested sequence (copied), or an
    initializer object with ``init_data()``. ``name`` defaults to ``"Parameter"`` (a Cell renames it
    after its attribute). ``requires_grad`` says whether optimizers train it
    (``Cell.trainable_params()`` keeps the ones with True).
    """

    def __new__(cls, default_input, name=None, requires_grad=True, layerwise_parallel=False,
                parallel_optimizer=True, **kwargs):
        data = _tensor_data(default_input, "Parameter")
        return super().__new__(cls, data)  # a Tensor given as input_data is copied

    def __init__(self, default_input, name=None, requires_grad=True, layerwise_parallel=False,
                 parallel_optimizer=True, **kwargs):
        if name is not None and not isinstance(name, str):
            raise TypeError(f"Parameter: 'name' must be a str or None, got {type(name).__name__}")
        self.name = PARAMETER_NAME_DEFAULT if name is None else name
        self.requires_grad = requires_grad
        self.layerwise_parallel = bool(layerwise_parallel)
        self.parallel_optimizer = bool(parallel_optimizer)
        self.init_mode = None
        self.is_init = True

    # attributes ----------------------------------------------------------------------------------------
    @property
    def requires_grad(self):
        """Whether the parameter is trained (gradients computed for it by Cell.trainable_params users)."""
        return self.__dict__["_requires_grad"]

    @requires_grad.setter
    def requires_grad(self, value):
        if not isinstance(value, bool):
            raise TypeError(f"Parameter '{self.__dict__.get('name', '?')}': 'requires_grad' must be a bool, "
                            f"got {type(value).__name__}")
        self.__dict__["_requires_grad"] = value

    @property
    def data(self):
        """The parameter itself (as in the seeds' API)."""
        return self

    @property
    def param_info(self):
        return self

    def value(self):
        """A Tensor holding a copy of the current value."""
        return Tensor(self)

    def init_data(self, layout=None, set_sliced=False):
        """The parameter itself: its data is always initialised."""
        return self

    # updates -------------------------------------------------------------------------------------------
    def set_data(self, data, slice_shape=False):
        """Writes ``data`` (a Tensor, array or number of the same shape, or a broadcastable number) into
        the parameter in place, without recording a gradient, and returns the parameter."""
        src = data if isinstance(data, _C.TensorBase) else Tensor(_np.asarray(data))
        if tuple(src.shape) != tuple(self.shape) and src.size != 1:
            raise ValueError(f"Parameter '{self.name}'.set_data(): the new data has shape {tuple(src.shape)}, "
                             f"the parameter has shape {tuple(self.shape)} (shape and dtype are kept; create a new "
                             f"Parameter to change them)")
        if src.dtype != self.dtype:
            if isinstance(data, _C.TensorBase) and not _same_kind(src.dtype, self.dtype):
                raise TypeError(f"Parameter '{self.name}'.set_data(): the new data has dtype {src.dtype}, the "
                                f"parameter has dtype {self.dtype} (cast it first)")
            src = src.astype(self.dtype)
        with _C.no_grad():
            self[...] = src
        return self

    def __setitem__(self, key, value):
        if _jit_state.active and _jit_state.tracing():  # inside a graph: an assign node
            return _jit_state.current().write_parameter(self, key, value)
        Tensor.__setitem__(self, key, value)

    def assign_value(self, value):
        """Same as set_data (the seeds' in-place assignment); returns the parameter."""
        return self.set_data(value)

    def clone(self, init="same"):
        """A new Parameter with a copy of the data and the same name and attributes."""
        return Parameter(self, name=self.name, requires_grad=self.requires_grad,
                         layerwise_parallel=self.layerwise_parallel, parallel_optimizer=self.parallel_optimizer)

    # copying and pickling ------------------------------------------------------------------------------
    def __copy__(self):
        return self.clone()

    def __deepcopy__(self, memo):
        p = self.clone()
        memo[id(self)] = p
        for k, v in self.__dict__.items():
            if k not in p.__dict__:
                p.__dict__[k] = _copy.deepcopy(v, memo)
        return p

    def __reduce__(self):
        return (_rebuild_parameter, (self.asnumpy().copy(), self.name, self.requires_grad, self.layerwise_parallel,
                                     self.parallel_optimizer))

    def __repr__(self):
        return (f"Parameter (name={self.name}, shape={tuple(self.shape)}, dtype={self.dtype}, "
                f"requires_grad={self.requires_grad})")

    __str__ = __repr__


def _same_kind(a, b):
    fa = str(a).lower().startswith(("float", "bfloat"))
    fb = str(b).lower().startswith(("float", "bfloat"))
    return fa == fb


def _rebuild_parameter(array, name, requires_grad, layerwise_parallel, parallel_optimizer):
    return Parameter(Tensor(array), name=name, requires_grad=requires_grad, layerwise_parallel=layerwise_parallel,
                     parallel_optimizer=parallel_optimizer)


class ParameterTuple(tuple):
    """A tuple of Parameters (``net.trainable_params()`` as the seeds' API passes it to grad and
    optimizers). Every element must be a Parameter and names must be unique."""

    def __new__(cls, iterable=()):
        items = tuple(iterable)
        names = set()
        for i, p in enumerate(items):
            if not isinstance(p, Parameter):
                raise TypeError(f"ParameterTuple: element {i} must be a Parameter, got {type(p).__name__}")
            if p.name in names and p.name != PARAMETER_NAME_DEFAULT:
                raise ValueError(f"ParameterTuple: the name '{p.name}' is used by more than one parameter")
            names.add(p.name)
        return super().__new__(cls, items)

    def clone(self, prefix, init="same"):
        """A ParameterTuple of clones named ``prefix + "." + name``."""
        out = []
        for p in self:
            c = p.clone(init)
            c.name = f"{prefix}.{p.name}"
            out.append(c)
        return ParameterTuple(out)
