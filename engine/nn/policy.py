"""Move <-> fixed policy index, per board.

The policy is a stack of planes over the board's grid (engine.nn.grid) followed
by a short tail of cell-less moves, so the net's policy head can be a 1x1
convolution: index = plane * grid_area + grid_position(cell), or
spatial_size + tail slot. Planes, in order:

  place      3              place_ring at the cell, count 1..3
  stack      D x R          from-cell, direction, distance 1..R (R = longest ray):
                            move_stack when no stack lies strictly between, else a
                            capture whose target is the first stack on the ray and
                            whose landing is the cell at that distance. The phase
                            says which capture type (overtaking / continue segment).
  eliminate  1              eliminate_rings_from_stack (context = the pending
                            decision) or forced_elimination (in that phase) at the stack
  line       3 x A          per line axis: process_line and Option 1 at the line's
                            first cell (in axis order), Option 2 at its window's first cell
  territory  5              choose_territory_option at the region's lowest cell index,
                            slot = rank among the processable regions sharing that
                            lowest cell, ordered by (size, sorted cells); at most one
                            region per flood fill (marker colours + one) holds a cell,
                            so five slots always suffice
  recovery   D x (4 + K)    recovery_slide from the marker's cell in direction d:
                            slots 0..3 = Option 2 line windows by the offset of the
                            destination inside the window; slots 4.. = the cost's
                            extraction stack by rank among the player's extraction
                            stacks in cell order (mode follows from the board:
                            stack-strike onto a stack, line Option 1 when the slide
                            forms a line, else fallback)
  tail                      skip / no-action / swap / resign / timeout, one slot per type

Canonical choices above are relative to the state, so the same index can mean
different moves in different states; `move_of` therefore takes the state.

The one capacity limit is the recovery cost: the legal recoveries are every slide
times every extraction stack, a product no fixed-size vector linear in the board
can index. K is the rings per player on square8 and hex8 (exact: each extraction
stack holds one of the player's rings), and 24 / 32 on square19 / hexagonal, where
random play reached 13. A recovery whose extraction stack ranks K or later cannot
be indexed: index_of raises PolicyIndexError, `indices_of(strict=False)` gives -1,
and the evaluator gives such moves the smallest indexed prior.
"""
from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from engine.geometry import geometry
from engine.moves import CAPTURE_MOVES, Move
from engine.nn.grid import grid
from engine.rules import legal_moves
from engine.rules.lines import find_lines, line_length
from engine.rules.recovery import extraction_stacks
from engine.rules.territory import processable_regions
from engine.state import GameState

POLICY_VERSION = 1
TERRITORY_SLOTS = 5
RECOVERY_WINDOW_SLOTS = 4
EXTRACTION_SLOTS = {"square8": 18, "hex8": 18, "square19": 24, "hexagonal": 32}
TAIL_TYPES = (
    "skip_placement", "no_placement_action", "swap_sides", "skip_capture", "no_movement_action",
    "skip_recovery", "no_line_action", "skip_territory_processing", "no_territory_action",
    "resign", "timeout",
)
_TAIL = {t: i for i, t in enumerate(TAIL_TYPES)}


class PolicyIndexError(ValueError):
    """A move has no policy index in this state, or an index denotes no legal move."""


