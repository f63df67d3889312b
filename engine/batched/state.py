"""B games of one (board, player count) as tensors, with exact conversion to and from
`engine.state.GameState`.

Why every GameState field has a tensor twin: the per-game fallback (`fallback.py`)
hands games back and forth between this form and the reference engine mid-game, and
the differential tests compare whole states, so nothing may be lost in either
direction (turn bookkeeping, LPS round tracking, stack arrival order included).

Layout (B games, N cells plus the sentinel column N, P players, seats 1..P):
  stacks [B, N+1, H] int8   ring owners, BOTTOM first (as GameState tuples); H grows on demand
  height [B, N+1] int32     rings per cell (0 = no stack)
  markers, collapsed [B, N+1] int8, stack_born [B, N+1] int32
  hand, elim, board_elim, territory, lost, elim_order [B, P+1] int64; seat_moved bool
  scalars [B]: see SCALARS; strings are coded through the tables below.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from engine.batched.tables import BoardTables, board_tables
from engine.state import PHASES, GameState

PHASE_CODE = {p: i for i, p in enumerate(PHASES)}
(RING_PLACEMENT, MOVEMENT, CAPTURE, CHAIN_CAPTURE, LINE_PROCESSING, TERRITORY_PROCESSING,
 FORCED_ELIMINATION, GAME_OVER) = range(len(PHASES))
STATUS = ("active", "completed")
PENDING = (None, "line", "territory", "recovery")
REASONS = (None, "ring_elimination", "territory_control", "last_player_standing", "stalemate",
           "move_cap", "resignation", "timeout")

PLAYER_LISTS = ("hand", "elim", "board_elim", "territory", "lost", "elim_order")
CELL_LISTS = ("markers", "collapsed")
# Per-game integer scalars copied as they are.
PLAIN = ("total_elim", "current_player", "must_move", "chain_pos", "turn_number", "move_count",
         "last_actor", "lps_first", "lps_candidate", "lps_count", "lps_required",
         "victory_threshold", "territory_threshold", "territory_minimum", "move_cap", "born_seq")
FLAGS = ("recovery_turn", "acted", "swap_enabled", "swap_used")
# Coded string scalars: attribute -> code table.
CODED = {"phase": PHASES, "status": STATUS, "pending": PENDING, "victory_reason": REASONS,
         "outcome": REASONS}


@dataclass
class BatchState:
    """The tensors of B games; see the module docstring for the layout."""

    tables: BoardTables
    num_players: int
    t: dict[str, torch.Tensor] = field(default_factory=dict)
    game_id: list[str] = field(default_factory=list)
    rules_options: list[dict] = field(default_factory=list)

    @property
    def batch(self) -> int:
        return self.t["height"].shape[0]

    @property
    def device(self) -> torch.device:
        return self.tables.device

    def __getattr__(self, name: str) -> torch.Tensor:
        t = self.__dict__.get("t")
        if t is not None and name in t:
            return t[name]
        raise AttributeError(name)

    def to_state(self, i: int) -> GameState:
        """Game i as a reference GameState (exact)."""
        return read_states(self, [i])[0]

    def subset(self, g: torch.Tensor) -> "BatchState":
        """A copy of games g (for work that only some games need)."""
        return BatchState(self.tables, self.num_players, {k: v[g] for k, v in self.t.items()})

    def slice(self, sl: slice) -> "BatchState":
        """A view of a contiguous range of games (no copy)."""
        return BatchState(self.tables, self.num_players, {k: v[sl] for k, v in self.t.items()})

    def ensure_capacity(self, need: int) -> None:
        """Grow the ring axis of `stacks` so that a stack of `need` rings fits."""
        st = self.t["stacks"]
        if need > st.shape[2]:
            grow = max(need, st.shape[2] * 2) - st.shape[2]
            pad = torch.zeros(st.shape[0], st.shape[1], grow, dtype=st.dtype, device=st.device)
            self.t["stacks"] = torch.cat([st, pad], dim=2)


def empty_batch(board_type: str, num_players: int, batch: int, device: str = "cpu",
                capacity: int = 16) -> BatchState:
    """Zeroed tensors of the right shapes (not a valid game until filled)."""
    tb = board_tables(board_type, str(device))
    dev = tb.device
    n1, p1 = tb.n + 1, num_players + 1
    t: dict[str, torch.Tensor] = {
        "stacks": torch.zeros(batch, n1, capacity, dtype=torch.int8, device=dev),
        "height": torch.zeros(batch, n1, dtype=torch.int32, device=dev),
        "stack_born": torch.zeros(batch, n1, dtype=torch.int32, device=dev),
        "seat_moved": torch.zeros(batch, p1, dtype=torch.bool, device=dev),
        "lps_actors": torch.zeros(batch, num_players, dtype=torch.int64, device=dev),
        "lps_n": torch.zeros(batch, dtype=torch.int64, device=dev),
        "winner": torch.zeros(batch, dtype=torch.int64, device=dev),
    }
    for name in CELL_LISTS:
        t[name] = torch.zeros(batch, n1, dtype=torch.int8, device=dev)
    for name in PLAYER_LISTS:
        t[name] = torch.zeros(batch, p1, dtype=torch.int64, device=dev)
    for name in PLAIN + tuple(CODED):
        t[name] = torch.zeros(batch, dtype=torch.int64, device=dev)
    for name in FLAGS:
        t[name] = torch.zeros(batch, dtype=torch.bool, device=dev)
    return BatchState(tb, num_players, t, [""] * batch, [{} for _ in range(batch)])


def _encode(states: list[GameState], n1: int, cap: int) -> dict[str, np.ndarray]:
    """Numpy rows for `states` (the CPU half of a write; one tensor copy per field after)."""
    b = len(states)
    out: dict[str, np.ndarray] = {
        "stacks": np.zeros((b, n1, cap), np.int8),
        "height": np.zeros((b, n1), np.int32),
        "stack_born": np.zeros((b, n1), np.int32),
    }
    for i, s in enumerate(states):
        row, hrow = out["stacks"][i], out["height"][i]
        for c, st in enumerate(s.stacks):
            if st is not None:
                hrow[c] = len(st)
                row[c, : len(st)] = st
        out["stack_born"][i, : n1 - 1] = s.stack_born
    for name in CELL_LISTS:
        out[name] = np.array([getattr(s, name) + [0] for s in states], np.int8).reshape(b, n1)
    for name in PLAYER_LISTS:
        out[name] = np.array([getattr(s, name) for s in states], np.int64).reshape(b, -1)
    out["seat_moved"] = np.array([s.seat_moved for s in states], bool).reshape(b, -1)
    for name in PLAIN:
        out[name] = np.array([getattr(s, name) for s in states], np.int64)
    for name in FLAGS:
        out[name] = np.array([bool(getattr(s, name)) for s in states], bool)
    for name, table in CODED.items():
        out[name] = np.array([table.index(getattr(s, name)) for s in states], np.int64)
    n = states[0].num_players if states else 1
    acts = np.zeros((b, n), np.int64)
    for i, s in enumerate(states):
        acts[i, : len(s.lps_actors)] = s.lps_actors
    out["lps_actors"] = acts
    out["lps_n"] = np.array([len(s.lps_actors) for s in states], np.int64)
    out["winner"] = np.array([s.winner or 0 for s in states], np.int64)
    return out


def write_states(bs: BatchState, idx: list[int], states: list[GameState]) -> None:
    """Overwrite games `idx` of `bs` with `states` (exact; grows the ring axis if needed)."""
    if not idx:
        return
    tallest = max((len(st) for s in states for st in s.stacks if st is not None), default=0)
    bs.ensure_capacity(tallest)
    rows = _encode(states, bs.tables.n + 1, bs.t["stacks"].shape[2])
    ix = torch.tensor(idx, dtype=torch.long, device=bs.device)
    for name, arr in rows.items():
        bs.t[name][ix] = torch.from_numpy(arr).to(bs.device)
    for i, s in zip(idx, states):
        bs.game_id[i] = s.game_id
        bs.rules_options[i] = dict(s.rules_options)


def from_states(states: list[GameState], device: str = "cpu") -> BatchState:
    """A batch holding `states` (all of one board type and player count)."""
    s0 = states[0]
    bs = empty_batch(s0.board_type, s0.num_players, len(states), device)
    write_states(bs, list(range(len(states))), states)
    return bs


def read_states(bs: BatchState, idx: list[int]) -> list[GameState]:
    """GameStates of games `idx` (exact inverse of `write_states`)."""
    if not idx:
        return []
    ix = torch.tensor(idx, dtype=torch.long, device=bs.device)
    rows = {name: t[ix].cpu().numpy() for name, t in bs.t.items()}
    n = bs.tables.n
    board = bs.tables.geo.board_type
    out = []
    for j, i in enumerate(idx):
        s = GameState(board, bs.num_players)
        h = rows["height"][j]
        st = rows["stacks"][j]
        stacks: list = [None] * n
        for c in np.nonzero(h[:n])[0].tolist():
            stacks[c] = tuple(st[c, : h[c]].tolist())
        s.stacks = stacks
        s.stack_born = rows["stack_born"][j, :n].tolist()
        for name in CELL_LISTS:
            setattr(s, name, rows[name][j, :n].tolist())
        for name in PLAYER_LISTS:
            setattr(s, name, rows[name][j].tolist())
        s.seat_moved = rows["seat_moved"][j].tolist()
        for name in PLAIN:
            setattr(s, name, int(rows[name][j]))
        for name in FLAGS:
            setattr(s, name, bool(rows[name][j]))
        for name, table in CODED.items():
            setattr(s, name, table[int(rows[name][j])])
        s.winner = None  # set below from the dedicated column
        s.lps_actors = tuple(rows["lps_actors"][j, : int(rows["lps_n"][j])].tolist())
        s.game_id = bs.game_id[i]
        s.rules_options = dict(bs.rules_options[i])
        out.append(s)
    wins = bs.t["winner"][ix].cpu().tolist()
    for s, w in zip(out, wins):
        s.winner = w or None
    return out
