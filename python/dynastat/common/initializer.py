"""Parameter initializers, as the seeds' ``mindspore.common.initializer``.

``initializer(init, shape, dtype)`` makes a Tensor from a name ("normal", "he_uniform", ...), an
``Initializer`` object, a number (a constant) or a Tensor (returned after a shape check). Random
initializers draw from the global generator (``dynastat.set_seed`` makes them reproducible) through
the C random ops; nothing is computed element by element in Python.

Subclasses written for the seeds' API override ``_initialize(self, arr)`` and fill a NumPy array in
place; they work here too. The built-in classes override ``_generate(shape, dtype)`` instead and return
a Tensor directly.
"""
import math
import numbers

from .. import _C
from . import dtype as _dt

_op = _C.ops

__all__ = ["Initializer", "initializer", "Zero", "One", "Constant", "Normal", "Uniform", "TruncatedNormal",
           "HeUniform", "HeNormal", "XavierUniform", "XavierNormal", "Identity", "Orthogonal", "Dirac",
           "VarianceScaling"]

_INITIALIZER_ALIAS = {}

_FLOATS = (_dt.float16, _dt.bfloat16, _dt.float32, _dt.float64)


def _register(*aliases):
    def reg(cls):
        _INITIALIZER_ALIAS.setdefault(cls.__name__.lower(), cls)
        for a in aliases:
            _INITIALIZER_ALIAS.setdefault(a, cls)
        return cls
    return reg


def _tensor_cls():
    from .tensor import Tensor
    return Tensor


class Initializer:
    """Base class of the initializers: ``init(arr)`` fills a NumPy array in place; ``initializer(init,
    shape, dtype)`` makes a Tensor."""

    def __init__(self, **kwargs):
        self._kwargs = kwargs

    def _initialize(self, arr):
        """Fills the NumPy array arr in place (the seeds' extension point)."""
        arr[...] = self._generate(tuple(arr.shape), _C.as_dtype(arr.dtype)).asnumpy()

    def _generate(self, shape, dtype):
        """A new Tensor of this shape and dtype. The default runs _initialize on a NumPy array, so
        subclasses written for the seeds' API (overriding only _initialize) work."""
        base = _dt.float64 if dtype in _FLOATS else dtype
        arr = _full(shape, 0, base).asnumpy().copy()
        self._initialize(arr)
        return _cast(_tensor_cls()(arr), dtype)

    def __call__(self, arr):
        return self._initialize(arr)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self._kwargs.items())
        return f"{type(self).__name__}({args})"


def _gen_dtype(dtype):
    """Random values are drawn in float32 or float64 and cast to other dtypes."""
    return dtype if dtype in (_dt.float32, _dt.float64) else _dt.float32


def _cast(t, dtype):
    return t if t.dtype == dtype else _op["cast"](t, dtype)


def _uniform(shape, low, high, dtype):
    return _cast(_op["uniform"](shape, float(low), float(high), _gen_dtype(dtype)), dtype)


def _normal(shape, mean, std, dtype):
    if std < 0:
        raise ValueError(f"initializer: the standard deviation must be non-negative, got {std}")
    return _cast(_op["normal"](shape, float(mean), float(std), _gen_dtype(dtype)), dtype)


def _full(shape, value, dtype):
    return _op["full"](shape, value, dtype)


def _fan_in_and_fan_out(shape):
    """(fan_in, fan_out) of a weight: (in, out) for a 2-D (out, in) matrix, times the receptive field for
    a convolution weight (out, in, *kernel)."""
    if len(shape) < 2:
        raise ValueError(f"initializer: fan_in and fan_out cannot be computed for a tensor with fewer than 2 "
                         f"dims, got shape {tuple(shape)}")
    receptive = 1
    for d in shape[2:]:
        receptive *= d
    return shape[1] * receptive, shape[0] * receptive