class PolicyLayout:
    """Plane offsets and sizes of one board's policy vector."""

    def __init__(self, board_type: str):
        geo = geometry(board_type)
        g = grid(board_type)
        self.board_type = board_type
        self.geo, self.grid = geo, g
        self.area = g.area
        self.num_dirs = geo.num_dirs
        self.max_dist = max(len(ray) for rays in geo.rays for ray in rays)
        self.num_axes = len(geo.axes)
        self.place = 0
        self.stack = self.place + 3
        self.eliminate = self.stack + self.num_dirs * self.max_dist
        self.line = self.eliminate + 1
        self.territory = self.line + 3 * self.num_axes
        self.recovery = self.territory + TERRITORY_SLOTS
        self.extraction_slots = EXTRACTION_SLOTS[board_type]
        self.recovery_slots = RECOVERY_WINDOW_SLOTS + self.extraction_slots
        self.num_planes = self.recovery + self.num_dirs * self.recovery_slots
        self.spatial_size = self.num_planes * self.area
        self.tail_size = len(TAIL_TYPES)
        self.size = self.spatial_size + self.tail_size
        cell_at = np.full(self.area, -1, np.int64)
        cell_at[g.pos] = np.arange(g.num_cells)
        self.cell_at = cell_at

    def index(self, plane: int, cell: int) -> int:
        return plane * self.area + int(self.grid.pos[cell])

    def split(self, index: int) -> tuple[int, int]:
        """(plane, cell) of a spatial index; cell is -1 off the board."""
        return index // self.area, int(self.cell_at[index % self.area])


@lru_cache(maxsize=None)
def layout(board_type: str) -> PolicyLayout:
    return PolicyLayout(board_type)


def policy_size(board_type: str) -> int:
    return layout(board_type).size


class _Context:
    """What several moves of one state share (lines, regions, extraction stacks), computed lazily."""

    def __init__(self, state: GameState):
        self.s = state
        self.p = state.current_player
        self._lines: list[tuple[int, ...]] | None = None
        self._regions: dict[int, list[frozenset[int]]] | None = None
        self._extract: list[int] | None = None

    @property
    def lines(self) -> list[tuple[int, ...]]:
        if self._lines is None:
            self._lines = find_lines(self.s, self.p)
        return self._lines

    @property
    def regions(self) -> dict[int, list[frozenset[int]]]:
        """Processable regions grouped by lowest cell, each group in canonical order."""
        if self._regions is None:
            groups: dict[int, list[frozenset[int]]] = {}
            for r in processable_regions(self.s, self.p):
                groups.setdefault(min(r), []).append(r)
            for rs in groups.values():
                rs.sort(key=lambda r: (len(r), sorted(r)))
            self._regions = groups
        return self._regions

    @property
    def extract(self) -> list[int]:
        if self._extract is None:
            self._extract = extraction_stacks(self.s, self.p)
        return self._extract

    def line_axis(self, line: tuple[int, ...]) -> int:
        d, _ = self.s.geo.direction_between(line[0], line[1])
        return self.s.geo.axes.index(d)

    def find_line(self, cells: frozenset[int]) -> tuple[int, ...]:
        for line in self.lines:
            if frozenset(line) == cells:
                return line
        raise PolicyIndexError("the move's line is not an eligible line of the player to move")


def slide_line(s: GameState, frm: int, to: int, player: int) -> tuple[int, ...]:
    """The line the engine credits to a recovery slide frm -> to (the longest run through
    `to` after the slide, first axis on ties), computed without touching the state."""
    geo, markers = s.geo, s.markers

    def mine(c: int) -> bool:
        return c == to or (c != frm and markers[c] == player)

    best: tuple[int, ...] = ()
    for d in geo.axes:
        back = []
        for c in geo.rays[to][geo.opposite[d]]:
            if not mine(c):
                break
            back.append(c)
        fwd = []
        for c in geo.rays[to][d]:
            if not mine(c):
                break
            fwd.append(c)
        run = tuple(reversed(back)) + (to,) + tuple(fwd)
        if len(run) > len(best):
            best = run
    return best


