"""Embedding: a lookup table of vectors, indexed by integer ids (the C op gather; its gradient is a
scatter-add into the table)."""
from .. import _util
from .._util import Parameter, op, shape_str
from ..cell import Cell
from ...common.initializer import initializer
from ...common import dtype as _dt

__all__ = ["Embedding"]

_INT = (_dt.int8, _dt.uint8, _dt.int16, _dt.int32, _dt.int64)


class Embedding(Cell):
    """Maps integer ids of any shape to vectors: output shape ids.shape + (embedding_size,).

    ``Embedding(vocab_size, embedding_size, use_one_hot=False, embedding_table='normal', dtype=int32,
    padding_idx=None)``. The table (parameter 'embedding_table', (vocab_size, embedding_size)) starts from
    embedding_table (default Normal(sigma=0.01)); the row padding_idx starts at zero. use_one_hot computes
    one_hot(ids) @ table instead of a gather (same values)."""

    def __init__(self, vocab_size, embedding_size, use_one_hot=False, embedding_table="normal", dtype=_dt.int32,
                 padding_idx=None):
        super().__init__()
        self.vocab_size = _util.check_int("Embedding", "vocab_size", vocab_size, 1)
        self.embedding_size = _util.check_int("Embedding", "embedding_size", embedding_size, 1)
        self.use_one_hot = _util.check_bool("Embedding", "use_one_hot", use_one_hot)
        self.dtype = dtype
        if padding_idx is not None:
            padding_idx = _util.check_int("Embedding", "padding_idx", padding_idx)
            if not 0 <= padding_idx < vocab_size:
                raise ValueError(f"Embedding: padding_idx must be in [0, {vocab_size}), got {padding_idx}")
        self.padding_idx = padding_idx
        table = initializer(embedding_table, [vocab_size, embedding_size])
        if padding_idx is not None:
            table = table.copy()
            table[padding_idx] = 0
        self.embedding_table = Parameter(table, name="embedding_table")

    def construct(self, ids):
        shape = getattr(ids, "shape", None)
        if shape is None:
            raise TypeError(f"Embedding: input must be a Tensor of integer ids, got {type(ids).__name__}")
        if ids.dtype not in _INT:
            raise TypeError(f"Embedding: input must be a Tensor of integer ids, got dtype {ids.dtype} "
                            f"(shape {shape_str(shape)})")
        if self.use_one_hot:
            oh = op("one_hot")(ids, self.vocab_size, 1.0, 0.0, -1, self.embedding_table.dtype)
            flat = op("reshape")(oh, (-1, self.vocab_size))
            out = op("matmul")(flat, self.embedding_table, False, False)
            return op("reshape")(out, tuple(shape) + (self.embedding_size,))
        return op("gather")(self.embedding_table, ids, 0)

    def extend_repr(self):
        return (f"vocab_size={self.vocab_size}, embedding_size={self.embedding_size}, "
                f"use_one_hot={self.use_one_hot}, embedding_table={self.embedding_table!r}, dtype={self.dtype}, "
                f"padding_idx={self.padding_idx}")
