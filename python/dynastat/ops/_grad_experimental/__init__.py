"""The seeds' other spelling of the gradient registry path (mindspore.ops._grad_experimental)."""
from .._grad.grad_base import bprop_getters, binop_grad_common  # noqa: F401
