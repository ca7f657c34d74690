"""Gradient definitions of ops written in Python (the seeds' ``mindspore.ops._grad``): see grad_base."""
from .grad_base import bprop_getters, binop_grad_common  # noqa: F401
