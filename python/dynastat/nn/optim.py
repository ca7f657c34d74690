"""Optimizers (the seeds' mindspore.nn optimizers): ``optimizer(gradients)`` updates the parameters in
place with the C update ops (one op call per parameter; no element loops in Python).

Parameters are a list of Parameters or of groups ``{'params': [...], 'lr': ..., 'weight_decay': ...}``.
A learning rate is a float, a 0-d Tensor, a list / 1-D Tensor of per-step values (the last one is kept
after the list ends) or a LearningRateSchedule-like callable of the global step. Weight decay, when set,
skips parameters whose name contains 'beta' or 'gamma' (normalization shifts and scales), as the seeds'
optimizers do (except SGD, whose kernel decays every parameter)."""
import numbers

import numpy as np

from . import _util
from ._util import Parameter, op, is_tensor
from .cell import Cell
from ..common.tensor import Tensor
from ..jit import state as _jit_state

__all__ = ["Optimizer", "SGD", "Momentum", "Adam", "AdamWeightDecay", "AdamW"]


class _LearningRate:
    """One learning rate: constant, per-step list, or a schedule called with the global step."""

    def __init__(self, cls, lr):
        self.kind, self.values, self.schedule = "const", None, None
        if isinstance(lr, bool):
            raise TypeError(f"{cls}: learning_rate must be a float, a Tensor, a list or a schedule, got bool")
        if isinstance(lr, numbers.Real):
            self.values = float(lr)
        elif is_tensor(lr):
            if lr.ndim == 0:
                self.values = float(lr.item())
            elif lr.ndim == 1:
                self.kind, self.values = "list", [float(v) for v in lr.asnumpy().tolist()]
            else:
                raise ValueError(f"{cls}: a Tensor learning_rate must be 0-D or 1-D, got shape {tuple(lr.shape)}")
        elif isinstance(lr, (list, tuple)):
            if not lr or not all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in lr):
                raise TypeError(f"{cls}: a list learning_rate must be a non-empty list of floats, got {lr!r}")
            self.kind, self.values = "list", [float(v) for v in lr]
        elif callable(lr):
            self.kind, self.schedule = "schedule", lr
        else:
            raise TypeError(f"{cls}: learning_rate must be a float, a Tensor, a list or a schedule, got "
                            f"{type(lr).__name__}")
        vals = [self.values] if self.kind == "const" else (self.values or [])
        for v in vals:
            if v < 0:
                raise ValueError(f"{cls}: learning_rate must be non-negative, got {v}")

    def at(self, step):
        """The rate at `step` (an int; inside a graph being compiled, a 0-d tensor, and so is the result
        of a list or a schedule)."""
        if self.kind == "const":
            return self.values
        if is_tensor(step):
            if self.kind == "list":
                idx = op("clip")(op("cast")(step, np.int64), 0, len(self.values) - 1)
                return op("gather")(Tensor(np.array(self.values, np.float32)), idx)
            return op("cast")(self.schedule(op("cast")(step, np.int32)), np.float32)
        if self.kind == "list":
            return self.values[min(step, len(self.values) - 1)]
        v = self.schedule(Tensor(np.array(step, np.int32)))
        return float(v.item()) if is_tensor(v) else float(v)


def _update_op(name, tensors, lr, step=None, **attrs):
    """Runs update op `name`; lr and step are attributes, or (inside a graph being compiled, where they
    are tensors computed from the global step) extra tensor inputs read when the graph runs."""
    if is_tensor(lr) or is_tensor(step):
        ins = list(tensors) + [lr if is_tensor(lr) else Tensor(np.float32(lr))]
        if step is not None:
            ins.append(step if is_tensor(step) else Tensor(np.float32(step)))
        op(name)(ins, **attrs)
    elif step is None:
        op(name)(tensors, lr=lr, **attrs)
    else:
        op(name)(tensors, lr=lr, step=step, **attrs)


def _as_param_list(cls, params, what="parameters"):
    if is_tensor(params):
        params = [params]
    try:
        params = list(params)
    except TypeError:
        raise TypeError(f"{cls}: {what} must be a list of Parameters or of parameter groups (dicts), got "
                        f"{type(params).__name__}") from None
    return params


