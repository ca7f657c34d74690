"""Basic layers: Dense, Flatten, Dropout, Identity."""
import math

from .. import _util
from .._util import Parameter, op, shape_str
from ..cell import Cell
from ...common.initializer import initializer, HeUniform, Uniform
from ...common import dtype as _dt
from .activation import get_activation

__all__ = ["Dense", "Flatten", "Dropout", "Identity"]

_matmul = op("matmul")
_reshape = op("reshape")


class Dense(Cell):
    """Fully connected layer: activation(x @ weight.T + bias).

    ``Dense(in_channels, out_channels, weight_init=None, bias_init=None, has_bias=True, activation=None,
    dtype=float32)``. weight: (out_channels, in_channels), default HeUniform(negative_slope=sqrt(5));
    bias: (out_channels,), default Uniform(1 / sqrt(in_channels)). The input's last dim must be
    in_channels; leading dims are kept. activation: a name ('relu', ...), a Cell or a callable."""

    def __init__(self, in_channels, out_channels, weight_init=None, bias_init=None, has_bias=True,
                 activation=None, dtype=_dt.float32):
        super().__init__()
        self.in_channels = _util.check_int("Dense", "in_channels", in_channels, 1)
        self.out_channels = _util.check_int("Dense", "out_channels", out_channels, 1)
        self.has_bias = _util.check_bool("Dense", "has_bias", has_bias)
        if weight_init is None:
            weight_init = HeUniform(math.sqrt(5))
        if _util.is_tensor(weight_init) and tuple(weight_init.shape) != (out_channels, in_channels):
            raise ValueError(f"Dense: weight_init must have shape {(out_channels, in_channels)}, got "
                             f"{shape_str(weight_init.shape)}")
        self.weight = Parameter(initializer(weight_init, [out_channels, in_channels], dtype), name="weight")
        self.bias = None
        if self.has_bias:
            if bias_init is None:
                bias_init = Uniform(1.0 / math.sqrt(in_channels))
            if _util.is_tensor(bias_init) and tuple(bias_init.shape) != (out_channels,):
                raise ValueError(f"Dense: bias_init must have shape ({out_channels},), got "
                                 f"{shape_str(bias_init.shape)}")
            self.bias = Parameter(initializer(bias_init, [out_channels], dtype), name="bias")
        if isinstance(activation, str):
            activation = get_activation(activation, "Dense")
        elif activation is not None and not callable(activation):
            raise TypeError(f"Dense: activation must be a str, a Cell or a callable, got {type(activation).__name__}")
        self.activation = activation
        self.activation_flag = activation is not None

    def construct(self, x):
        shape = getattr(x, "shape", None)
        if shape is None:
            raise TypeError(f"Dense: input must be a Tensor, got {type(x).__name__}")
        if not shape or shape[-1] != self.in_channels:
            raise ValueError(f"Dense: expected input with {self.in_channels} features (last dim), got shape "
                             f"{shape_str(shape)}")
        nd = len(shape)
        if nd != 2:
            x = _reshape(x, (-1, self.in_channels))
        y = _matmul(x, self.weight, False, True)
        if self.bias is not None:
            y = y + self.bias
        if self.activation is not None:
            y = self.activation(y)
        if nd != 2:
            y = _reshape(y, shape[:-1] + (self.out_channels,))
        return y

    def extend_repr(self):
        s = f"input_channels={self.in_channels}, output_channels={self.out_channels}"
        if self.has_bias:
            s += f", has_bias={self.has_bias}"
        if self.activation_flag:
            s += f", activation={self.activation}"
        return s


class Flatten(Cell):
    """Merges dims start_dim..end_dim (default 1..-1: keeps the batch dim)."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim = _util.check_int("Flatten", "start_dim", start_dim)
        self.end_dim = _util.check_int("Flatten", "end_dim", end_dim)

    def construct(self, x):
        _util.check_input("Flatten", x)
        shape = x.shape
        nd = len(shape)
        if nd == 0:
            return _reshape(x, (1,))
        s, e = self.start_dim, self.end_dim
        if not -nd <= s < nd or not -nd <= e < nd:
            raise ValueError(f"Flatten: start_dim {s} / end_dim {e} out of range for an input of shape "
                             f"{shape_str(shape)}")
        s, e = s % nd, e % nd
        if s > e:
            raise ValueError(f"Flatten: start_dim ({self.start_dim}) comes after end_dim ({self.end_dim}) for an "
                             f"input of shape {shape_str(shape)}")
        n = 1
        for d in shape[s:e + 1]:
            n *= d
        return _reshape(x, shape[:s] + (n,) + shape[e + 1:])

    def extend_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Dropout(Cell):
    """In training, zeroes each element with probability p = 1 - keep_prob and scales the others by
    1 / keep_prob; identity in inference mode.

    ``Dropout(keep_prob=0.5, p=None, dtype=float32)``: p (the drop probability, in [0, 1)) takes precedence
    over keep_prob (the keep probability, in (0, 1]) when given."""

    def __init__(self, keep_prob=0.5, p=None, dtype=_dt.float32):
        super().__init__()
        if p is None:
            keep_prob = _util.check_float("Dropout", "keep_prob", keep_prob, 0.0, 1.0, lo_open=True)
            self.p = 1.0 - keep_prob
        else:
            self.p = _util.check_float("Dropout", "p", p, 0.0, 1.0, hi_open=True)
            keep_prob = 1.0 - self.p
        self.keep_prob = keep_prob

    def construct(self, x):
        if not self.training or self.keep_prob == 1.0:
            return x
        _util.check_input("Dropout", x)
        mask = op("bernoulli")(x, self.keep_prob)
        return x * mask * (1.0 / self.keep_prob)

    def extend_repr(self):
        return f"p={self.p}"


class Identity(Cell):
    """Returns its input."""

    def construct(self, x):
        return x
