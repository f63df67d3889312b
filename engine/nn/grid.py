"""Where each board cell sits on the square grid the net sees.

Square boards are their own grid. Hex boards (cube coordinates, radius r) are
embedded in a (2r+1) x (2r+1) grid by axial coordinates: column x+r, row y+r.
Hex neighbours are then the grid steps (±1, 0), (0, ±1) and ±(1, -1), so a 3x3
convolution sees every hex neighbour (plus two non-neighbours it learns to
ignore). Grid points that are not cells are masked: the encoder writes a
validity plane and the model zeroes its activations there.

Everything here is computed once per board type and shared (`grid(board)` is cached).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from engine.geometry import Geometry, geometry


@dataclass(frozen=True)
class Grid:
    """The embedding of one board: `pos[c]` is cell c's flat position (row * width + col)."""

    board_type: str
    height: int
    width: int
    pos: np.ndarray  # (num_cells,) int64
    mask: np.ndarray  # (height, width) float32, 1 on cells

    @property
    def area(self) -> int:
        return self.height * self.width

    @property
    def num_cells(self) -> int:
        return len(self.pos)


def _grid_xy(geo: Geometry, cell: int) -> tuple[int, int]:
    """(row, col) of a cell on the grid."""
    c = geo.coords[cell]
    if geo.is_hex:
        r = geo.radius
        return c[1] + r, c[0] + r
    return c[1], c[0]


@lru_cache(maxsize=None)
def grid(board_type: str) -> Grid:
    geo = geometry(board_type)
    side = 2 * geo.radius + 1 if geo.is_hex else geo.spec.size
    pos = np.empty(geo.num_cells, dtype=np.int64)
    mask = np.zeros((side, side), dtype=np.float32)
    for c in range(geo.num_cells):
        row, col = _grid_xy(geo, c)
        pos[c] = row * side + col
        mask[row, col] = 1.0
    pos.setflags(write=False)
    mask.setflags(write=False)
    return Grid(board_type, side, side, pos, mask)
