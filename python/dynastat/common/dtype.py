"""Element types. The objects live in the C extension; this module names them as the seeds' API does."""
from .. import _C

dtype = _C.dtype
bool_ = _C.bool
int8 = _C.int8
uint8 = _C.uint8
int16 = _C.int16
int32 = _C.int32
int64 = _C.int64
float16 = _C.float16
bfloat16 = _C.bfloat16
float32 = _C.float32
float64 = _C.float64


def pytype_to_dtype(t):
    """The dtype for a Python type (bool, int, float) or anything dtype-like ("float32", numpy.float32)."""
    return _C.as_dtype(t)
