"""Shared helpers of the test_nn_*.py files: NumPy references (convolution, pooling, softmax), gradient
helpers over the eager autograd API (ms.grad), and a finite-difference gradient check."""
import numpy as np

import dynastat as ms
from dynastat import Tensor


def T(a, dtype=None):
    """A dynastat Tensor of a NumPy array (float32 unless dtype is given or a is not float)."""
    a = np.asarray(a)
    if dtype is not None:
        a = a.astype(dtype)
    elif a.dtype == np.float64:
        a = a.astype(np.float32)
    return Tensor(a)


def rng(seed=0):
    return np.random.default_rng(seed)


def close(actual, expected, rtol=1e-5, atol=1e-6):
    a = actual.asnumpy() if hasattr(actual, "asnumpy") else np.asarray(actual)
    np.testing.assert_allclose(a, np.asarray(expected), rtol=rtol, atol=atol)


# ------------------------------------------------------------------------------------------ gradients
def grads(fn, inputs, cotangent=None, weights=None):
    """Gradients of sum(fn(*inputs) * cotangent) (or of fn's scalar output) with respect to every input
    (a tuple), and, with weights, (input grads, weight grads)."""
    n = len(inputs)

    def loss(*xs):
        out = fn(*xs)
        if cotangent is None:
            return out
        return (out * Tensor(np.asarray(cotangent, dtype=_np_dtype(out)))).sum()

    g = ms.grad(loss, grad_position=tuple(range(n)) if n else None, weights=weights)(*inputs)
    return g


def _np_dtype(t):
    return np.float64 if t.dtype == ms.float64 else np.float32


def numeric_grad(f, x, eps=1e-6):
    """Central-difference gradient of the scalar function f (of a float64 NumPy array) at x."""
    x = np.array(x, dtype=np.float64)
    g = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + eps
        fp = f(x)
        x[i] = old - eps
        fm = f(x)
        x[i] = old
        g[i] = (fp - fm) / (2 * eps)
    return g


# ------------------------------------------------------------------------------------------ references
def softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax(x, axis=-1):
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


def same_pads(size, k, s, d):
    out = -(-size // s)
    need = max(0, (out - 1) * s + d * (k - 1) + 1 - size)
    return need // 2, need - need // 2


def _conv_geom(xshape, wshape, stride, pads, dilation):
    n, c, h, w = xshape
    o, cg, kh, kw = wshape
    pt, pb, pl, pr = pads
    ho = (h + pt + pb - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    wo = (w + pl + pr - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    return ho, wo


def conv2d(x, w, stride=(1, 1), pads=(0, 0, 0, 0), dilation=(1, 1), groups=1):
    """Reference NCHW cross-correlation (one einsum per kernel offset)."""
    x = np.asarray(x, np.float64)
    w = np.asarray(w, np.float64)
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    pt, pb, pl, pr = pads
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    ho, wo = _conv_geom(x.shape, w.shape, stride, pads, dilation)
    y = np.zeros((n, o, ho, wo))
    og = o // groups
    for g in range(groups):
        xs = xp[:, g * cg:(g + 1) * cg]
        ws = w[g * og:(g + 1) * og]
        for i in range(kh):
            for j in range(kw):
                r0, c0 = i * dilation[0], j * dilation[1]
                patch = xs[:, :, r0:r0 + stride[0] * (ho - 1) + 1:stride[0], c0:c0 + stride[1] * (wo - 1) + 1:stride[1]]
                y[:, g * og:(g + 1) * og] += np.einsum("nchw,oc->nohw", patch, ws[:, :, i, j])
    return y


def conv2d_grads(x, w, dy, stride=(1, 1), pads=(0, 0, 0, 0), dilation=(1, 1), groups=1):
    """(dx, dw) of the reference conv2d for output gradient dy."""
    x = np.asarray(x, np.float64)
    w = np.asarray(w, np.float64)
    dy = np.asarray(dy, np.float64)
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    pt, pb, pl, pr = pads
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    ho, wo = dy.shape[2:]
    og = o // groups
    for g in range(groups):
        for i in range(kh):
            for j in range(kw):
                r0, c0 = i * dilation[0], j * dilation[1]
                sl = (slice(None), slice(g * cg, (g + 1) * cg),
                      slice(r0, r0 + stride[0] * (ho - 1) + 1, stride[0]),
                      slice(c0, c0 + stride[1] * (wo - 1) + 1, stride[1]))
                dyg = dy[:, g * og:(g + 1) * og]
                dw[g * og:(g + 1) * og, :, i, j] += np.einsum("nohw,nchw->oc", dyg, xp[sl])
                dxp[sl] += np.einsum("nohw,oc->nchw", dyg, w[g * og:(g + 1) * og, :, i, j])
    dx = dxp[:, :, pt:pt + h, pl:pl + wd]
    return dx, dw


def pool_windows(x, k, s, pads, fill):
    """Windows of a padded NCHW input: array (n, c, ho, wo, kh*kw) and a mask of real positions."""
    x = np.asarray(x, np.float64)
    n, c, h, w = x.shape
    pt, pb, pl, pr = pads
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)), constant_values=fill)
    mp = np.pad(np.ones((h, w)), ((pt, pb), (pl, pr)))
    ho = (h + pt + pb - k[0]) // s[0] + 1
    wo = (w + pl + pr - k[1]) // s[1] + 1
    win = np.zeros((n, c, ho, wo, k[0] * k[1]))
    mask = np.zeros((ho, wo, k[0] * k[1]))
    for i in range(k[0]):
        for j in range(k[1]):
            win[..., i * k[1] + j] = xp[:, :, i:i + s[0] * (ho - 1) + 1:s[0], j:j + s[1] * (wo - 1) + 1:s[1]]
            mask[..., i * k[1] + j] = mp[i:i + s[0] * (ho - 1) + 1:s[0], j:j + s[1] * (wo - 1) + 1:s[1]]
    return win, mask


def max_pool2d(x, k, s, pads=(0, 0, 0, 0)):
    win, _ = pool_windows(x, k, s, pads, -np.inf)
    return win.max(-1)


def avg_pool2d(x, k, s, pads=(0, 0, 0, 0), count_include_pad=True):
    win, mask = pool_windows(x, k, s, pads, 0.0)
    if count_include_pad:
        return win.sum(-1) / (k[0] * k[1])
    return win.sum(-1) / mask.sum(-1)


def adaptive_avg_pool2d(x, out):
    x = np.asarray(x, np.float64)
    n, c, h, w = x.shape
    ho, wo = out
    y = np.zeros((n, c, ho, wo))
    for i in range(ho):
        r0, r1 = (i * h) // ho, -(-((i + 1) * h) // ho)
        for j in range(wo):
            c0, c1 = (j * w) // wo, -(-((j + 1) * w) // wo)
            y[:, :, i, j] = x[:, :, r0:r1, c0:c1].mean(axis=(2, 3))
    return y
