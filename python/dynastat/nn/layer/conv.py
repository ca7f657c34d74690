"""Convolution layers (NCHW): Conv2d, Conv1d, Conv2dTranspose, over the C ops conv2d and
conv2d_backprop_input.

pad_mode follows the seeds' API:
  'same'  output size ceil(in / stride); the total padding max(0, (out - 1) * stride + dilation * (k - 1) + 1
          - in) is split with the smaller half at the top / left;
  'valid' no padding: output size ceil((in - dilation * (k - 1)) / stride);
  'pad'   explicit padding (an int, or (top, bottom, left, right) for 2-D; (left, right) for 1-D).
"""
import math

from .. import _util
from .._util import Parameter, op, shape_str
from ..cell import Cell
from ...common.initializer import initializer, HeUniform, Uniform, _fan_in_and_fan_out
from ...common import dtype as _dt

__all__ = ["Conv2d", "Conv1d", "Conv2dTranspose"]

_PAD_MODES = ("same", "valid", "pad")


def _same_pad(size, k, s, d):
    """(before, after) padding of one spatial dim for pad_mode 'same'."""
    out = -(-size // s)
    need = max(0, (out - 1) * s + d * (k - 1) + 1 - size)
    return need // 2, need - need // 2


def _check_pad_mode(cls, pad_mode):
    if not isinstance(pad_mode, str) or pad_mode.lower() not in _PAD_MODES:
        raise ValueError(f"{cls}: pad_mode must be 'same', 'valid' or 'pad', got {pad_mode!r}")
    return pad_mode.lower()


def _padding(cls, padding, n_sides, pad_mode):
    """padding as a tuple of n_sides non-negative ints (an int is used for every side; for 2-D convs a pair
    (h, w) pads top/bottom by h and left/right by w)."""
    if isinstance(padding, int) and not isinstance(padding, bool):
        pads = (padding,) * n_sides
    elif isinstance(padding, (tuple, list)) and all(isinstance(p, int) and not isinstance(p, bool) for p in padding):
        pads = tuple(padding)
        if n_sides == 4 and len(pads) == 2:
            pads = (pads[0], pads[0], pads[1], pads[1])
        if len(pads) != n_sides:
            raise ValueError(f"{cls}: padding must be an int or a tuple of {n_sides} ints, got {padding!r}")
    else:
        raise TypeError(f"{cls}: padding must be an int or a tuple of ints, got {padding!r}")
    if any(p < 0 for p in pads):
        raise ValueError(f"{cls}: padding must be non-negative, got {padding!r}")
    if pad_mode != "pad" and any(pads):
        raise ValueError(f"{cls}: padding must be 0 when pad_mode is '{pad_mode}', got padding={padding!r} "
                         f"(use pad_mode='pad' to pad explicitly)")
    return pads


class _Conv(Cell):
    """Shared set-up: weight (out, in / group, *kernel) or, transposed, (in, out / group, *kernel); bias."""

    def __init__(self, in_channels, out_channels, kernel_size, stride, pad_mode, padding, dilation, group,
                 has_bias, weight_init, bias_init, nd, transposed=False, dtype=_dt.float32):
        super().__init__()
        cls = type(self).__name__
        self.in_channels = _util.check_int(cls, "in_channels", in_channels, 1)
        self.out_channels = _util.check_int(cls, "out_channels", out_channels, 1)
        self.kernel_size = _util.tuple_n(cls, "kernel_size", kernel_size, nd)
        self.stride = _util.tuple_n(cls, "stride", stride, nd)
        self.dilation = _util.tuple_n(cls, "dilation", dilation, nd)
        self.pad_mode = _check_pad_mode(cls, pad_mode)
        self.padding = _padding(cls, padding, 2 * nd, self.pad_mode)
        self.group = _util.check_int(cls, "group", group, 1)
        self.has_bias = _util.check_bool(cls, "has_bias", has_bias)
        if self.in_channels % self.group or self.out_channels % self.group:
            raise ValueError(f"{cls}: in_channels ({in_channels}) and out_channels ({out_channels}) must both be "
                             f"divisible by group ({group})")
        if transposed:
            shape = [self.in_channels, self.out_channels // self.group, *self.kernel_size]
        else:
            shape = [self.out_channels, self.in_channels // self.group, *self.kernel_size]
        self.weight_init = weight_init
        self.bias_init = bias_init
        if weight_init is None:
            weight_init = HeUniform(math.sqrt(5))
        self.weight = Parameter(initializer(weight_init, shape, dtype), name="weight")
        self.bias = None
        if self.has_bias:
            if bias_init is None:
                fan_in, _ = _fan_in_and_fan_out(shape)
                bias_init = Uniform(1.0 / math.sqrt(fan_in))
            self.bias = Parameter(initializer(bias_init, [self.out_channels], dtype), name="bias")

    def _check_x(self, x, nd):
        cls = self.cls_name
        shape = getattr(x, "shape", None)
        if shape is None:
            raise TypeError(f"{cls}: input must be a Tensor, got {type(x).__name__}")
        if len(shape) != nd + 2 or shape[1] != self.in_channels:
            dims = "(N, {}, H, W)" if nd == 2 else "(N, {}, L)"
            raise ValueError(f"{cls}: expected input of shape {dims.format(self.in_channels)} "
                             f"({self.in_channels} channels), got shape {shape_str(shape)}")
        return shape

    def _add_bias(self, y):
        if self.bias is None:
            return y
        return y + op("reshape")(self.bias, (1, self.out_channels, 1, 1))

    def extend_repr(self):
        return (f"input_channels={self.in_channels}, output_channels={self.out_channels}, "
                f"kernel_size={self.kernel_size}, stride={self.stride}, pad_mode={self.pad_mode}, "
                f"padding={self.padding}, dilation={self.dilation}, group={self.group}, has_bias={self.has_bias}, "
                f"weight_init={self.weight_init}, bias_init={self.bias_init}, format=NCHW")


def _conv_pads(layer, spatial, kernel, stride, dilation):
    """The (top, bottom, left, right)-style padding list of a conv call for the layer's pad_mode."""
    if layer.pad_mode == "pad":
        return layer.padding
    if layer.pad_mode == "valid":
        return (0,) * (2 * len(spatial))
    pads = ()
    for n, k, s, d in zip(spatial, kernel, stride, dilation):
        pads += _same_pad(n, k, s, d)
    return pads


def _check_fits(cls, shape, spatial, pads, kernel, dilation):
    for n, (a, b), k, d in zip(spatial, zip(pads[::2], pads[1::2]), kernel, dilation):
        if n + a + b < d * (k - 1) + 1:
            raise ValueError(f"{cls}: input of shape {shape_str(shape)} is too small for kernel_size {kernel} "
                             f"with dilation {dilation} and padding {pads} (a padded spatial size of {n + a + b} "
                             f"is below the kernel extent {d * (k - 1) + 1})")


class Conv2d(_Conv):
    """2-D convolution over (N, C_in, H, W) inputs.

    ``Conv2d(in_channels, out_channels, kernel_size, stride=1, pad_mode='same', padding=0, dilation=1,
    group=1, has_bias=False, weight_init=None, bias_init=None, data_format='NCHW', dtype=float32)``.
    weight: (out_channels, in_channels / group, kh, kw), default HeUniform(negative_slope=sqrt(5));
    bias: (out_channels,), default Uniform(1 / sqrt(fan_in))."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, pad_mode="same", padding=0, dilation=1,
                 group=1, has_bias=False, weight_init=None, bias_init=None, data_format="NCHW",
                 dtype=_dt.float32):
        if data_format != "NCHW":
            raise ValueError(f"Conv2d: only data_format='NCHW' is supported, got {data_format!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride, pad_mode, padding, dilation, group,
                         has_bias, weight_init, bias_init, 2, dtype=dtype)

    def construct(self, x):
        shape = self._check_x(x, 2)
        pads = _conv_pads(self, shape[2:], self.kernel_size, self.stride, self.dilation)
        _check_fits("Conv2d", shape, shape[2:], pads, self.kernel_size, self.dilation)
        y = op("conv2d")(x, self.weight, self.stride, pads, self.dilation, self.group)
        return self._add_bias(y)


class Conv1d(_Conv):
    """1-D convolution over (N, C_in, L) inputs (a 2-D convolution with height 1).

    ``Conv1d(in_channels, out_channels, kernel_size, stride=1, pad_mode='same', padding=0, dilation=1,
    group=1, has_bias=False, weight_init=None, bias_init=None, dtype=float32)``. weight:
    (out_channels, in_channels / group, kernel_size); padding an int or (left, right)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, pad_mode="same", padding=0, dilation=1,
                 group=1, has_bias=False, weight_init=None, bias_init=None, dtype=_dt.float32):
        super().__init__(in_channels, out_channels, kernel_size, stride, pad_mode, padding, dilation, group,
                         has_bias, weight_init, bias_init, 1, dtype=dtype)

    def construct(self, x):
        shape = self._check_x(x, 1)
        pads = _conv_pads(self, shape[2:], self.kernel_size, self.stride, self.dilation)
        _check_fits("Conv1d", shape, shape[2:], pads, self.kernel_size, self.dilation)
        x4 = op("unsqueeze")(x, 2)
        w4 = op("unsqueeze")(self.weight, 2)
        y = op("conv2d")(x4, w4, (1, self.stride[0]), (0, 0) + tuple(pads), (1, self.dilation[0]), self.group)
        y = self._add_bias(y)
        return op("squeeze")(y, (2,))


class Conv2dTranspose(_Conv):
    """2-D transposed convolution (the gradient of Conv2d with respect to its input) over (N, C_in, H, W).

    ``Conv2dTranspose(in_channels, out_channels, kernel_size, stride=1, pad_mode='same', padding=0,
    output_padding=0, dilation=1, group=1, has_bias=False, weight_init=None, bias_init=None,
    dtype=float32)``. weight: (in_channels, out_channels / group, kh, kw). Output size per spatial dim:
    'same' in * stride; 'valid' in * stride + max(k_eff - stride, 0); 'pad' (in - 1) * stride + k_eff -
    pad_before - pad_after + output_padding, with k_eff = dilation * (k - 1) + 1."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, pad_mode="same", padding=0,
                 output_padding=0, dilation=1, group=1, has_bias=False, weight_init=None, bias_init=None,
                 dtype=_dt.float32):
        super().__init__(in_channels, out_channels, kernel_size, stride, pad_mode, padding, dilation, group,
                         has_bias, weight_init, bias_init, 2, transposed=True, dtype=dtype)
        self.output_padding = _util.tuple_n("Conv2dTranspose", "output_padding", output_padding, 2, minimum=0)
        if any(self.output_padding):
            if self.pad_mode != "pad":
                raise ValueError("Conv2dTranspose: output_padding needs pad_mode='pad'")
            for o, s in zip(self.output_padding, self.stride):
                if o >= s:
                    raise ValueError(f"Conv2dTranspose: output_padding {self.output_padding} must be smaller than "
                                     f"the stride {self.stride}")

    def construct(self, x):
        shape = self._check_x(x, 2)
        out_hw, pads = [], ()
        for i, n in enumerate(shape[2:]):
            k, s, d = self.kernel_size[i], self.stride[i], self.dilation[i]
            ke = d * (k - 1) + 1
            if self.pad_mode == "same":
                out = n * s
                need = max(0, ke - s)
                pads += (need // 2, need - need // 2)
            elif self.pad_mode == "valid":
                out = n * s + max(ke - s, 0)
                pads += (0, 0)
            else:
                a, b = self.padding[2 * i], self.padding[2 * i + 1]
                out = (n - 1) * s + ke - a - b + self.output_padding[i]
                pads += (a, b)
            if out < 1:
                raise ValueError(f"Conv2dTranspose: input of shape {shape_str(shape)} gives a non-positive output "
                                 f"size {out} along spatial dim {i} (padding {self.padding})")
            out_hw.append(out)
        y = op("conv2d_backprop_input")(x, self.weight, (shape[0], self.out_channels, out_hw[0], out_hw[1]),
                                        self.stride, pads, self.dilation, self.group)
        return self._add_bias(y)
