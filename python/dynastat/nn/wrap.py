"""Training wrappers: WithLossCell (network + loss), WithEvalCell, TrainOneStepCell (forward, gradients
through dynastat.value_and_grad with respect to the optimizer's parameters, optimizer update)."""
from . import _util
from .cell import Cell

__all__ = ["WithLossCell", "WithEvalCell", "TrainOneStepCell"]


class WithLossCell(Cell):
    """loss_fn(backbone(data), label). ``WithLossCell(backbone, loss_fn)``; parameter names are the
    backbone's (no prefix)."""

    def __init__(self, backbone, loss_fn):
        super().__init__(auto_prefix=False)
        if not isinstance(backbone, Cell):
            raise TypeError(f"WithLossCell: backbone must be a Cell, got {type(backbone).__name__}")
        if not callable(loss_fn):
            raise TypeError(f"WithLossCell: loss_fn must be a Cell or a callable, got {type(loss_fn).__name__}")
        self._backbone = backbone
        self._loss_fn = loss_fn

    def construct(self, data, label):
        return self._loss_fn(self._backbone(data), label)

    @property
    def backbone_network(self):
        return self._backbone


class WithEvalCell(Cell):
    """(loss, outputs, label) of a network on one batch, for evaluation."""

    def __init__(self, network, loss_fn, add_cast_fp32=False):
        super().__init__(auto_prefix=False)
        self._network = network
        self._loss_fn = loss_fn
        self.add_cast_fp32 = add_cast_fp32

    def construct(self, data, label):
        outputs = self._network(data)
        if self.add_cast_fp32:
            from ..common import dtype as _dt
            outputs = _util.op("cast")(outputs, _dt.float32)
            label = _util.op("cast")(label, _dt.float32)
        return self._loss_fn(outputs, label), outputs, label


class TrainOneStepCell(Cell):
    """One training step: loss = network(*inputs); gradients of loss * sens with respect to
    optimizer.parameters; optimizer(gradients); returns the loss.

    ``TrainOneStepCell(network, optimizer, sens=1.0)``: network is usually a WithLossCell (its output is
    the loss); the cell is put in training mode."""

    def __init__(self, network, optimizer, sens=1.0, return_grad=False):
        super().__init__(auto_prefix=False)
        if not isinstance(network, Cell):
            raise TypeError(f"TrainOneStepCell: network must be a Cell, got {type(network).__name__}")
        params = getattr(optimizer, "parameters", None)
        if params is None or not callable(optimizer):
            raise TypeError(f"TrainOneStepCell: optimizer must be an optimizer (nn.SGD, nn.Adam, ...), got "
                            f"{type(optimizer).__name__}")
        self.network = network
        self.network.set_grad()
        self.network.check_names()
        self.optimizer = optimizer
        self.weights = params
        if sens is None:
            sens = 1.0
        self.sens = _util.check_float("TrainOneStepCell", "sens", sens)
        self.return_grad = bool(return_grad)
        self.set_train()
        self.__dict__["_grad_fn"] = _util.autograd().value_and_grad(self.network, None, self.weights)

    def construct(self, *inputs):
        loss, grads = self._grad_fn(*inputs)
        if self.sens != 1.0:
            grads = tuple(g * self.sens for g in grads)
        self.optimizer(grads)
        if self.return_grad:
            return loss, grads
        return loss
