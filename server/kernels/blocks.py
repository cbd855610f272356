"""How many rows of points a flow pushes through its chain at a time."""

from __future__ import annotations

CACHE_BYTES = 1 << 20
"""Aim for one block's widest intermediate to fit in this much (a typical per-core L2)."""
MIN_BLOCK_ROWS, MAX_BLOCK_ROWS = 1024, 16384


def block_rows(width: int, itemsize: int) -> int:
    """Rows per block when the widest per-row intermediate holds ``width`` values."""
    rows = CACHE_BYTES // (max(width, 1) * itemsize)
    return min(max(rows, MIN_BLOCK_ROWS), MAX_BLOCK_ROWS)