class Optimizer(Cell):
    """Base of the optimizers: parameter groups, learning rates (``get_lr()``), weight decay with the
    beta/gamma filter, gradient unscaling by loss_scale and the global step. Subclasses implement
    ``_update(i, param, grad, lr, weight_decay)`` for parameter i."""

    def __init__(self, learning_rate, parameters, weight_decay=0.0, loss_scale=1.0):
        super().__init__(auto_prefix=False)
        cls = type(self).__name__
        items = _as_param_list(cls, parameters)
        if not items:
            raise ValueError(f"{cls}: the parameter list is empty")
        self.loss_scale = _util.check_float(cls, "loss_scale", loss_scale, 0.0, None, lo_open=True)
        wd0 = self._check_wd(cls, weight_decay)
        params, lrs, wds = [], [], []
        self.is_group = all(isinstance(g, dict) for g in items)
        if self.is_group:
            for gi, group in enumerate(items):
                if "order_params" in group:
                    continue
                if "params" not in group:
                    raise ValueError(f"{cls}: parameter group {gi} has no 'params' key")
                gps = _as_param_list(cls, group["params"], f"group {gi}'s params")
                lr = _LearningRate(cls, group.get("lr", learning_rate))
                wd = self._check_wd(cls, group.get("weight_decay", weight_decay))
                for p in gps:
                    params.append(p)
                    lrs.append(lr)
                    wds.append(wd)
        elif any(isinstance(g, dict) for g in items):
            raise TypeError(f"{cls}: parameters must be all Parameters or all groups (dicts), not a mix")
        else:
            lr = _LearningRate(cls, learning_rate)
            params = items
            lrs = [lr] * len(items)
            wds = [wd0] * len(items)
        self._check_params(cls, params)
        self.__dict__["parameters"] = _util.ParameterTuple(params)
        self.__dict__["_lrs"] = lrs
        self.__dict__["_group_lrs"] = list(dict.fromkeys(lrs))
        self.__dict__["_wds"] = wds
        self.decay_flags = tuple(self._decay_filter(p) for p in params)
        self.weight_decay = wd0
        self.learning_rate = learning_rate if not isinstance(learning_rate, (numbers.Real,)) else float(learning_rate)
        self.global_step = Parameter(Tensor(np.array([0], np.int32)), name="global_step", requires_grad=False)
        self.__dict__["_trace_step"] = None

    @property
    def _step(self):
        """Updates done so far: read from global_step (graphs advance it too); during construct, the
        value read at its start (inside a graph being compiled, a 0-d float32 tensor computed from it)."""
        ts = self.__dict__.get("_trace_step")
        if ts is not None:
            return ts
        return int(self.global_step.asnumpy()[0])

    @staticmethod
    def _check_wd(cls, wd):
        if isinstance(wd, bool) or not isinstance(wd, numbers.Real):
            raise TypeError(f"{cls}: weight_decay must be a float, got {type(wd).__name__}")
        if wd < 0:
            raise ValueError(f"{cls}: weight_decay must be non-negative, got {wd}")
        return float(wd)

    @staticmethod
    def _check_params(cls, params):
        names = {}
        for i, p in enumerate(params):
            if not isinstance(p, Parameter):
                raise TypeError(f"{cls}: parameters[{i}] must be a Parameter, got {type(p).__name__}")
            if not _util.requires_grad(p):
                raise ValueError(f"{cls}: parameter '{p.name}' has requires_grad=False; pass trainable_params()")
            if p.name in names and names[p.name] is not p and p.name != _util.PARAMETER_NAME_DEFAULT:
                raise ValueError(f"{cls}: parameter name clash: two different Parameters are both named "
                                 f"'{p.name}'; give each Parameter a unique name")
            names[p.name] = p
        if len({id(p) for p in params}) != len(params):
            raise ValueError(f"{cls}: a Parameter appears more than once in the parameter list")

    @staticmethod
    def _decay_filter(p):
        name = p.name or ""
        return "beta" not in name and "gamma" not in name

    # ------------------------------------------------------------------------------------------ state
    def _state(self, prefix, fill=0.0, dtype=None):
        """One new state tensor per parameter (same shape and dtype, filled with fill), not trainable."""
        out = []
        for p in self.parameters:
            t = op("full")(tuple(p.shape), fill, dtype or p.dtype)
            out.append(Parameter(t, name=f"{prefix}.{p.name}", requires_grad=False))
        return tuple(out)

    # ------------------------------------------------------------------------------------------ lr
    def get_lr(self):
        """The learning rate of the current step (a 0-d float32 Tensor; a tuple of them with groups)."""
        vals = [Tensor(np.float32(lr.at(self._step))) for lr in self._group_lrs]
        return tuple(vals) if self.is_group else vals[0]

    def get_lr_parameter(self, param):
        """The learning rate (0-d Tensor) that applies to param (or a list of them for a list)."""
        if isinstance(param, (list, tuple)):
            return [self.get_lr_parameter(p) for p in param]
        for p, lr in zip(self.parameters, self._lrs):
            if p is param:
                return Tensor(np.float32(lr.at(self._step)))
        raise ValueError(f"{self.cls_name}.get_lr_parameter: '{getattr(param, 'name', param)}' is not one of the "
                         f"optimizer's parameters")

    # ------------------------------------------------------------------------------------------ step
    def _check_grads(self, gradients):
        if is_tensor(gradients) or not isinstance(gradients, (list, tuple)):
            raise TypeError(f"{self.cls_name}: gradients must be a tuple of Tensors (one per parameter), got "
                            f"{type(gradients).__name__}")
        n = len(self.parameters)
        if len(gradients) != n:
            raise ValueError(f"{self.cls_name}: got {len(gradients)} gradients for {n} parameters")
        for p, g in zip(self.parameters, gradients):
            if not is_tensor(g) or tuple(g.shape) != tuple(p.shape):
                got = tuple(g.shape) if is_tensor(g) else type(g).__name__
                raise ValueError(f"{self.cls_name}: the gradient of '{p.name}' must have shape {tuple(p.shape)}, "
                                 f"got {got}")

    def construct(self, gradients):
        self._check_grads(gradients)
        if _jit_state.active and _jit_state.tracing():
            # inside a graph being compiled the step is a tensor read from global_step when the graph
            # runs, so the compiled update stays right at every step
            comp = _jit_state.current()
            comp.bind_parameter(self.global_step)
            self._update_all(gradients, op("cast")(op("reshape")(self.global_step, ()), np.float32))
            comp.assign_parameter(self.global_step, self.global_step + 1)
            return True
        with _util.autograd().no_grad():
            step = self._step
            self._update_all(gradients, step)
            self.global_step[...] = step + 1
        return True

    def _update_all(self, gradients, step):
        """One _update per parameter at `step` (read once per call: _step returns it meanwhile)."""
        inv_scale = 1.0 / self.loss_scale
        self.__dict__["_trace_step"] = step
        try:
            for i, (p, g) in enumerate(zip(self.parameters, gradients)):
                if g.dtype != p.dtype:
                    g = op("cast")(g, p.dtype)
                if inv_scale != 1.0:
                    g = g * inv_scale
                wd = self._wds[i] if self.decay_flags[i] or self._decay_all else 0.0
                self._update(i, p, g, self._lrs[i].at(step), wd)
        finally:
            self.__dict__["_trace_step"] = None

    _decay_all = False

    def _update(self, i, param, grad, lr, weight_decay):
        raise NotImplementedError(f"{self.cls_name} does not implement _update")


