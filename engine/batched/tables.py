"""Board geometry as index tensors, built once per (board, device).

The reference engine walks Python tuples of rays; the batched engine gathers along
the same rays with one tensor index. Every table is padded with a sentinel cell
(index N = num_cells) so that rays of different lengths share one rectangular
shape: per-cell state tensors have N + 1 columns and the sentinel column is kept
"collapsed", which stops every ray walk exactly where the board edge stops the
reference walk.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import torch

from engine.geometry import Geometry, geometry


@dataclass(frozen=True)
class BoardTables:
    """Index tensors of one board on one device (cells 0..N-1, sentinel N)."""

    geo: Geometry
    device: torch.device
    n: int  # cells
    d: int  # movement / line directions
    r: int  # longest ray
    rays: torch.Tensor  # [N+1, D, R] long; sentinel-padded (row N is all sentinel)
    rays_ext: torch.Tensor  # [N+1, D, R+1]: rays plus one sentinel column (index R = none)
    ray_len: torch.Tensor  # [N+1, D] long
    terr_adj: torch.Tensor  # [N+1, K] long; territory neighbours, sentinel-padded
    moore: torch.Tensor  # [N+1, 8] long; (x, y) 8-neighbours for border-marker expansion
    axes: tuple[int, ...]  # line axes (direction indices)
    opposite: tuple[int, ...]


def _pad(rows: list[list[int]], width: int, fill: int) -> list[list[int]]:
    return [list(r) + [fill] * (width - len(r)) for r in rows]


@lru_cache(maxsize=None)
def board_tables(board_type: str, device: str = "cpu") -> BoardTables:
    """The tables for `board_type` on `device` (cached)."""
    geo = geometry(board_type)
    n, nd = geo.num_cells, geo.num_dirs
    rmax = max(len(ray) for per in geo.rays for ray in per)
    rays = [[_pad([list(ray)], rmax, n)[0] for ray in per] for per in geo.rays]
    rays.append([[n] * rmax for _ in range(nd)])
    ray_len = [[len(ray) for ray in per] for per in geo.rays] + [[0] * nd]
    kt = max(len(a) for a in geo.terr_adj)
    terr = _pad([list(a) for a in geo.terr_adj], kt, n) + [[n] * kt]
    moore = _pad([list(a) for a in geo.moore_xy], 8, n) + [[n] * 8]
    dev = torch.device(device)
    t = lambda v: torch.tensor(v, dtype=torch.long, device=dev)  # noqa: E731
    return BoardTables(
        geo=geo, device=dev, n=n, d=nd, r=rmax, rays=t(rays),
        rays_ext=t([[row + [n] for row in per] for per in rays]), ray_len=t(ray_len),
        terr_adj=t(terr), moore=t(moore), axes=tuple(geo.axes), opposite=tuple(geo.opposite),
    )
