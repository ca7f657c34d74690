"""Activation cells: each is one C op (or a short composition of ops)."""
import math

from .. import _util
from .._util import op
from ..cell import Cell

__all__ = ["ReLU", "ReLU6", "LeakyReLU", "Sigmoid", "Tanh", "GELU", "SiLU", "ELU", "Softmax", "LogSoftmax",
           "get_activation"]

_relu = op("relu")
_sigmoid = op("sigmoid")
_tanh = op("tanh")


class ReLU(Cell):
    """max(x, 0) elementwise."""

    def construct(self, x):
        return _relu(x)


class ReLU6(Cell):
    """min(max(x, 0), 6) elementwise."""

    def construct(self, x):
        return op("clip")(x, 0.0, 6.0)


class LeakyReLU(Cell):
    """x where x >= 0, alpha * x elsewhere (default alpha=0.2)."""

    def __init__(self, alpha=0.2):
        super().__init__()
        self.alpha = _util.check_float("LeakyReLU", "alpha", alpha)

    def construct(self, x):
        if 0.0 <= self.alpha <= 1.0:
            return op("maximum")(x, x * self.alpha)
        return op("where")(op("greater_equal")(x, 0), x, x * self.alpha)

    def extend_repr(self):
        return f"alpha={self.alpha}"


class Sigmoid(Cell):
    """1 / (1 + exp(-x)) elementwise."""

    def construct(self, x):
        return _sigmoid(x)


class Tanh(Cell):
    """tanh(x) elementwise."""

    def construct(self, x):
        return _tanh(x)


_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


class GELU(Cell):
    """Gaussian error linear unit. approximate=True (the default, as in the seeds' API) uses the tanh form
    0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))); approximate=False the exact x * Phi(x)."""

    def __init__(self, approximate=True):
        super().__init__()
        self.approximate = _util.check_bool("GELU", "approximate", approximate)

    def construct(self, x):
        if not self.approximate:
            return op("gelu")(x)
        inner = (x + op("mul")(op("mul")(x, x), x) * 0.044715) * _SQRT_2_OVER_PI
        return x * 0.5 * (_tanh(inner) + 1.0)

    def extend_repr(self):
        return f"approximate={self.approximate}"


class SiLU(Cell):
    """x * sigmoid(x)."""

    def construct(self, x):
        return x * _sigmoid(x)


class ELU(Cell):
    """x where x > 0, alpha * (exp(x) - 1) elsewhere (default alpha=1.0)."""

    def __init__(self, alpha=1.0):
        super().__init__()
        self.alpha = _util.check_float("ELU", "alpha", alpha)

    def construct(self, x):
        neg = (op("exp")(op("minimum")(x, 0.0)) - 1.0) * self.alpha
        return op("where")(op("greater")(x, 0.0), x, neg)


def _check_axis(cls, x, axis):
    nd = x.ndim
    if not -nd <= axis < max(nd, 1):
        raise ValueError(f"{cls}: axis {axis} is out of range for an input of shape {_util.shape_str(x.shape)}")


class Softmax(Cell):
    """exp(x) / sum(exp(x)) along axis (default -1)."""

    def __init__(self, axis=-1):
        super().__init__()
        self.axis = _util.check_int("Softmax", "axis", axis)

    def construct(self, x):
        _util.check_input("Softmax", x)
        _check_axis("Softmax", x, self.axis)
        return op("softmax")(x, self.axis)

    def extend_repr(self):
        return f"axis={self.axis}"


class LogSoftmax(Cell):
    """log(softmax(x)) along axis (default -1), computed stably."""

    def __init__(self, axis=-1):
        super().__init__()
        self.axis = _util.check_int("LogSoftmax", "axis", axis)

    def construct(self, x):
        _util.check_input("LogSoftmax", x)
        _check_axis("LogSoftmax", x, self.axis)
        return op("log_softmax")(x, self.axis)

    def extend_repr(self):
        return f"axis={self.axis}"


_ACTIVATIONS = {
    "relu": ReLU, "relu6": ReLU6, "leakyrelu": LeakyReLU, "sigmoid": Sigmoid, "tanh": Tanh, "gelu": GELU,
    "silu": SiLU, "elu": ELU, "softmax": Softmax, "logsoftmax": LogSoftmax,
}


def get_activation(name, prim_name=None):
    """The activation cell named name ('relu', 'sigmoid', 'tanh', 'gelu', 'softmax', ...), or None for
    None."""
    if name is None:
        return None
    if not isinstance(name, str):
        raise TypeError(f"{prim_name or 'get_activation'}: the activation name must be a str, got "
                        f"{type(name).__name__}")
    cls = _ACTIVATIONS.get(name.lower())
    if cls is None:
        raise KeyError(f"{prim_name or 'get_activation'}: unknown activation {name!r} (known: "
                       f"{', '.join(sorted(_ACTIVATIONS))})")
    return cls()