class SGD(Optimizer):
    """Stochastic gradient descent with momentum (PyTorch's formula, as the seeds' SGD kernel):
    g = grad + weight_decay * p; accum = g on the first step, then momentum * accum + (1 - dampening) * g;
    p -= lr * (g + momentum * accum if nesterov else accum) (p -= lr * g when momentum is 0).

    ``SGD(params, learning_rate=0.1, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False,
    loss_scale=1.0)``; weight decay applies to every parameter."""

    _decay_all = True

    def __init__(self, params, learning_rate=0.1, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False,
                 loss_scale=1.0):
        super().__init__(learning_rate, params, weight_decay, loss_scale)
        self.momentum = _util.check_float("SGD", "momentum", momentum, 0.0)
        self.dampening = _util.check_float("SGD", "dampening", dampening, 0.0)
        self.nesterov = _util.check_bool("SGD", "nesterov", nesterov)
        if self.nesterov and (self.momentum <= 0.0 or self.dampening != 0.0):
            raise ValueError("SGD: nesterov needs momentum > 0 and dampening == 0")
        # the momentum buffers (no state without momentum: the op then neither reads nor writes it)
        self.__dict__["accum"] = self._state("accum") if self.momentum > 0 else None

    def _update(self, i, param, grad, lr, weight_decay):
        buf = self.accum[i] if self.accum is not None else grad
        _update_op("sgd_update", [param, grad, buf], lr, self._step + 1, momentum=self.momentum,
                   dampening=self.dampening, nesterov=self.nesterov, weight_decay=weight_decay)


