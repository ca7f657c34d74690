"""Pooling layers over (N, C, H, W) or (C, H, W) inputs: MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, over
the C ops max_pool2d, avg_pool2d and adaptive_avg_pool2d.

pad_mode 'valid' (the default) pads nothing; 'same' gives output size ceil(in / stride), padding split
with the smaller half first (padded positions never win a max and are not counted in an average);
'pad' uses `padding` (an int, or (h, w)) with ceil_mode / count_include_pad as given."""
from .. import _util
from .._util import op, shape_str
from ..cell import Cell
from .conv import _same_pad

__all__ = ["MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d"]


def _pool_mode(cls, pad_mode):
    if not isinstance(pad_mode, str) or pad_mode.lower() not in ("same", "valid", "pad"):
        raise ValueError(f"{cls}: pad_mode must be 'same', 'valid' or 'pad', got {pad_mode!r}")
    return pad_mode.lower()


def _pool_padding(cls, padding, pad_mode):
    if isinstance(padding, int) and not isinstance(padding, bool):
        pads = (padding, padding)
    elif isinstance(padding, (tuple, list)) and len(padding) in (1, 2) and \
            all(isinstance(p, int) and not isinstance(p, bool) for p in padding):
        pads = (padding[0], padding[-1])
    else:
        raise TypeError(f"{cls}: padding must be an int or a tuple of 1 or 2 ints, got {padding!r}")
    if any(p < 0 for p in pads):
        raise ValueError(f"{cls}: padding must be non-negative, got {padding!r}")
    if pad_mode != "pad" and any(pads):
        raise ValueError(f"{cls}: padding must be 0 when pad_mode is '{pad_mode}', got padding={padding!r} "
                         f"(use pad_mode='pad')")
    return pads


def _check_pool_input(cls, x):
    shape = getattr(x, "shape", None)
    if shape is None:
        raise TypeError(f"{cls}: input must be a Tensor, got {type(x).__name__}")
    if len(shape) not in (3, 4):
        raise ValueError(f"{cls}: expected input of shape (N, C, H, W) or (C, H, W), got shape {shape_str(shape)}")
    return shape


class _Pool2d(Cell):
    def __init__(self, kernel_size, stride, pad_mode, padding, ceil_mode):
        super().__init__()
        cls = type(self).__name__
        self.kernel_size = _util.tuple_n(cls, "kernel_size", kernel_size, 2)
        self.stride = _util.tuple_n(cls, "stride", stride, 2)
        self.pad_mode = _pool_mode(cls, pad_mode)
        self.padding = _pool_padding(cls, padding, self.pad_mode)
        self.ceil_mode = _util.check_bool(cls, "ceil_mode", ceil_mode)
        if self.pad_mode != "pad" and self.ceil_mode:
            raise ValueError(f"{cls}: ceil_mode=True needs pad_mode='pad'")

    def _pads(self, shape, dilation=(1, 1)):
        if self.pad_mode == "valid":
            return (0, 0, 0, 0)
        if self.pad_mode == "pad":
            return (self.padding[0], self.padding[0], self.padding[1], self.padding[1])
        h, w = shape[-2:]
        return _same_pad(h, self.kernel_size[0], self.stride[0], dilation[0]) + \
            _same_pad(w, self.kernel_size[1], self.stride[1], dilation[1])

    def _check_fits(self, shape, pads, dilation=(1, 1)):
        for n, a, b, k, d in zip(shape[-2:], pads[::2], pads[1::2], self.kernel_size, dilation):
            if n + a + b < d * (k - 1) + 1:
                raise ValueError(f"{self.cls_name}: input of shape {shape_str(shape)} is smaller than kernel_size "
                                 f"{self.kernel_size} (padding {pads})")

    def extend_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, pad_mode={self.pad_mode}, "
                f"padding={self.padding}, ceil_mode={self.ceil_mode}")


class MaxPool2d(_Pool2d):
    """Maximum over windows.

    ``MaxPool2d(kernel_size=1, stride=1, pad_mode='valid', padding=0, dilation=1, return_indices=False,
    ceil_mode=False, data_format='NCHW')``."""

    def __init__(self, kernel_size=1, stride=1, pad_mode="valid", padding=0, dilation=1, return_indices=False,
                 ceil_mode=False, data_format="NCHW"):
        super().__init__(kernel_size, stride, pad_mode, padding, ceil_mode)
        self.dilation = _util.tuple_n("MaxPool2d", "dilation", dilation, 2)
        if return_indices:
            raise NotImplementedError("MaxPool2d: return_indices=True is not supported yet")
        if data_format != "NCHW":
            raise ValueError(f"MaxPool2d: only data_format='NCHW' is supported, got {data_format!r}")
        if self.pad_mode != "pad" and self.dilation != (1, 1):
            raise ValueError("MaxPool2d: dilation needs pad_mode='pad'")

    def construct(self, x):
        shape = _check_pool_input("MaxPool2d", x)
        pads = self._pads(shape, self.dilation)
        self._check_fits(shape, pads, self.dilation)
        return op("max_pool2d")(x, self.kernel_size, self.stride, pads, self.dilation, self.ceil_mode)


class AvgPool2d(_Pool2d):
    """Average over windows.

    ``AvgPool2d(kernel_size=1, stride=1, pad_mode='valid', padding=0, ceil_mode=False,
    count_include_pad=True, divisor_override=None, data_format='NCHW')``."""

    def __init__(self, kernel_size=1, stride=1, pad_mode="valid", padding=0, ceil_mode=False,
                 count_include_pad=True, divisor_override=None, data_format="NCHW"):
        super().__init__(kernel_size, stride, pad_mode, padding, ceil_mode)
        self.count_include_pad = _util.check_bool("AvgPool2d", "count_include_pad", count_include_pad)
        if divisor_override is not None:
            divisor_override = _util.check_int("AvgPool2d", "divisor_override", divisor_override, 1)
        self.divisor_override = divisor_override
        if data_format != "NCHW":
            raise ValueError(f"AvgPool2d: only data_format='NCHW' is supported, got {data_format!r}")

    def construct(self, x):
        shape = _check_pool_input("AvgPool2d", x)
        pads = self._pads(shape)
        self._check_fits(shape, pads)
        include = self.count_include_pad if self.pad_mode == "pad" else False
        return op("avg_pool2d")(x, self.kernel_size, self.stride, pads, self.ceil_mode, include,
                                self.divisor_override)


class AdaptiveAvgPool2d(Cell):
    """Average pooling to a fixed output size (PyTorch's windows): output_size an int, or (h, w) where None
    keeps that input dim."""

    def __init__(self, output_size):
        super().__init__()
        if isinstance(output_size, int) and not isinstance(output_size, bool):
            sizes = (output_size, output_size)
        elif isinstance(output_size, (tuple, list)) and len(output_size) == 2:
            sizes = tuple(output_size)
        else:
            raise TypeError(f"AdaptiveAvgPool2d: output_size must be an int or a tuple of 2 ints (or None), got "
                            f"{output_size!r}")
        for s in sizes:
            if s is not None and (isinstance(s, bool) or not isinstance(s, int) or s < 1):
                raise ValueError(f"AdaptiveAvgPool2d: output_size must hold positive ints or None, got {output_size!r}")
        self.output_size = sizes

    def construct(self, x):
        _check_pool_input("AdaptiveAvgPool2d", x)
        return op("adaptive_avg_pool2d")(x, tuple(-1 if s is None else s for s in self.output_size))

    def extend_repr(self):
        return f"output_size={self.output_size}"
