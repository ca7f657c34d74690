"""Loss cells (the seeds' mindspore.nn losses, with their defaults): MSELoss, L1Loss, CrossEntropyLoss,
SoftmaxCrossEntropyWithLogits, BCEWithLogitsLoss. Each is a composition of C ops (log_softmax,
softmax_cross_entropy, bce_with_logits for the numerically delicate parts)."""
from . import _util
from ._util import op, shape_str, is_tensor
from .cell import Cell
from ..common import dtype as _dt

__all__ = ["LossBase", "MSELoss", "L1Loss", "CrossEntropyLoss", "SoftmaxCrossEntropyWithLogits",
           "BCEWithLogitsLoss", "NLLLoss", "SmoothL1Loss"]

_INT = (_dt.int8, _dt.uint8, _dt.int16, _dt.int32, _dt.int64)
_REDUCTION = {"none": 0, "mean": 1, "sum": 2}  # the fused loss ops' reduction attribute


class LossBase(Cell):
    """Base of the losses: ``get_loss(x, weights=1.0)`` applies the weights and the reduction
    ('mean', 'sum' or 'none')."""

    def __init__(self, reduction="mean"):
        super().__init__()
        self.reduction = _util.check_reduction(type(self).__name__, reduction)

    def get_axis(self, x):
        return tuple(range(x.ndim))

    def get_loss(self, x, weights=1.0):
        if not (isinstance(weights, (int, float)) and weights == 1.0):
            x = x * weights
        if self.reduction == "mean":
            return op("mean")(x, None, False)
        if self.reduction == "sum":
            return op("sum")(x, None, False)
        return x

    def extend_repr(self):
        return f"reduction={self.reduction}"


def _check_pair(cls, logits, labels):
    _util.check_input(cls, logits, "logits")
    _util.check_input(cls, labels, "labels")


def _check_broadcast(cls, a, b):
    sa, sb = a.shape, b.shape
    for x, y in zip(reversed(sa), reversed(sb)):
        if x != y and x != 1 and y != 1:
            raise ValueError(f"{cls}: logits of shape {shape_str(sa)} and labels of shape {shape_str(sb)} cannot be "
                             f"broadcast together")


class MSELoss(LossBase):
    """(logits - labels)^2, reduced ('mean' by default)."""

    def construct(self, logits, labels):
        _check_pair("MSELoss", logits, labels)
        _check_broadcast("MSELoss", logits, labels)
        d = logits - labels
        return self.get_loss(d * d)


class L1Loss(LossBase):
    """|logits - labels|, reduced ('mean' by default)."""

    def construct(self, logits, labels):
        _check_pair("L1Loss", logits, labels)
        _check_broadcast("L1Loss", logits, labels)
        return self.get_loss(op("abs")(logits - labels))


class SmoothL1Loss(LossBase):
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (d = logits - labels); reduction 'none' by
    default, as the seeds' API."""

    def __init__(self, beta=1.0, reduction="none"):
        super().__init__(reduction)
        self.beta = _util.check_float("SmoothL1Loss", "beta", beta, 0.0, None, lo_open=True)

    def construct(self, logits, labels):
        _check_pair("SmoothL1Loss", logits, labels)
        _check_broadcast("SmoothL1Loss", logits, labels)
        d = op("abs")(logits - labels)
        loss = op("where")(op("less")(d, self.beta), d * d * (0.5 / self.beta), d - 0.5 * self.beta)
        return self.get_loss(loss)


def _class_axis_last(x):
    """(N, C, d1, ...) -> (N * d1 * ..., C) and the batch shape (N, d1, ...)."""
    nd = x.ndim
    if nd == 1:
        return op("reshape")(x, (1, x.shape[0])), ()
    if nd == 2:
        return x, (x.shape[0],)
    perm = (0,) + tuple(range(2, nd)) + (1,)
    batch = (x.shape[0],) + tuple(x.shape[2:])
    return op("reshape")(op("transpose")(x, perm), (-1, x.shape[1])), batch


def _log_softmax(x, axis=-1):
    return op("log_softmax")(x, axis)


def _nll_parts(logp, target, weight, ignore_index):
    """Per-sample negative log-likelihood -w[y] logp[y] (0 where y == ignore_index) and the per-sample
    weights w[y] (0 where ignored), for logp (M, C) and integer targets (M,)."""
    valid = op("not_equal")(target, ignore_index)
    safe = op("where")(valid, target, op("zeros_like")(target))
    picked = op("squeeze")(op("gather_elements")(logp, op("unsqueeze")(op("cast")(safe, _dt.int64), 1), 1), (1,))
    validf = op("cast")(valid, logp.dtype)
    w = validf if weight is None else op("gather")(op("cast")(weight, logp.dtype), safe, 0) * validf
    return -picked * w, w