def _correct_fan(shape, mode):
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"initializer: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _fan_in_and_fan_out(shape)
    return fan_in if mode == "fan_in" else fan_out


def _gain(nonlinearity, param=None):
    linear = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d")
    if nonlinearity in linear or nonlinearity == "sigmoid":
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"initializer: negative_slope must be an int or float, got {param!r}")
        return math.sqrt(2.0 / (1 + slope ** 2))
    raise ValueError(f"initializer: nonlinearity must be one of 'linear', 'sigmoid', 'tanh', 'relu', 'leaky_relu', "
                     f"got {nonlinearity!r}")


@_register("zeros")
class Zero(Initializer):
    """All zeros."""

    def _generate(self, shape, dtype):
        return _full(shape, 0, dtype)


@_register("ones")
class One(Initializer):
    """All ones."""

    def _generate(self, shape, dtype):
        return _full(shape, 1, dtype)


@_register("constant")
class Constant(Initializer):
    """Every element equal to value."""

    def __init__(self, value):
        super().__init__(value=value)
        self.value = value

    def _generate(self, shape, dtype):
        v = self.value
        if isinstance(v, numbers.Number):
            return _full(shape, v, dtype)
        return _op["cast"](_op["broadcast_to"](_tensor_cls()(v), shape), dtype).copy()


@_register()
class Normal(Initializer):
    """Values from N(mean, sigma^2). Default sigma=0.01, mean=0."""

    def __init__(self, sigma=0.01, mean=0.0):
        super().__init__(sigma=sigma, mean=mean)
        self.sigma, self.mean = sigma, mean

    def _generate(self, shape, dtype):
        return _normal(shape, self.mean, self.sigma, dtype)


@_register()
class Uniform(Initializer):
    """Values from U(-scale, scale). Default scale=0.07."""

    def __init__(self, scale=0.07):
        super().__init__(scale=scale)
        self.scale = scale

    def _generate(self, shape, dtype):
        return _uniform(shape, -self.scale, self.scale, dtype)


def _truncated_normal(shape, mean, sigma, a, b, dtype):
    """N(mean, sigma^2) restricted to [a, b] (absolute bounds): out-of-range draws are redrawn, whole
    tensors at a time."""
    if not a < b:
        raise ValueError(f"TruncatedNormal: the lower bound a ({a}) must be below the upper bound b ({b})")
    gd = _gen_dtype(dtype)
    x = _normal(shape, mean, sigma, gd)
    for _ in range(64):
        bad = _op["logical_or"](_op["less"](x, a), _op["greater"](x, b))
        if not bool(_op["any"](bad, None, False)):
            break
        x = _op["where"](bad, _normal(shape, mean, sigma, gd), x)
    return _cast(_op["clip"](x, float(a), float(b)), dtype)


@_register("truncatednormal", "truncated_normal")
class TruncatedNormal(Initializer):
    """Values from N(mean, sigma^2) truncated to [a, b] (bounds in value units, as the seeds' API).
    Defaults sigma=0.01, mean=0, a=-2, b=2."""

    def __init__(self, sigma=0.01, mean=0.0, a=-2.0, b=2.0):
        super().__init__(sigma=sigma, mean=mean, a=a, b=b)
        self.sigma, self.mean, self.a, self.b = sigma, mean, a, b

    def _generate(self, shape, dtype):
        return _truncated_normal(shape, self.mean, self.sigma, self.a, self.b, dtype)


@_register("xavier_uniform")
class XavierUniform(Initializer):
    """U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out))."""

    def __init__(self, gain=1):
        super().__init__(gain=gain)
        self.gain = gain

    def _generate(self, shape, dtype):
        fi, fo = _fan_in_and_fan_out(shape)
        bound = self.gain * math.sqrt(6.0 / (fi + fo))
        return _uniform(shape, -bound, bound, dtype)


