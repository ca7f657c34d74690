"""Same as dynastat.ops._grad.grad_base (the seeds import it from either path)."""
from .._grad.grad_base import *  # noqa: F401,F403
from .._grad.grad_base import bprop_getters, binop_grad_common, Registry  # noqa: F401
