"""The flat action index of the vectorized phases, and decoding it to `engine.moves.Move`.

One index space per board, shared by every vectorized phase so that one legal mask
[B, A] and one argmax choose every game's move in a step:

  PLACE   N*3      place_ring on cell c with k rings:      c*3 + (k-1)
  MOVE    N*D*R    move_stack from c along direction d,     MOVE0 + (c*D + d)*R + i
                   landing on the i-th ray cell (distance i+1)
  CAPT    N*D*R    capture from c along d landing on the    CAPT0 + (c*D + d)*R + i
                   i-th ray cell (the target is the first stack on that ray, recorded
                   beside the index because it depends on the board)
  REGION  W*N      choose_territory_option: the component rooted at cell c of fill w
                   (W = P + 1 fills, territory.py), REGION0 + w*N + c; its cell set is
                   recorded beside the index
  ELIM    N        eliminate_rings_from_stack (territory context) on cell c
  FORCED  N        forced_elimination on cell c
  LINE    N*A*O    the line starting at cell c along line axis a, option o (lines.py):
                   process_line, Option 1, or the Option-2 window o - 2; its length is
                   recorded beside the index
  LELIM   N        eliminate_rings_from_stack (line context) on cell c
  REC     N*D*K    recovery_slide of p's marker on c along d, slot k (recovery.py); its
                   mode, extraction stack and collapsed cells are recorded beside it
  RELIM   N        eliminate_rings_from_stack (recovery context) on cell c
  SPECIAL 8        skip_placement, no_placement_action, skip_capture, no_movement_action,
                   no_line_action, no_territory_action, skip_territory_processing,
                   skip_recovery

Capture indices decode to overtaking_capture, or continue_capture_segment in the
chain_capture phase.
"""
from __future__ import annotations

from dataclasses import dataclass

from engine.batched.state import CHAIN_CAPTURE
from engine.batched.tables import BoardTables
from engine.moves import Move

SPECIALS = ("skip_placement", "no_placement_action", "skip_capture", "no_movement_action",
            "no_line_action", "no_territory_action", "skip_territory_processing", "skip_recovery")
(SKIP_PLACEMENT, NO_PLACEMENT, SKIP_CAPTURE, NO_MOVEMENT, NO_LINE, NO_TERRITORY,
 SKIP_TERRITORY, SKIP_RECOVERY) = range(8)
RECOVERY_MODES = ("line", "fallback", "stack_strike")


@dataclass(frozen=True)
class Layout:
    n: int
    d: int
    r: int
    w: int
    a: int  # line axes
    o: int  # line options per (cell, axis): process_line, whole line, windows
    k: int  # recovery slots per slide

    @property
    def move0(self) -> int:
        return self.n * 3

    @property
    def capt0(self) -> int:
        return self.move0 + self.n * self.d * self.r

    @property
    def region0(self) -> int:
        return self.capt0 + self.n * self.d * self.r

    @property
    def elim0(self) -> int:
        return self.region0 + self.w * self.n

    @property
    def forced0(self) -> int:
        return self.elim0 + self.n

    @property
    def line0(self) -> int:
        return self.forced0 + self.n

    @property
    def lelim0(self) -> int:
        return self.line0 + self.n * self.a * self.o

    @property
    def rec0(self) -> int:
        return self.lelim0 + self.n

    @property
    def relim0(self) -> int:
        return self.rec0 + self.n * self.d * self.k

    @property
    def special0(self) -> int:
        return self.relim0 + self.n

    @property
    def size(self) -> int:
        return self.special0 + len(SPECIALS)


def layout(tb: BoardTables, num_players: int) -> Layout:
    L = tb.geo.spec.line_length(num_players)
    return Layout(tb.n, tb.d, tb.r, num_players + 1, len(tb.axes), line_windows(tb, num_players) + 2,
                  1 + max(1, tb.r + 2 - L))


def line_windows(tb: BoardTables, num_players: int) -> int:
    """Most Option-2 windows a line can have: runs are at most R + 1 long."""
    return max(1, tb.r + 1 - tb.geo.spec.collapse_length(num_players) + 1)


def decode(tb: BoardTables, num_players: int, a: int, player: int, phase: int, target: int,
           region: list[int] | None = None, recovery: tuple[int, int, list[int]] | None = None) -> Move:
    """The Move of action index `a` played by `player` in `phase` (`target`: capture target
    or line length, `region`: a chosen region's cells, `recovery`: (mode, extraction
    stack, collapsed cells) of a recovery slide)."""
    lo = layout(tb, num_players)
    keys = tb.geo.keys
    rays = tb.geo.rays
    if a < lo.move0:
        return Move("place_ring", player, keys[a // 3], count=a % 3 + 1)
    if lo.region0 <= a < lo.elim0:
        rk = frozenset(keys[c] for c in region or ())
        return Move("choose_territory_option", player, keys[min(region or [0])], region=rk)
    if lo.elim0 <= a < lo.forced0:
        return Move("eliminate_rings_from_stack", player, keys[a - lo.elim0], context="territory")
    if lo.forced0 <= a < lo.line0:
        return Move("forced_elimination", player, keys[a - lo.forced0])
    if lo.line0 <= a < lo.lelim0:
        c, rest = divmod(a - lo.line0, lo.a * lo.o)
        ax, o = divmod(rest, lo.o)
        line = [c] + list(rays[c][tb.axes[ax]][: target - 1])  # target: the line's length
        lk = tuple(keys[x] for x in line)
        if o == 0:
            return Move("process_line", player, lk[0], line=lk)
        if o == 1:
            return Move("choose_line_option", player, lk[0], line=lk, cells=lk)
        L2 = tb.geo.spec.collapse_length(num_players)
        win = lk[o - 2: o - 2 + L2]
        return Move("choose_line_option", player, win[0], line=lk, cells=win)
    if lo.lelim0 <= a < lo.rec0:
        return Move("eliminate_rings_from_stack", player, keys[a - lo.lelim0], context="line")
    if lo.rec0 <= a < lo.relim0:
        cd, slot = divmod(a - lo.rec0, lo.k)
        c, d = divmod(cd, lo.d)
        mode, e, cells = recovery or (0, 0, [])
        to, frm = keys[rays[c][d][0]], keys[c]
        if slot > 0:
            return Move("recovery_slide", player, to, frm, mode="line", option=2,
                        cells=tuple(keys[x] for x in cells), extraction=())
        return Move("recovery_slide", player, to, frm, mode=RECOVERY_MODES[mode],
                    option=1 if mode == 0 else None, extraction=(keys[e],))
    if lo.relim0 <= a < lo.special0:
        return Move("eliminate_rings_from_stack", player, keys[a - lo.relim0], context="recovery")
    if a < lo.region0:
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