@_register("xavier_normal")
class XavierNormal(Initializer):
    """N(0, s^2) with s = gain * sqrt(2 / (fan_in + fan_out))."""

    def __init__(self, gain=1):
        super().__init__(gain=gain)
        self.gain = gain

    def _generate(self, shape, dtype):
        fi, fo = _fan_in_and_fan_out(shape)
        return _normal(shape, 0.0, self.gain * math.sqrt(2.0 / (fi + fo)), dtype)


@_register("he_uniform")
class HeUniform(Initializer):
    """Kaiming uniform: U(-b, b) with b = gain * sqrt(3 / fan), gain from nonlinearity and negative_slope.
    The layers' default weight initializer is HeUniform(negative_slope=math.sqrt(5))."""

    def __init__(self, negative_slope=0, mode="fan_in", nonlinearity="leaky_relu"):
        super().__init__(negative_slope=negative_slope, mode=mode, nonlinearity=nonlinearity)
        self.negative_slope, self.mode, self.nonlinearity = negative_slope, mode, nonlinearity

    def _generate(self, shape, dtype):
        fan = _correct_fan(shape, self.mode)
        bound = math.sqrt(3.0) * _gain(self.nonlinearity, self.negative_slope) / math.sqrt(fan)
        return _uniform(shape, -bound, bound, dtype)


@_register("he_normal")
class HeNormal(Initializer):
    """Kaiming normal: N(0, s^2) with s = gain / sqrt(fan)."""

    def __init__(self, negative_slope=0, mode="fan_in", nonlinearity="leaky_relu"):
        super().__init__(negative_slope=negative_slope, mode=mode, nonlinearity=nonlinearity)
        self.negative_slope, self.mode, self.nonlinearity = negative_slope, mode, nonlinearity

    def _generate(self, shape, dtype):
        fan = _correct_fan(shape, self.mode)
        return _normal(shape, 0.0, _gain(self.nonlinearity, self.negative_slope) / math.sqrt(fan), dtype)


@_register("eye")
class Identity(Initializer):
    """A 2-D identity matrix (ones on the main diagonal)."""

    def _generate(self, shape, dtype):
        if len(shape) != 2:
            raise ValueError(f"Identity initializer: the tensor must have 2 dims, got shape {tuple(shape)}")
        return _op["eye"](shape[0], shape[1], dtype)


@_register()
class Orthogonal(Initializer):
    """A (semi-)orthogonal matrix (trailing dims flattened), times gain."""

    def __init__(self, gain=1.0):
        super().__init__(gain=gain)
        self.gain = gain

    def _generate(self, shape, dtype):
        import numpy as np
        if len(shape) < 2:
            raise ValueError(f"Orthogonal initializer: the tensor must have at least 2 dims, got shape "
                             f"{tuple(shape)}")
        rows = shape[0]
        cols = int(np.prod(shape)) // rows
        a = _normal((rows, cols), 0.0, 1.0, _dt.float64).asnumpy()
        if rows < cols:
            a = a.T
        q, r = np.linalg.qr(a)
        q = q * np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return _op["cast"](_tensor_cls()(np.ascontiguousarray(q * self.gain).reshape(shape)), dtype)


