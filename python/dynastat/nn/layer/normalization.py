"""Normalization layers: BatchNorm1d, BatchNorm2d, LayerNorm (compositions of C ops; their gradients
come from the ops' gradient rules)."""
from .. import _util
from .._util import Parameter, op, shape_str
from ..cell import Cell
from ...common.initializer import initializer
from ...common import dtype as _dt

__all__ = ["BatchNorm1d", "BatchNorm2d", "LayerNorm"]


def _normalize(x, axes, eps):
    """(x - mean) / sqrt(var + eps) over axes (biased variance), and the batch mean and variance."""
    mean = op("mean")(x, axes, True)
    xc = x - mean
    var = op("mean")(xc * xc, axes, True)
    return xc * op("rsqrt")(var + eps), mean, var


class _BatchNorm(Cell):
    """Batch normalization over dim 1 (the channels).

    Training mode (or use_batch_statistics=True) normalizes with the batch mean and biased variance and
    updates the running statistics as ``moving = momentum * moving + (1 - momentum) * batch`` (the seeds'
    convention: momentum=0.9 keeps 90% of the old value; the CPU kernel of the seeds' system also uses the
    biased batch variance for moving_variance). Inference mode normalizes with moving_mean /
    moving_variance. Parameters: gamma, beta (trainable when affine), moving_mean, moving_variance
    (requires_grad=False), named 'gamma', 'beta', 'mean', 'variance' until a parent prefixes them with
    their attribute path ('bn.moving_mean')."""

    _dims = None  # accepted input ranks
    _layout = None

    def __init__(self, num_features, eps=1e-5, momentum=0.9, affine=True, gamma_init="ones", beta_init="zeros",
                 moving_mean_init="zeros", moving_var_init="ones", use_batch_statistics=None, data_format="NCHW",
                 dtype=_dt.float32):
        super().__init__()
        cls = type(self).__name__
        self.num_features = _util.check_int(cls, "num_features", num_features, 1)
        self.eps = _util.check_float(cls, "eps", eps, 0.0, None, lo_open=True)
        self.momentum = _util.check_float(cls, "momentum", momentum, 0.0, 1.0)
        self.affine = _util.check_bool(cls, "affine", affine)
        if use_batch_statistics is not None and not isinstance(use_batch_statistics, bool):
            raise TypeError(f"{cls}: use_batch_statistics must be a bool or None, got {use_batch_statistics!r}")
        self.use_batch_statistics = use_batch_statistics
        if data_format != "NCHW":
            raise ValueError(f"{cls}: only data_format='NCHW' is supported, got {data_format!r}")
        n = self.num_features
        self.moving_mean = Parameter(initializer(moving_mean_init, n, dtype), name="mean", requires_grad=False)
        self.moving_variance = Parameter(initializer(moving_var_init, n, dtype), name="variance",
                                         requires_grad=False)
        self.gamma = Parameter(initializer(gamma_init, n, dtype), name="gamma", requires_grad=affine)
        self.beta = Parameter(initializer(beta_init, n, dtype), name="beta", requires_grad=affine)

    def _check(self, x):
        cls = self.cls_name
        shape = getattr(x, "shape", None)
        if shape is None:
            raise TypeError(f"{cls}: input must be a Tensor, got {type(x).__name__}")
        if len(shape) not in self._dims or shape[1] != self.num_features:
            raise ValueError(f"{cls}: expected input of shape {self._layout.format(self.num_features)} "
                             f"({self.num_features} channels), got shape {shape_str(shape)}")
        return shape

    def construct(self, x):
        shape = self._check(x)
        nd = len(shape)
        pshape = (1, self.num_features) + (1,) * (nd - 2)
        reshape = op("reshape")
        gamma, beta = reshape(self.gamma, pshape), reshape(self.beta, pshape)
        use_batch = self.training if self.use_batch_statistics is None else self.use_batch_statistics
        if not use_batch:
            scale = gamma * op("rsqrt")(reshape(self.moving_variance, pshape) + self.eps)
            return x * scale + (beta - reshape(self.moving_mean, pshape) * scale)
        axes = (0,) + tuple(range(2, nd))
        y, mean, var = _normalize(x, axes, self.eps)
        self._update_moving(mean, var)
        return y * gamma + beta

    def _update_moving(self, mean, var):
        m = self.momentum
        sg, reshape = op("stop_gradient"), op("reshape")
        n = (self.num_features,)
        mm, mv = self.moving_mean, self.moving_variance
        new_mean = mm * m + reshape(sg(mean), n) * (1.0 - m)
        new_var = mv * m + reshape(sg(var), n) * (1.0 - m)
        mm.set_data(op("cast")(new_mean, mm.dtype))
        mv.set_data(op("cast")(new_var, mv.dtype))

    def extend_repr(self):
        return (f"num_features={self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"gamma={self.gamma!r}, beta={self.beta!r}, moving_mean={self.moving_mean!r}, "
                f"moving_variance={self.moving_variance!r}")


