"""Convolution and pooling layers against NumPy references: forward values for every pad_mode, and
gradients (input, weight, bias) through the autograd API."""
import numpy as np
import pytest

import dynastat as ms
from dynastat import nn, Tensor
import nn_testutil as ref
from nn_testutil import T, close, grads, rng


def _conv_case(cell, x, stride, pads, dilation, groups, seed=0):
    """Checks cell(x) and its gradients against the reference conv with the given explicit padding."""
    w = cell.weight.asnumpy()
    y_ref = ref.conv2d(x, w, stride, pads, dilation, groups)
    if cell.bias is not None:
        y_ref = y_ref + cell.bias.asnumpy().reshape(1, -1, 1, 1)
    y = cell(T(x))
    assert y.shape == y_ref.shape
    close(y, y_ref, rtol=1e-4, atol=1e-5)
    ct = rng(seed + 100).standard_normal(y_ref.shape)
    (gx,), gws = grads(cell, [T(x)], ct, weights=cell.trainable_params())
    dx, dw = ref.conv2d_grads(x, w, ct, stride, pads, dilation, groups)
    close(gx, dx, rtol=1e-4, atol=1e-4)
    close(gws[0], dw, rtol=1e-4, atol=1e-4)
    if cell.bias is not None:
        close(gws[1], ct.sum((0, 2, 3)), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("hw,k,s,d", [((7, 7), 3, 1, 1), ((8, 9), 3, 2, 1), ((9, 6), (2, 3), (2, 1), 1),
                                      ((10, 10), 3, 1, 2), ((5, 5), 1, 2, 1), ((6, 7), 4, 3, 1)])
def test_conv2d_same(hw, k, s, d):
    ms.set_seed(1)
    cell = nn.Conv2d(3, 4, k, stride=s, pad_mode="same", dilation=d, has_bias=True)
    ks, ss, ds = cell.kernel_size, cell.stride, cell.dilation
    x = rng(2).standard_normal((2, 3) + hw)
    pads = ref.same_pads(hw[0], ks[0], ss[0], ds[0]) + ref.same_pads(hw[1], ks[1], ss[1], ds[1])
    _conv_case(cell, x, ss, pads, ds, 1)
    assert cell(T(x)).shape[2:] == (-(-hw[0] // ss[0]), -(-hw[1] // ss[1]))


@pytest.mark.parametrize("hw,k,s,d", [((7, 7), 3, 1, 1), ((8, 9), 3, 2, 1), ((9, 6), (2, 3), (3, 2), 1),
                                      ((11, 11), 3, 2, 2)])
def test_conv2d_valid(hw, k, s, d):
    ms.set_seed(2)
    cell = nn.Conv2d(2, 5, k, stride=s, pad_mode="valid", dilation=d)
    x = rng(3).standard_normal((3, 2) + hw)
    _conv_case(cell, x, cell.stride, (0, 0, 0, 0), cell.dilation, 1, seed=1)
    ks, ss, ds = cell.kernel_size, cell.stride, cell.dilation
    want = tuple(-(-(n - dd * (kk - 1)) // st) for n, kk, st, dd in zip(hw, ks, ss, ds))
    assert cell(T(x)).shape[2:] == want


@pytest.mark.parametrize("padding,pads", [(1, (1, 1, 1, 1)), ((1, 2, 0, 3), (1, 2, 0, 3)), ((2, 1), (2, 2, 1, 1))])
def test_conv2d_pad(padding, pads):
    ms.set_seed(3)
    cell = nn.Conv2d(2, 3, 3, stride=2, pad_mode="pad", padding=padding, has_bias=True)
    x = rng(4).standard_normal((2, 2, 6, 7))
    _conv_case(cell, x, (2, 2), pads, (1, 1), 1, seed=2)


def test_conv2d_groups():
    ms.set_seed(4)
    cell = nn.Conv2d(4, 6, 3, pad_mode="pad", padding=1, group=2, has_bias=True)
    assert cell.weight.shape == (6, 2, 3, 3)
    x = rng(5).standard_normal((2, 4, 5, 5))
    _conv_case(cell, x, (1, 1), (1, 1, 1, 1), (1, 1), 2, seed=3)


def test_conv2d_seed_example_shapes():
    # the seeds' jit tutorial: nn.Conv2d(in_channels=3, out_channels=4, kernel_size=3, stride=2, padding=0)
    conv = nn.Conv2d(in_channels=3, out_channels=4, kernel_size=3, stride=2, padding=0)
    assert conv(T(np.ones((1, 3, 32, 32)))).shape == (1, 4, 16, 16)
    net = nn.Conv2d(120, 240, 4, has_bias=False, weight_init="normal")
    assert net(T(np.ones((1, 120, 8, 6)))).shape == (1, 240, 8, 6)


def test_conv2d_errors():
    conv = nn.Conv2d(3, 4, 3)
    with pytest.raises(ValueError, match=r"Conv2d: expected input of shape \(N, 3, H, W\) \(3 channels\), got shape "
                                         r"\(1, 2, 8, 8\)"):
        conv(T(np.ones((1, 2, 8, 8))))
    with pytest.raises(ValueError, match=r"Conv2d: expected input of shape \(N, 3, H, W\)"):
        conv(T(np.ones((3, 8, 8))))
    with pytest.raises(ValueError, match="Conv2d: padding must be 0 when pad_mode is 'same'"):
        nn.Conv2d(3, 4, 3, padding=1)
    with pytest.raises(ValueError, match="Conv2d: pad_mode must be 'same', 'valid' or 'pad'"):
        nn.Conv2d(3, 4, 3, pad_mode="full")
    with pytest.raises(ValueError, match="divisible by group"):
        nn.Conv2d(3, 4, 3, group=2)
    with pytest.raises(ValueError, match="Conv2d: input of shape \\(1, 3, 2, 2\\) is too small for kernel_size"):
        nn.Conv2d(3, 4, 3, pad_mode="valid")(T(np.ones((1, 3, 2, 2))))
    with pytest.raises(TypeError, match="kernel_size"):
        nn.Conv2d(3, 4, (3, 3, 3))


def test_conv2d_repr():
    r = repr(nn.Conv2d(1, 2, 2, pad_mode="valid"))
    assert r.startswith("Conv2d<input_channels=1, output_channels=2, kernel_size=(2, 2), stride=(1, 1), "
                        "pad_mode=valid")


@pytest.mark.parametrize("pad_mode,padding", [("same", 0), ("valid", 0), ("pad", (1, 2))])
def test_conv1d(pad_mode, padding):
    ms.set_seed(5)
    cell = nn.Conv1d(3, 2, 3, stride=2, pad_mode=pad_mode, padding=padding, has_bias=True)
    assert cell.weight.shape == (2, 3, 3)
    x = rng(6).standard_normal((2, 3, 9))
    if pad_mode == "same":
        lr = ref.same_pads(9, 3, 2, 1)
    elif pad_mode == "valid":
        lr = (0, 0)
    else:
        lr = padding
    w4 = cell.weight.asnumpy()[:, :, None, :]
    y_ref = ref.conv2d(x[:, :, None, :], w4, (1, 2), (0, 0) + tuple(lr))[:, :, 0, :] + \
        cell.bias.asnumpy()[None, :, None]
    close(cell(T(x)), y_ref, rtol=1e-4, atol=1e-5)
    ct = rng(7).standard_normal(y_ref.shape)
    (gx,), (gw, gb) = grads(cell, [T(x)], ct, weights=cell.trainable_params())
    dx, dw = ref.conv2d_grads(x[:, :, None, :], w4, ct[:, :, None, :], (1, 2), (0, 0) + tuple(lr))
    close(gx, dx[:, :, 0, :], rtol=1e-4, atol=1e-4)
    close(gw, dw[:, :, 0, :], rtol=1e-4, atol=1e-4)
    close(gb, ct.sum((0, 2)), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("pad_mode,padding,stride,k,hw", [("same", 0, 2, 3, (4, 5)), ("valid", 0, 2, 3, (4, 5)),
                                                          ("valid", 0, 3, 2, (3, 3)), ("pad", 1, 2, 3, (4, 4)),
                                                          ("same", 0, 1, 3, (5, 5))])
def test_conv2d_transpose(pad_mode, padding, stride, k, hw):
    ms.set_seed(6)
    cell = nn.Conv2dTranspose(3, 2, k, stride=stride, pad_mode=pad_mode, padding=padding, has_bias=True)
    assert cell.weight.shape == (3, 2, k, k)
    x = rng(8).standard_normal((2, 3) + hw)
    w = cell.weight.asnumpy()
    ke = k
    outs, pads = [], ()
    for n in hw:
        if pad_mode == "same":
            outs.append(n * stride)
            need = max(0, ke - stride)
            pads += (need // 2, need - need // 2)
        elif pad_mode == "valid":
            outs.append(n * stride + max(ke - stride, 0))
            pads += (0, 0)
        else:
            outs.append((n - 1) * stride + ke - 2 * padding)
            pads += (padding, padding)
    # a transposed conv is the input gradient of the conv with the same weight
    zeros = np.zeros((2, 2) + tuple(outs))
    y_ref, _ = ref.conv2d_grads(zeros, w, x, (stride, stride), pads)
    y_ref = y_ref + cell.bias.asnumpy().reshape(1, -1, 1, 1)
    y = cell(T(x))
    assert y.shape == y_ref.shape
    close(y, y_ref, rtol=1e-4, atol=1e-5)
    ct = rng(9).standard_normal(y_ref.shape)
    (gx,), (gw, gb) = grads(cell, [T(x)], ct, weights=cell.trainable_params())
    close(gx, ref.conv2d(ct, w, (stride, stride), pads), rtol=1e-4, atol=1e-4)
    _, dw = ref.conv2d_grads(ct, w, x, (stride, stride), pads)
    close(gw, dw, rtol=1e-4, atol=1e-4)
    close(gb, ct.sum((0, 2, 3)), rtol=1e-4, atol=1e-4)


def test_conv2d_transpose_output_padding():
    cell = nn.Conv2dTranspose(1, 1, 3, stride=2, pad_mode="pad", padding=1, output_padding=1, weight_init="ones")
    assert cell(T(np.ones((1, 1, 4, 4)))).shape == (1, 1, 8, 8)
    with pytest.raises(ValueError, match="output_padding needs pad_mode='pad'"):
        nn.Conv2dTranspose(1, 1, 3, stride=2, output_padding=1)


# ------------------------------------------------------------------------------------------ pooling
def _pool_grad_ref(f, x, ct, eps=1e-6):
    return ref.numeric_grad(lambda v: (f(v) * ct).sum(), x, eps)


@pytest.mark.parametrize("k,s,pad_mode,hw", [(2, 2, "valid", (6, 6)), (3, 2, "valid", (7, 8)),
                                             (2, 2, "same", (5, 7)), (3, 1, "same", (4, 4)), (3, 2, "pad", (6, 5))])
def test_max_pool2d(k, s, pad_mode, hw):
    padding = 1 if pad_mode == "pad" else 0
    cell = nn.MaxPool2d(k, s, pad_mode=pad_mode, padding=padding)
    x = rng(10).permutation(np.arange(2 * 3 * hw[0] * hw[1])).reshape((2, 3) + hw).astype(np.float64) / 7
    if pad_mode == "same":
        pads = ref.same_pads(hw[0], k, s, 1) + ref.same_pads(hw[1], k, s, 1)
    else:
        pads = (padding,) * 4
    y_ref = ref.max_pool2d(x, (k, k), (s, s), pads)
    close(cell(T(x)), y_ref)
    ct = rng(11).standard_normal(y_ref.shape)
    (g,) = grads(cell, [Tensor(x)], ct)
    close(g, _pool_grad_ref(lambda v: ref.max_pool2d(v, (k, k), (s, s), pads), x, ct), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("k,s,pad_mode,include", [(2, 2, "valid", True), (3, 2, "same", True),
                                                  (3, 2, "pad", True), (3, 2, "pad", False), (3, 1, "same", True)])
def test_avg_pool2d(k, s, pad_mode, include):
    padding = 1 if pad_mode == "pad" else 0
    cell = nn.AvgPool2d(k, s, pad_mode=pad_mode, padding=padding, count_include_pad=include)
    x = rng(12).standard_normal((2, 3, 7, 6))
    if pad_mode == "same":
        pads = ref.same_pads(7, k, s, 1) + ref.same_pads(6, k, s, 1)
        include = False  # 'same' averages over the real positions only
    else:
        pads = (padding,) * 4
    y_ref = ref.avg_pool2d(x, (k, k), (s, s), pads, include)
    close(cell(T(x)), y_ref, rtol=1e-5, atol=1e-6)
    ct = rng(13).standard_normal(y_ref.shape)
    (g,) = grads(cell, [Tensor(x)], ct)
    close(g, _pool_grad_ref(lambda v: ref.avg_pool2d(v, (k, k), (s, s), pads, include), x, ct), rtol=1e-5,
          atol=1e-6)


def test_pool_defaults_and_3d_input():
    x = rng(14).standard_normal((3, 4, 4))
    assert nn.MaxPool2d()(T(x)).shape == (3, 4, 4)  # kernel 1, stride 1
    close(nn.MaxPool2d(2, 2)(T(x)), ref.max_pool2d(x[None], (2, 2), (2, 2))[0], rtol=1e-6)
    close(nn.AvgPool2d(kernel_size=2, stride=2)(T(x)), ref.avg_pool2d(x[None], (2, 2), (2, 2))[0], rtol=1e-6)


@pytest.mark.parametrize("out", [1, (2, 3), (3, None), (4, 4)])
def test_adaptive_avg_pool2d(out):
    x = rng(15).standard_normal((2, 3, 7, 5))
    cell = nn.AdaptiveAvgPool2d(out)
    o = (out, out) if isinstance(out, int) else (out[0], 5 if out[1] is None else out[1])
    y_ref = ref.adaptive_avg_pool2d(x, o)
    close(cell(T(x)), y_ref, rtol=1e-5, atol=1e-6)
    ct = rng(16).standard_normal(y_ref.shape)
    (g,) = grads(cell, [Tensor(x)], ct)
    close(g, _pool_grad_ref(lambda v: ref.adaptive_avg_pool2d(v, o), x, ct), rtol=1e-5, atol=1e-6)


def test_pool_errors():
    with pytest.raises(ValueError, match=r"MaxPool2d: expected input of shape \(N, C, H, W\) or \(C, H, W\), got "
                                         r"shape \(4, 4\)"):
        nn.MaxPool2d(2, 2)(T(np.ones((4, 4))))
    with pytest.raises(ValueError, match="AvgPool2d: padding must be 0 when pad_mode is 'valid'"):
        nn.AvgPool2d(2, 2, padding=1)
    with pytest.raises(ValueError, match="MaxPool2d: input of shape \\(1, 1, 2, 2\\) is smaller than kernel_size"):
        nn.MaxPool2d(3, 1)(T(np.ones((1, 1, 2, 2))))
    with pytest.raises(ValueError, match="AdaptiveAvgPool2d: output_size must hold positive ints"):
        nn.AdaptiveAvgPool2d((0, 2))