class Momentum(Optimizer):
    """Momentum SGD (the seeds' ApplyMomentum): accum = momentum * accum + g (g with weight decay);
    p -= lr * accum, or with use_nesterov p -= lr * (g + momentum * accum).

    ``Momentum(params, learning_rate, momentum, weight_decay=0.0, loss_scale=1.0, use_nesterov=False)``."""

    def __init__(self, params, learning_rate, momentum, weight_decay=0.0, loss_scale=1.0, use_nesterov=False):
        super().__init__(learning_rate, params, weight_decay, loss_scale)
        self.momentum = _util.check_float("Momentum", "momentum", momentum, 0.0)
        self.use_nesterov = _util.check_bool("Momentum", "use_nesterov", use_nesterov)
        self.__dict__["moments"] = self._state("moments")

    def _update(self, i, param, grad, lr, weight_decay):
        _update_op("momentum_update", [param, grad, self.moments[i]], lr, momentum=self.momentum,
                   nesterov=self.use_nesterov, weight_decay=weight_decay)


def _check_betas(cls, beta1, beta2, eps):
    b1 = _util.check_float(cls, "beta1", beta1, 0.0, 1.0, hi_open=True)
    b2 = _util.check_float(cls, "beta2", beta2, 0.0, 1.0, hi_open=True)
    e = _util.check_float(cls, "eps", eps, 0.0, None, lo_open=True)
    return b1, b2, e


class Adam(Optimizer):
    """Adam (the seeds' ApplyAdam): g with L2 weight decay; m += (1 - beta1)(g - m); v += (1 - beta2)(g^2 - v);
    p -= lr * sqrt(1 - beta2^t) / (1 - beta1^t) * m / (sqrt(v) + eps) (eps outside the bias correction).
    use_nesterov uses beta1 * m + (1 - beta1) * g for m; use_amsgrad the running maximum of v.

    ``Adam(params, learning_rate=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, use_locking=False,
    use_nesterov=False, weight_decay=0.0, loss_scale=1.0, use_amsgrad=False)``."""

    def __init__(self, params, learning_rate=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, use_locking=False,
                 use_nesterov=False, weight_decay=0.0, loss_scale=1.0, use_amsgrad=False):
        super().__init__(learning_rate, params, weight_decay, loss_scale)
        self.beta1, self.beta2, self.eps = _check_betas("Adam", beta1, beta2, eps)
        self.use_locking = _util.check_bool("Adam", "use_locking", use_locking)
        self.use_nesterov = _util.check_bool("Adam", "use_nesterov", use_nesterov)
        self.use_amsgrad = _util.check_bool("Adam", "use_amsgrad", use_amsgrad)
        if self.use_nesterov and self.use_amsgrad:
            raise ValueError("Adam: use_nesterov and use_amsgrad cannot both be True")
        self.__dict__["moment1"] = self._state("moment1")
        self.__dict__["moment2"] = self._state("moment2")
        self.__dict__["vhat"] = self._state("vhat") if self.use_amsgrad else None

    @property
    def beta1_power(self):
        return self.beta1 ** self._step

    @property
    def beta2_power(self):
        return self.beta2 ** self._step

    def _update(self, i, param, grad, lr, weight_decay):
        t = self._step + 1
        # the seeds' ApplyAdam folds the bias corrections into lr (eps stays outside): the op's step=0 form
        lr_t = lr * (1.0 - self.beta2 ** t) ** 0.5 / (1.0 - self.beta1 ** t)
        m, v = self.moment1[i], self.moment2[i]
        if self.use_nesterov:
            self._nesterov_update(param, grad, m, v, lr_t, weight_decay)
            return
        extra = (self.vhat[i],) if self.use_amsgrad else ()
        _update_op("adam_update", [param, grad, m, v, *extra], lr_t, 0, beta1=self.beta1, beta2=self.beta2,
                   eps=self.eps, weight_decay=weight_decay, decoupled=False, amsgrad=self.use_amsgrad)

    def _nesterov_update(self, param, grad, m, v, lr_t, weight_decay):
        """use_nesterov (no fused op): m, v as Adam; p -= lr_t (beta1 m + (1 - beta1) g) / (sqrt(v) + eps)."""
        b1, b2 = self.beta1, self.beta2
        g = grad + param * weight_decay if weight_decay else grad
        m[...] = m + (g - m) * (1.0 - b1)
        v[...] = v * b2 + g * g * (1.0 - b2)
        num = m * b1 + g * (1.0 - b1)
        param[...] = param - num * lr_t / (op("sqrt")(v) + self.eps)


