"""Line detection (R120): does the player to move own a run of >= L markers on a line axis?

For every cell and line axis the markers of player p along the ray are gathered and
the run starting at the cell is measured with one first-False search; a line exists
iff some run reaches L. (Choosing among lines and their options is a decision with
board-dependent alternatives, left to the fallback.)
"""
from __future__ import annotations

import torch

from engine.batched.scan import _first_true
from engine.batched.state import BatchState


def has_line(bs: BatchState, p: torch.Tensor) -> torch.Tensor:
    """[B] bool: player p[b] has an eligible line in game b."""
    tb = bs.tables
    n = tb.n
    L = tb.geo.spec.line_length(bs.num_players)
    mine = bs.markers.long() == p[:, None]  # [B, N+1]
    mine[:, -1] = False
    rays = tb.rays[:n][:, list(tb.axes)]  # [N, A, R]
    B = bs.batch
    along = mine[:, rays.reshape(-1)].view(B, *rays.shape)
    run = _first_true(~along) + 1  # cells in the run starting at the cell
    return ((run >= L) & mine[:, :n, None]).flatten(1).any(1)
