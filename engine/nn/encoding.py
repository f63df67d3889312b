"""State -> float32 planes, from the point of view of the player to move.

Seats are rotated so that slot 0 is always the player to move, slot 1 the next
seat in turn order, and so on: the net learns one game ("me against the
others") instead of one per seat, and its value head answers in the same frame
(`values_to_seats` turns it back). There are always four seat slots so every
player count of a board shares one input shape; absent seats stay zero and a
player-count one-hot tells them apart.

Planes (channel order is part of the model format: bump ENCODING_VERSION on change):

  per seat slot k (7 each, 4 slots): controls stack, height/8 and cap/8 of the
      stacks it controls, its rings in any stack /8 (buried ones count: recovery
      and region colours depend on them), has a buried ring here, its marker,
      its collapsed territory
  board: ownerless collapsed, empty, must-move stack, chain-capture position,
      valid cell (the hex mask)
  per seat slot k (4 each, constant planes): rings in hand / rings per player,
      eliminated / victory threshold, territory / territory minimum, still in play
  phase one-hot (7), pending decision one-hot (line, territory, recovery),
  recovery turn, acted this turn, pie rule available, player count one-hot (2/3/4),
  moves played / move cap

Batches are encoded with array operations over the whole batch; only the walk
over each state's stacks is a Python loop.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from engine.nn.grid import grid
from engine.state import PHASES, GameState, cap_height

ENCODING_VERSION = 1
MAX_SEATS = 4
SEAT_PLANES = 7
_BOARD = MAX_SEATS * SEAT_PLANES  # first board-wide plane
_SCALARS = _BOARD + 5  # first constant plane
_PHASE = _SCALARS + 4 * MAX_SEATS
_PHASES = PHASES[:-1]  # game_over is never encoded
_PENDING = _PHASE + len(_PHASES)
_FLAGS = _PENDING + 3
_NPLAYERS = _FLAGS + 3
_PROGRESS = _NPLAYERS + 3
NUM_PLANES = _PROGRESS + 1
_PENDING_KINDS = ("line", "territory", "recovery")
HEIGHT_SCALE = 8.0
PLANE_NAMES: tuple[str, ...] = (
    *(f"seat{k}_{name}" for k in range(MAX_SEATS)
      for name in ("stack", "height", "cap", "rings", "buried", "marker", "territory")),
    "collapsed_ownerless", "empty", "must_move", "chain_pos", "valid",
    *(f"seat{k}_{name}" for k in range(MAX_SEATS) for name in ("hand", "eliminated", "territory_total", "in_play")),
    *(f"phase_{p}" for p in _PHASES), *(f"pending_{p}" for p in _PENDING_KINDS),
    "recovery_turn", "acted", "swap_available", "players_2", "players_3", "players_4", "progress",
)
assert len(PLANE_NAMES) == NUM_PLANES
PLANE = {name: i for i, name in enumerate(PLANE_NAMES)}


def plane_shape(board_type: str) -> tuple[int, int, int]:
    g = grid(board_type)
    return NUM_PLANES, g.height, g.width


def seat_slots(state: GameState) -> list[int]:
    """Absolute seat (1..n) in each relative slot; slot 0 is the player to move."""
    n, cur = state.num_players, state.current_player
    return [(cur - 1 + k) % n + 1 for k in range(n)]


def values_to_seats(state: GameState, relative: Sequence[float]) -> list[float]:
    """Mover-relative values (slot 0 = player to move) -> per seat (index 0 = seat 1)."""
    out = [0.0] * state.num_players
    for k, seat in enumerate(seat_slots(state)):
        out[seat - 1] = float(relative[k])
    return out


def seats_to_values(state: GameState, per_seat: Sequence[float]) -> list[float]:
    """Per seat (index 0 = seat 1) -> mover-relative (slot 0 = player to move)."""
    return [float(per_seat[seat - 1]) for seat in seat_slots(state)]


def outcome_values(final: GameState) -> list[float]:
    """Value target per seat (index 0 = seat 1) of a finished game: +1 for the winner, -1 for
    every other seat, 0 for all when nobody won (move cap, draw)."""
    n = final.num_players
    if not final.winner:
        return [0.0] * n
    return [1.0 if seat == final.winner else -1.0 for seat in range(1, n + 1)]


def _stack_arrays(states: Sequence[GameState], n_cells: int):
    """Per state and cell: top owner, height, cap, rings per owner, buried flag per owner."""
    b = len(states)
    top = np.zeros((b, n_cells), np.int64)
    height = np.zeros((b, n_cells), np.float32)
    cap = np.zeros((b, n_cells), np.float32)
    rings = np.zeros((b, MAX_SEATS + 1, n_cells), np.float32)
    buried = np.zeros((b, MAX_SEATS + 1, n_cells), np.float32)
    for i, s in enumerate(states):
        for c, st in enumerate(s.stacks):
            if st is None:
                continue
            t = st[-1]
            top[i, c] = t
            height[i, c] = len(st)
            cap[i, c] = cap_height(st)
            for owner in set(st):
                k = st.count(owner)
                rings[i, owner, c] = k
                if k > (owner == t):
                    buried[i, owner, c] = 1.0
    return top, height, cap, rings, buried


def encode_batch(states: Sequence[GameState]) -> np.ndarray:
    """(B, NUM_PLANES, H, W) float32 planes of states that all share one board type."""
    if not states:
        raise ValueError("encode_batch needs at least one state")
    board = states[0].board_type
    if any(s.board_type != board for s in states):
        raise ValueError("encode_batch: all states must be on the same board type")
    g = grid(board)
    b, n_cells = len(states), g.num_cells
    feats = np.zeros((b, NUM_PLANES, n_cells), np.float32)

    # Absolute seat in each relative slot (0 = no such seat), and its inverse per owner.
    slot_seat = np.zeros((b, MAX_SEATS), np.int64)
    for i, s in enumerate(states):
        slot_seat[i, : s.num_players] = seat_slots(s)
    present = slot_seat > 0

    markers = np.asarray([s.markers for s in states], np.int64)
    collapsed = np.asarray([s.collapsed for s in states], np.int64)
    top, height, cap, rings, buried = _stack_arrays(states, n_cells)
    rows = np.arange(b)[:, None]
    for k in range(MAX_SEATS):
        seat = slot_seat[:, k : k + 1]  # (B, 1)
        here = present[:, k : k + 1]
        ctrl = (top == seat) & here
        base = k * SEAT_PLANES
        feats[:, base + 0] = ctrl
        feats[:, base + 1] = ctrl * height / HEIGHT_SCALE
        feats[:, base + 2] = ctrl * cap / HEIGHT_SCALE
        feats[:, base + 3] = rings[rows, seat][:, 0] * here / HEIGHT_SCALE
        feats[:, base + 4] = buried[rows, seat][:, 0] * here
        feats[:, base + 5] = (markers == seat) & here
        feats[:, base + 6] = (collapsed == seat) & here
    feats[:, _BOARD + 0] = collapsed < 0
    feats[:, _BOARD + 1] = (markers == 0) & (collapsed == 0) & (top == 0)
    feats[:, _BOARD + 4] = 1.0

    for i, s in enumerate(states):
        if s.must_move >= 0:
            feats[i, _BOARD + 2, s.must_move] = 1.0
        if s.chain_pos >= 0:
            feats[i, _BOARD + 3, s.chain_pos] = 1.0
        rpp = s.geo.spec.rings_per_player
        scal = feats[i, :, 0]  # constant planes: fill column 0, broadcast below
        for k in range(s.num_players):
            seat = slot_seat[i, k]
            on_board = rings[i, seat].sum()
            base = _SCALARS + 4 * k
            scal[base + 0] = s.hand[seat] / rpp
            scal[base + 1] = s.elim[seat] / max(s.victory_threshold, 1)
            scal[base + 2] = s.territory[seat] / max(s.territory_minimum, 1)
            scal[base + 3] = float(s.hand[seat] > 0 or on_board > 0)
        if s.phase in _PHASES:
            scal[_PHASE + _PHASES.index(s.phase)] = 1.0
        if s.pending in _PENDING_KINDS:
            scal[_PENDING + _PENDING_KINDS.index(s.pending)] = 1.0
        scal[_FLAGS + 0] = float(s.recovery_turn)
        scal[_FLAGS + 1] = float(s.acted)
        scal[_FLAGS + 2] = float(
            s.swap_enabled and not s.swap_used and s.current_player == 2 and s.num_players == 2
            and s.seat_moved[1] and not s.seat_moved[2]
        )
        scal[_NPLAYERS + s.num_players - 2] = 1.0
        scal[_PROGRESS] = min(s.move_count / s.move_cap, 1.0) if s.move_cap else 0.0
    feats[:, _SCALARS:, :] = feats[:, _SCALARS:, :1]

    out = np.zeros((b, NUM_PLANES, g.area), np.float32)
    out[:, :, g.pos] = feats
    return out.reshape(b, NUM_PLANES, g.height, g.width)


def encode(state: GameState) -> np.ndarray:
    """(NUM_PLANES, H, W) planes of one state."""
    return encode_batch([state])[0]