def _index(lay: PolicyLayout, ctx: _Context, m: Move) -> int:
    s, geo = ctx.s, ctx.s.geo
    index = geo.index
    t = m.type
    if t in _TAIL:
        return lay.spatial_size + _TAIL[t]
    if t == "place_ring":
        if not 1 <= m.count <= 3:
            raise PolicyIndexError(f"placement count {m.count} outside 1..3")
        return lay.index(lay.place + m.count - 1, index[m.to])
    if t == "move_stack" or t in CAPTURE_MOVES:
        frm = index[m.frm]
        d, dist = geo.direction_between(frm, index[m.to])
        return lay.index(lay.stack + d * lay.max_dist + dist - 1, frm)
    if t in ("eliminate_rings_from_stack", "forced_elimination"):
        return lay.index(lay.eliminate, index[m.to])
    if t in ("process_line", "choose_line_option"):
        line = ctx.find_line(frozenset(index[k] for k in m.line or ()))
        base = lay.line + 3 * ctx.line_axis(line)
        cells = frozenset(index[k] for k in (m.cells or ())) if t == "choose_line_option" else None
        if cells is None or cells == frozenset(line):
            return lay.index(base + (0 if t == "process_line" else 1), line[0])
        start = min(line.index(c) for c in cells)
        return lay.index(base + 2, line[start])
    if t == "choose_territory_option":
        if m.region is None:
            raise PolicyIndexError("choose_territory_option without a region has no policy index")
        region = frozenset(index[k] for k in m.region)
        group = ctx.regions.get(min(region), [])
        if region not in group:
            raise PolicyIndexError("the move's region is not processable by the player to move")
        rank = group.index(region)
        if rank >= TERRITORY_SLOTS:
            raise PolicyIndexError(f"region rank {rank} beyond {TERRITORY_SLOTS} slots")
        return lay.index(lay.territory + rank, min(region))
    if t == "recovery_slide":
        frm, to = index[m.frm], index[m.to]
        d, _ = geo.direction_between(frm, to)
        if m.mode == "line" and m.option == 2:
            line = slide_line(s, frm, to, ctx.p)
            window = [index[k] for k in m.cells or ()]
            slot = line.index(to) - min(line.index(c) for c in window)
        else:
            if not m.extraction:
                raise PolicyIndexError("recovery_slide without its extraction stack has no policy index")
            rank = ctx.extract.index(index[m.extraction[0]])
            if rank >= lay.extraction_slots:
                raise PolicyIndexError(f"extraction stack rank {rank} beyond {lay.extraction_slots} slots")
            slot = RECOVERY_WINDOW_SLOTS + rank
        return lay.index(lay.recovery + d * lay.recovery_slots + slot, frm)
    raise PolicyIndexError(f"move type {t!r} has no policy index")


def index_of(state: GameState, move: Move) -> int:
    """The policy index of `move` (a legal move of `state`)."""
    try:
        return _index(layout(state.board_type), _Context(state), move)
    except (KeyError, TypeError, ValueError) as e:
        if isinstance(e, PolicyIndexError):
            raise
        raise PolicyIndexError(f"{move!r} cannot be indexed in this state: {e!r}") from None


def indices_of(state: GameState, moves: Sequence[Move], *, strict: bool = True) -> np.ndarray:
    """Policy indices of many moves of one state (shared work done once); -1 for a move
    without an index when not strict."""
    lay, ctx = layout(state.board_type), _Context(state)
    out = np.empty(len(moves), np.int64)
    for i, m in enumerate(moves):
        try:
            out[i] = _index(lay, ctx, m)
        except (PolicyIndexError, KeyError, TypeError, ValueError) as e:
            if strict:
                raise PolicyIndexError(f"{m!r} cannot be indexed in this state: {e}") from None
            out[i] = -1
    return out


