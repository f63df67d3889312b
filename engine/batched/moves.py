"""The flat action index of the vectorized phases, and decoding it to `engine.moves.Move`.

One index space per board, shared by every vectorized phase so that one legal mask
[B, A] and one argmax choose every game's move in a step:

  PLACE   N*3      place_ring on cell c with k rings:      c*3 + (k-1)
  MOVE    N*D*R    move_stack from c along direction d,     MOVE0 + (c*D + d)*R + i
                   landing on the i-th ray cell (distance i+1)
  CAPT    N*D*R    capture from c along d landing on the    CAPT0 + (c*D + d)*R + i
                   i-th ray cell (the target is the first stack on that ray, recorded
                   beside the index because it depends on the board)
  SPECIAL 6        skip_placement, no_placement_action, skip_capture, no_movement_action,
                   no_line_action, no_territory_action

Capture indices decode to overtaking_capture, or continue_capture_segment in the
chain_capture phase.
"""
from __future__ import annotations

from dataclasses import dataclass

from engine.batched.state import CHAIN_CAPTURE
from engine.batched.tables import BoardTables
from engine.moves import Move

SPECIALS = ("skip_placement", "no_placement_action", "skip_capture", "no_movement_action",
            "no_line_action", "no_territory_action")
SKIP_PLACEMENT, NO_PLACEMENT, SKIP_CAPTURE, NO_MOVEMENT, NO_LINE, NO_TERRITORY = range(6)


@dataclass(frozen=True)
class Layout:
    n: int
    d: int
    r: int

    @property
    def move0(self) -> int:
        return self.n * 3

    @property
    def capt0(self) -> int:
        return self.move0 + self.n * self.d * self.r

    @property
    def special0(self) -> int:
        return self.capt0 + self.n * self.d * self.r

    @property
    def size(self) -> int:
        return self.special0 + len(SPECIALS)


def layout(tb: BoardTables) -> Layout:
    return Layout(tb.n, tb.d, tb.r)


def decode(tb: BoardTables, a: int, player: int, phase: int, target: int) -> Move:
    """The Move of action index `a` played by `player` in `phase` (`target`: capture target)."""
    lo = layout(tb)
    keys = tb.geo.keys
    rays = tb.geo.rays
    if a < lo.move0:
        return Move("place_ring", player, keys[a // 3], count=a % 3 + 1)
    if a < lo.special0:
        capture = a >= lo.capt0
        rel = a - (lo.capt0 if capture else lo.move0)
        cd, i = divmod(rel, lo.r)
        c, d = divmod(cd, lo.d)
        to = keys[rays[c][d][i]]
        if not capture:
            return Move("move_stack", player, to, keys[c])
        kind = "continue_capture_segment" if phase == CHAIN_CAPTURE else "overtaking_capture"
        return Move(kind, player, to, keys[c], keys[target])
    return Move(SPECIALS[a - lo.special0], player)