@_register()
class Dirac(Initializer):
    """Identity-preserving convolution weights (per group)."""

    def __init__(self, groups=1):
        super().__init__(groups=groups)
        self.groups = groups

    def _generate(self, shape, dtype):
        import numpy as np
        if len(shape) not in (3, 4, 5):
            raise ValueError(f"Dirac initializer: the tensor must have 3, 4 or 5 dims, got shape {tuple(shape)}")
        if shape[0] % self.groups:
            raise ValueError(f"Dirac initializer: dim 0 ({shape[0]}) must be divisible by groups ({self.groups})")
        out_per_group = shape[0] // self.groups
        data = np.zeros(shape)
        centre = tuple(s // 2 for s in shape[2:])
        for g in range(self.groups):
            for d in range(min(out_per_group, shape[1])):
                data[(g * out_per_group + d, d) + centre] = 1
        return _op["cast"](_tensor_cls()(data), dtype)


@_register("variance_scaling", "variancescaling")
class VarianceScaling(Initializer):
    """Values scaled by the fan: distribution 'truncated_normal', 'untruncated_normal' or 'uniform'."""

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal"):
        super().__init__(scale=scale, mode=mode, distribution=distribution)
        if scale <= 0:
            raise ValueError(f"VarianceScaling: scale must be positive, got {scale}")
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"VarianceScaling: mode must be 'fan_in', 'fan_out' or 'fan_avg', got {mode!r}")
        if distribution not in ("uniform", "truncated_normal", "untruncated_normal"):
            raise ValueError("VarianceScaling: distribution must be 'uniform', 'truncated_normal' or "
                             f"'untruncated_normal', got {distribution!r}")
        self.scale, self.mode, self.distribution = scale, mode, distribution

    def _generate(self, shape, dtype):
        fi, fo = _fan_in_and_fan_out(shape)
        n = {"fan_in": fi, "fan_out": fo, "fan_avg": (fi + fo) / 2.0}[self.mode]
        scale = self.scale / max(1.0, n)
        if self.distribution == "truncated_normal":
            std = math.sqrt(scale) / 0.87962566103423978
            return _truncated_normal(shape, 0.0, std, -2 * std, 2 * std, dtype)
        if self.distribution == "untruncated_normal":
            return _normal(shape, 0.0, math.sqrt(scale), dtype)
        limit = math.sqrt(3.0 * scale)
        return _uniform(shape, -limit, limit, dtype)


def _check_shape(shape):
    if shape is None:
        raise ValueError("initializer: argument 'shape' is required unless 'init' is a Tensor")
    if isinstance(shape, numbers.Integral) and not isinstance(shape, bool):
        shape = (int(shape),)
    elif isinstance(shape, (list, tuple)):
        shape = tuple(shape)
    else:
        raise TypeError(f"initializer: argument 'shape' must be an int or a tuple of ints, got "
                        f"{type(shape).__name__}")
    for d in shape:
        if isinstance(d, bool) or not isinstance(d, numbers.Integral) or d <= 0:
            raise ValueError(f"initializer: argument 'shape' must hold positive ints, got {shape}")
    return tuple(int(d) for d in shape)


def initializer(init, shape=None, dtype=_dt.float32):
    """A Tensor of the given shape and dtype initialized by init.

    init: a name ('zeros', 'ones', 'normal', 'uniform', 'truncatedNormal', 'xavier_uniform',
    'xavier_normal', 'he_uniform', 'he_normal', 'identity', 'orthogonal', ...; any case), an
    Initializer, a number (a constant), or a Tensor (returned as is; its shape must equal shape)."""
    Tensor = _tensor_cls()
    if isinstance(init, _C.TensorBase):
        if shape is not None:
            want = _check_shape(shape)
            if tuple(init.shape) != want:
                raise ValueError(f"initializer: the shape of 'init' {tuple(init.shape)} differs from "
                                 f"'shape' {want}")
        return init if isinstance(init, Tensor) else Tensor(init)
    if not isinstance(init, (str, numbers.Number, Initializer)):
        raise TypeError(f"initializer: argument 'init' must be a Tensor, a str, a number or an Initializer, "
                        f"got {type(init).__name__}")
    dtype = _C.as_dtype(dtype)
    shape = _check_shape(shape)
    if isinstance(init, str):
        cls = _INITIALIZER_ALIAS.get(init.lower())
        if cls is None or cls is Constant:
            names = ", ".join(sorted(k for k in _INITIALIZER_ALIAS if k != "constant"))
            raise ValueError(f"initializer: unknown initializer name {init!r} (known: {names})")
        init = cls()
    elif isinstance(init, numbers.Number):
        init = Constant(init)
    t = init._generate(shape, dtype)
    if not isinstance(t, Tensor):
        t = Tensor(t)
    return t