class AdamWeightDecay(Optimizer):
    """Adam with decoupled weight decay and no bias correction (the seeds' AdamWeightDecay):
    m = beta1 m + (1 - beta1) g; v = beta2 v + (1 - beta2) g^2;
    p -= lr * (m / (sqrt(v) + eps) + weight_decay * p).

    ``AdamWeightDecay(params, learning_rate=1e-3, beta1=0.9, beta2=0.999, eps=1e-6, weight_decay=0.0)``."""

    def __init__(self, params, learning_rate=1e-3, beta1=0.9, beta2=0.999, eps=1e-6, weight_decay=0.0):
        super().__init__(learning_rate, params, weight_decay)
        self.beta1, self.beta2, self.eps = _check_betas("AdamWeightDecay", beta1, beta2, eps)
        self.__dict__["moments1"] = self._state("adam_m")
        self.__dict__["moments2"] = self._state("adam_v")

    def _update(self, i, param, grad, lr, weight_decay):
        # p - lr (m / (sqrt(v) + eps) + wd p) == p (1 - lr wd) - lr m / (sqrt(v) + eps): the op's decoupled,
        # uncorrected (step=0) form
        _update_op("adam_update", [param, grad, self.moments1[i], self.moments2[i]], lr, 0, beta1=self.beta1,
                   beta2=self.beta2, eps=self.eps, weight_decay=weight_decay, decoupled=True, amsgrad=False)


class AdamW(Optimizer):
    """AdamW (Loshchilov & Hutter; PyTorch's formula, as the seeds' experimental.optim.AdamW):
    p *= 1 - lr * weight_decay; m, v as Adam; p -= lr / (1 - beta1^t) * m / (sqrt(v / (1 - beta2^t)) + eps).

    ``AdamW(params, learning_rate=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=1e-2, amsgrad=False)``;
    also accepts ``lr=`` and ``betas=(beta1, beta2)``. Weight decay applies to every parameter."""

    _decay_all = True

    def __init__(self, params, learning_rate=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, lr=None, betas=None):
        if lr is not None:
            learning_rate = lr
        if betas is not None:
            beta1, beta2 = betas
        super().__init__(learning_rate, params, weight_decay)
        self.beta1, self.beta2, self.eps = _check_betas("AdamW", beta1, beta2, eps)
        self.amsgrad = _util.check_bool("AdamW", "amsgrad", amsgrad)
        self.__dict__["exp_avg"] = self._state("exp_avg")
        self.__dict__["exp_avg_sq"] = self._state("exp_avg_sq")
        self.__dict__["max_exp_avg_sq"] = self._state("max_exp_avg_sq") if self.amsgrad else None

    def _update(self, i, param, grad, lr, weight_decay):
        extra = (self.max_exp_avg_sq[i],) if self.amsgrad else ()
        _update_op("adam_update", [param, grad, self.exp_avg[i], self.exp_avg_sq[i], *extra], lr, self._step + 1,
                   beta1=self.beta1, beta2=self.beta2, eps=self.eps, weight_decay=weight_decay, decoupled=True,
                   amsgrad=self.amsgrad)