def _check_weight(cls, weight, c):
    if weight is None:
        return None
    if not is_tensor(weight) or weight.shape != (c,):
        got = shape_str(weight.shape) if is_tensor(weight) else type(weight).__name__
        raise ValueError(f"{cls}: weight must be a Tensor of shape ({c},) (one weight per class), got {got}")
    return weight


class CrossEntropyLoss(LossBase):
    """Cross entropy between logits (N, C) (or (N, C, d1, ...), or (C,)) and targets that are class indices
    (N,) / (N, d1, ...) or class probabilities of the logits' shape.

    ``CrossEntropyLoss(weight=None, ignore_index=-100, reduction='mean', label_smoothing=0.0)``: weight
    (C,) rescales each class; targets equal to ignore_index are skipped; 'mean' over class indices divides
    by the total weight of the targets that count, as the seeds' API (and PyTorch)."""

    def __init__(self, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
        super().__init__(reduction)
        if weight is not None and not is_tensor(weight):
            raise TypeError(f"CrossEntropyLoss: weight must be a Tensor or None, got {type(weight).__name__}")
        self.weight = weight
        self.ignore_index = _util.check_int("CrossEntropyLoss", "ignore_index", ignore_index)
        self.label_smoothing = _util.check_float("CrossEntropyLoss", "label_smoothing", label_smoothing, 0.0, 1.0)

    def construct(self, logits, labels):
        cls = "CrossEntropyLoss"
        _check_pair(cls, logits, labels)
        if logits.ndim == 0:
            raise ValueError(f"{cls}: logits must have a class dim, got shape ()")
        c = logits.shape[1] if logits.ndim > 1 else logits.shape[0]
        weight = _check_weight(cls, self.weight, c)
        x, batch = _class_axis_last(logits)
        sparse = labels.dtype in _INT
        if sparse:
            if tuple(labels.shape) != batch:
                raise ValueError(f"{cls}: class-index labels must have shape {shape_str(batch)} for logits of shape "
                                 f"{shape_str(logits.shape)}, got {shape_str(labels.shape)}")
            target = op("reshape")(labels, (-1,))
            if target.dtype not in (_dt.int32, _dt.int64):
                target = op("cast")(target, _dt.int64)
        else:
            if tuple(labels.shape) != tuple(logits.shape):
                raise ValueError(f"{cls}: labels must be class indices of shape {shape_str(batch)} or class "
                                 f"probabilities of the logits' shape {shape_str(logits.shape)}, got "
                                 f"{shape_str(labels.shape)} ({labels.dtype})")
            target, _ = _class_axis_last(op("cast")(labels, logits.dtype))
        if weight is None:  # one fused C op: log_softmax, the picked / smoothed targets and the reduction
            loss = op("softmax_cross_entropy")(x, target, sparse=sparse, reduction=_REDUCTION[self.reduction],
                                               ignore_index=self.ignore_index, label_smoothing=self.label_smoothing)
            return op("reshape")(loss, batch) if self.reduction == "none" else loss
        return self._weighted(x, target, sparse, weight, c, batch)

    def _weighted(self, x, target, sparse, weight, c, batch):
        """Class-weighted cross entropy from log_softmax (the fused op has no class weights)."""
        logp = _log_softmax(x, -1)
        w_c = op("cast")(weight, logp.dtype)
        eps = self.label_smoothing
        if not sparse:
            p = target * (1.0 - eps) + eps / c if eps > 0 else target
            per = -op("sum")(logp * w_c * p, (1,), False)
            if self.reduction == "none":
                return op("reshape")(per, batch)
            return self.get_loss(per)
        nll, w = _nll_parts(logp, target, weight, self.ignore_index)
        loss = self._reduce_indices(nll, w, batch)
        if eps > 0:
            valid = op("cast")(op("not_equal")(target, self.ignore_index), logp.dtype)
            smooth = -op("sum")(logp * w_c, (1,), False) * valid
            loss = loss * (1.0 - eps) + self._reduce_indices(smooth, w, batch) * (eps / c)
        return loss

    def _reduce_indices(self, per, w, batch):
        if self.reduction == "none":
            return op("reshape")(per, batch)
        total = op("sum")(per, None, False)
        if self.reduction == "sum":
            return total
        return total / op("sum")(w, None, False)

    def extend_repr(self):
        return (f"weight={self.weight}, ignore_index={self.ignore_index}, reduction={self.reduction}, "
                f"label_smoothing={self.label_smoothing}")


class NLLLoss(LossBase):
    """Negative log-likelihood of log-probabilities (N, C) (or (N, C, d1, ...)) at integer targets.

    ``NLLLoss(weight=None, ignore_index=-100, reduction='mean')``."""

    def __init__(self, weight=None, ignore_index=-100, reduction="mean"):
        super().__init__(reduction)
        self.weight = weight
        self.ignore_index = _util.check_int("NLLLoss", "ignore_index", ignore_index)

    def construct(self, logits, labels):
        cls = "NLLLoss"
        _check_pair(cls, logits, labels)
        c = logits.shape[1] if logits.ndim > 1 else logits.shape[0]
        weight = _check_weight(cls, self.weight, c)
        x, batch = _class_axis_last(logits)
        if labels.dtype not in _INT or tuple(labels.shape) != batch:
            raise ValueError(f"{cls}: labels must be integer class indices of shape {shape_str(batch)}, got "
                             f"{shape_str(labels.shape)} ({labels.dtype})")
        nll, w = _nll_parts(x, op("reshape")(labels, (-1,)), weight, self.ignore_index)
        if self.reduction == "none":
            return op("reshape")(nll, batch)
        total = op("sum")(nll, None, False)
        return total if self.reduction == "sum" else total / op("sum")(w, None, False)


class SoftmaxCrossEntropyWithLogits(LossBase):
    """Cross entropy of softmax(logits) (N, C) against labels: one-hot / probability labels (N, C) or, with
    sparse=True, integer class indices (N,).

    ``SoftmaxCrossEntropyWithLogits(sparse=False, reduction='none')``: per-sample losses (N,) with
    reduction 'none' (the default)."""

    def __init__(self, sparse=False, reduction="none"):
        super().__init__(reduction)
        self.sparse = _util.check_bool("SoftmaxCrossEntropyWithLogits", "sparse", sparse)

    def construct(self, logits, labels):
        cls = "SoftmaxCrossEntropyWithLogits"
        _check_pair(cls, logits, labels)
        if logits.ndim != 2:
            raise ValueError(f"{cls}: logits must have shape (N, C), got {shape_str(logits.shape)}")
        n, c = logits.shape
        if self.sparse:
            if labels.dtype not in _INT or tuple(labels.shape) != (n,):
                raise ValueError(f"{cls}: with sparse=True, labels must be integer class indices of shape ({n},), "
                                 f"got {shape_str(labels.shape)} ({labels.dtype})")
            if labels.dtype not in (_dt.int32, _dt.int64):
                labels = op("cast")(labels, _dt.int64)
        elif tuple(labels.shape) != (n, c):
            raise ValueError(f"{cls}: labels must have the logits' shape ({n}, {c}) (or use sparse=True for class "
                             f"indices), got {shape_str(labels.shape)}")
        elif labels.dtype != logits.dtype:
            labels = op("cast")(labels, logits.dtype)
        return op("softmax_cross_entropy")(logits, labels, sparse=self.sparse, reduction=_REDUCTION[self.reduction],
                                           ignore_index=None)

    def extend_repr(self):
        return f"sparse={self.sparse}, reduction={self.reduction}"


class BCEWithLogitsLoss(LossBase):
    """Binary cross entropy of sigmoid(logits) against labels in [0, 1] (same shape):
    -w (pos_weight y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))), computed stably.

    ``BCEWithLogitsLoss(reduction='mean', weight=None, pos_weight=None)``: weight and pos_weight broadcast
    against the logits (pos_weight along the last dim)."""

    def __init__(self, reduction="mean", weight=None, pos_weight=None):
        super().__init__(reduction)
        for name, v in (("weight", weight), ("pos_weight", pos_weight)):
            if v is not None and not is_tensor(v):
                raise TypeError(f"BCEWithLogitsLoss: {name} must be a Tensor or None, got {type(v).__name__}")
        self.weight = weight
        self.pos_weight = pos_weight

    def construct(self, logits, labels):
        cls = "BCEWithLogitsLoss"
        _check_pair(cls, logits, labels)
        if tuple(labels.shape) != tuple(logits.shape):
            raise ValueError(f"{cls}: labels must have the logits' shape {shape_str(logits.shape)}, got "
                             f"{shape_str(labels.shape)}")
        if labels.dtype != logits.dtype:
            labels = op("cast")(labels, logits.dtype)
        if self.weight is None and self.pos_weight is None:  # one fused C op, reduction included
            return op("bce_with_logits")(logits, labels, reduction=_REDUCTION[self.reduction])
        if self.pos_weight is None:
            loss = op("bce_with_logits")(logits, labels, reduction=0)
        else:
            # -(p t log s(x) + (1 - t) log(1 - s(x))) = (1 - t) x + (1 + (p - 1) t) softplus(-x), and
            # softplus(-x) = bce_with_logits(x, 1)
            pw = op("cast")(self.pos_weight, logits.dtype)
            sp = op("bce_with_logits")(logits, op("ones_like")(logits), reduction=0)
            loss = (1.0 - labels) * logits + (1.0 + (pw - 1.0) * labels) * sp
        return self.get_loss(loss, 1.0 if self.weight is None else self.weight)
