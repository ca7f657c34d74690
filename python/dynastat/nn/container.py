"""Containers of cells: SequentialCell (runs its cells in order) and CellList (a list of cells)."""
from collections import OrderedDict

from .cell import Cell

__all__ = ["SequentialCell", "CellList"]


def _check_cell(owner, c, where):
    if not isinstance(c, Cell):
        raise TypeError(f"{owner}: every element must be a Cell, got {type(c).__name__} at {where}")
    return c


class _CellSeq(Cell):
    """Shared list behaviour: children are keyed '0', '1', ... (or by name for an OrderedDict)."""

    def _reset(self, items):
        """Replaces the children by items [(key, cell)], keeping parameter names as they are."""
        for k in list(self._cells):
            self.__dict__.pop(k, None)
        self._cells.clear()
        for k, c in items:
            self._cells[k] = c
            self.__dict__[k] = c

    def _index(self, index):
        n = len(self._cells)
        if isinstance(index, bool) or not isinstance(index, int):
            raise TypeError(f"{self.cls_name} indices must be ints or slices, got {type(index).__name__}")
        if not -n <= index < n:
            raise IndexError(f"{self.cls_name} index {index} is out of range for {n} cells")
        return index % n

    def __len__(self):
        return len(self._cells)

    def __iter__(self):
        return iter(self._cells.values())

    def __getitem__(self, index):
        if isinstance(index, slice):
            return type(self)(list(self._cells.values())[index])
        return list(self._cells.values())[self._index(index)]

    def __setitem__(self, index, cell):
        _check_cell(self.cls_name, cell, f"index {index}")
        key = list(self._cells)[self._index(index)]
        self.insert_child_to_cell(key, cell)

    def __delitem__(self, index):
        items = list(self._cells.items())
        if isinstance(index, slice):
            del items[index]
        else:
            del items[self._index(index)]
        numbered = all(k.isdigit() for k, _ in items)
        self._reset([(str(i), c) for i, (_, c) in enumerate(items)] if numbered else items)

    def append(self, cell):
        """Adds cell at the end."""
        _check_cell(self.cls_name, cell, f"index {len(self)}")
        self.insert_child_to_cell(str(len(self)), cell)
        return self

    def insert(self, index, cell):
        """Inserts cell before position index."""
        _check_cell(self.cls_name, cell, f"index {index}")
        n = len(self)
        index = max(0, min(n, index + n if index < 0 else index))
        cells = list(self._cells.values())
        cells.insert(index, cell)
        self._reset([(str(i), c) for i, c in enumerate(cells)])
        if self._auto_prefix:  # the new cell and the ones after it are renamed by their new position
            for i in range(index, n + 1):
                cells[i].update_parameters_name(f"{i}.")
        return self

    def extend(self, cells):
        """Appends every cell of an iterable."""
        for c in cells:
            self.append(c)
        return self


class SequentialCell(_CellSeq):
    """Runs its cells in order, each on the previous one's output.

    ``SequentialCell(*cells)``, ``SequentialCell([cells])`` or ``SequentialCell(OrderedDict(name=cell))``."""

    def __init__(self, *args):
        super().__init__()
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for name, c in args[0].items():
                _check_cell("SequentialCell", c, f"key '{name}'")
                self.insert_child_to_cell(name, c)
            return
        if len(args) == 1 and isinstance(args[0], list):
            args = args[0]
        for i, c in enumerate(args):
            _check_cell("SequentialCell", c, f"index {i}")
            self.insert_child_to_cell(str(i), c)

    def construct(self, input_data):
        for c in self._cells.values():
            input_data = c(input_data)
        return input_data


class CellList(_CellSeq):
    """A list of cells, registered as sub-cells (so their parameters belong to the owner). Not callable."""

    def __init__(self, *args, **kwargs):
        super().__init__()
        if len(args) == 1 and isinstance(args[0], (list, tuple)):
            args = args[0]
        elif len(args) > 1:
            raise TypeError("CellList takes one list of cells")
        self.extend(args)

    def construct(self, *inputs):
        raise NotImplementedError("CellList is not callable: call its cells (iterate over it or index it)")