def _decode(lay: PolicyLayout, ctx: _Context, idx: int) -> Move:
    s, p = ctx.s, ctx.p
    geo = s.geo
    keys = geo.keys
    if lay.spatial_size <= idx < lay.size:
        return Move(TAIL_TYPES[idx - lay.spatial_size], p)
    if not 0 <= idx < lay.spatial_size:
        raise PolicyIndexError(f"index {idx} outside the policy (size {lay.size})")
    plane, c = lay.split(idx)
    if c < 0:
        raise PolicyIndexError(f"index {idx} is off the board")
    if plane < lay.stack:
        return Move("place_ring", p, keys[c], count=plane - lay.place + 1)
    if plane < lay.eliminate:
        d, dist = divmod(plane - lay.stack, lay.max_dist)
        ray = geo.rays[c][d]
        if dist >= len(ray):
            raise PolicyIndexError(f"index {idx}: distance {dist + 1} runs off the board")
        target = next((x for x in ray[:dist] if s.stacks[x] is not None), None)
        to = keys[ray[dist]]
        if target is None and s.phase == "movement":
            return Move("move_stack", p, to, frm=keys[c])
        if target is None:
            raise PolicyIndexError(f"index {idx}: a capture with no stack on its path")
        kind = "continue_capture_segment" if s.phase == "chain_capture" else "overtaking_capture"
        return Move(kind, p, to, frm=keys[c], target=keys[target])
    if plane == lay.eliminate:
        if s.phase == "forced_elimination":
            return Move("forced_elimination", p, keys[c])
        return Move("eliminate_rings_from_stack", p, keys[c], context=s.pending or "territory")
    if plane < lay.territory:
        axis, kind = divmod(plane - lay.line, 3)
        L2 = geo.spec.collapse_length(s.num_players)
        for line in ctx.lines:
            if ctx.line_axis(line) != axis or c not in line:
                continue
            lk = tuple(keys[x] for x in line)
            if kind < 2 and line[0] == c:
                if kind == 0:
                    return Move("process_line", p, lk[0], line=lk)
                return Move("choose_line_option", p, lk[0], line=lk, cells=lk)
            i = line.index(c)
            if kind == 2 and len(line) > L2 and i + L2 <= len(line):
                return Move("choose_line_option", p, lk[i], line=lk, cells=lk[i:i + L2])
        raise PolicyIndexError(f"index {idx}: no such line decision")
    if plane < lay.recovery:
        rank = plane - lay.territory
        group = ctx.regions.get(c, [])
        if rank >= len(group):
            raise PolicyIndexError(f"index {idx}: no processable region of rank {rank} here")
        return Move("choose_territory_option", p, keys[c], region=frozenset(keys[x] for x in group[rank]))
    d, slot = divmod(plane - lay.recovery, lay.recovery_slots)
    to = geo.adj_by_dir[c][d]
    if to < 0:
        raise PolicyIndexError(f"index {idx}: slide off the board")
    fk, tk = keys[c], keys[to]
    rank = slot - RECOVERY_WINDOW_SLOTS
    extraction = (keys[ctx.extract[rank]],) if 0 <= rank < len(ctx.extract) else None
    if s.stacks[to] is not None:
        if extraction is None:
            raise PolicyIndexError(f"index {idx}: no extraction stack of that rank")
        return Move("recovery_slide", p, tk, fk, mode="stack_strike", extraction=extraction)
    line = slide_line(s, c, to, p)
    L = line_length(s)
    if len(line) >= L and rank < 0:
        i = line.index(to) - slot
        if slot >= L or i < 0 or i + L > len(line) or len(line) == L:
            raise PolicyIndexError(f"index {idx}: no such Option 2 window")
        cells = tuple(keys[x] for x in line[i:i + L])
        return Move("recovery_slide", p, tk, fk, mode="line", option=2, cells=cells, extraction=())
    if extraction is None:
        raise PolicyIndexError(f"index {idx}: no extraction stack of that rank")
    if len(line) >= L:
        return Move("recovery_slide", p, tk, fk, mode="line", option=1, extraction=extraction)
    return Move("recovery_slide", p, tk, fk, mode="fallback", extraction=extraction)


def move_of(state: GameState, index: int) -> Move:
    """The legal move of `state` that `index` denotes; PolicyIndexError when none does."""
    move = _decode(layout(state.board_type), _Context(state), int(index))
    for legal in legal_moves(state):
        if legal == move:
            return legal
    raise PolicyIndexError(f"index {index} denotes {move!r}, which is not legal here")


def legal_indices(state: GameState) -> tuple[list[Move], np.ndarray]:
    """The legal moves of `state` and their policy indices (-1 where a move has none)."""
    moves = legal_moves(state)
    return moves, indices_of(state, moves, strict=False)