class BatchNorm1d(_BatchNorm):
    """Batch normalization of (N, C) or (N, C, L) inputs over dims other than C.

    ``BatchNorm1d(num_features, eps=1e-5, momentum=0.9, affine=True, gamma_init='ones', beta_init='zeros',
    moving_mean_init='zeros', moving_var_init='ones', use_batch_statistics=None, data_format='NCHW',
    dtype=float32)``."""
    _dims = (2, 3)
    _layout = "(N, {0}) or (N, {0}, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalization of (N, C, H, W) inputs over N, H, W.

    ``BatchNorm2d(num_features, eps=1e-5, momentum=0.9, affine=True, gamma_init='ones', beta_init='zeros',
    moving_mean_init='zeros', moving_var_init='ones', use_batch_statistics=None, data_format='NCHW',
    dtype=float32)``."""
    _dims = (4,)
    _layout = "(N, {0}, H, W)"


class LayerNorm(Cell):
    """Layer normalization over the dims from begin_norm_axis on, then gamma * y + beta (gamma and beta of
    shape normalized_shape, matching the input's dims from begin_params_axis on).

    ``LayerNorm(normalized_shape, begin_norm_axis=-1, begin_params_axis=-1, gamma_init='ones',
    beta_init='zeros', epsilon=1e-7, dtype=float32)``."""

    def __init__(self, normalized_shape, begin_norm_axis=-1, begin_params_axis=-1, gamma_init="ones",
                 beta_init="zeros", epsilon=1e-7, dtype=_dt.float32):
        super().__init__()
        if not isinstance(normalized_shape, (tuple, list)) or not normalized_shape or not all(
                isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in normalized_shape):
            raise TypeError(f"LayerNorm: normalized_shape must be a non-empty tuple or list of positive ints, got "
                            f"{normalized_shape!r}")
        self.normalized_shape = tuple(normalized_shape)
        self.begin_norm_axis = _util.check_int("LayerNorm", "begin_norm_axis", begin_norm_axis)
        self.begin_params_axis = _util.check_int("LayerNorm", "begin_params_axis", begin_params_axis)
        self.epsilon = _util.check_float("LayerNorm", "epsilon", epsilon, 0.0, None, lo_open=True)
        self.gamma = Parameter(initializer(gamma_init, self.normalized_shape, dtype), name="gamma")
        self.beta = Parameter(initializer(beta_init, self.normalized_shape, dtype), name="beta")

    def construct(self, x):
        shape = getattr(x, "shape", None)
        if shape is None:
            raise TypeError(f"LayerNorm: input must be a Tensor, got {type(x).__name__}")
        nd = len(shape)
        bn, bp = self.begin_norm_axis, self.begin_params_axis
        if not -nd <= bn < nd or not -nd <= bp < nd:
            raise ValueError(f"LayerNorm: begin_norm_axis {bn} / begin_params_axis {bp} out of range for an input "
                             f"of shape {shape_str(shape)}")
        if tuple(shape[bp % nd:]) != self.normalized_shape:
            raise ValueError(f"LayerNorm: expected input whose dims from {bp % nd} on are "
                             f"{shape_str(self.normalized_shape)} (normalized_shape), got shape {shape_str(shape)}")
        y, _, _ = _normalize(x, tuple(range(bn % nd, nd)), self.epsilon)
        return y * self.gamma + self.beta

    def extend_repr(self):
        return (f"normalized_shape={self.normalized_shape}, begin_norm_axis={self.begin_norm_axis}, "
                f"begin_params_axis={self.begin_params_axis}, gamma={self.gamma!r}, beta={self.beta!r}")
