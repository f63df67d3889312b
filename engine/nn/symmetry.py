"""Board symmetries for data augmentation: 8 on square boards (D4), 12 on hex boards (D6).

A symmetry permutes cells. It acts on a state (every per-cell list and cell
pointer moves with its cell), on a move (every position key is mapped), and on
encoded planes (a fixed permutation of grid positions, since no plane depends on
a direction).

It does NOT act on policy indices as a fixed permutation: some indices are
anchored at canonical cells chosen relative to the state (a line's first cell in
axis order, a region's lowest cell index), and a symmetric line or region has no
cell that every symmetry fixes. Policy targets are therefore transformed through
their moves: transform the state and the moves, then index the moves in the
transformed state (`transform_sample`). The selfplay-side producer does this when
it writes samples, so shards hold augmented samples and training needs no state.
"""
from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from engine.geometry import geometry
from engine.moves import Move
from engine.nn.grid import grid
from engine.state import GameState


def num_symmetries(board_type: str) -> int:
    return 12 if geometry(board_type).is_hex else 8


def _map_coord(board_type: str, k: int, c: tuple) -> tuple:
    geo = geometry(board_type)
    if geo.is_hex:
        x, y, z = c
        if k >= 6:
            y, z = z, y  # reflection
        for _ in range(k % 6):
            x, y, z = -z, -x, -y  # rotation by 60 degrees
        return (x, y, z)
    n = geo.spec.size
    x, y = c
    if k >= 4:
        x = n - 1 - x  # reflection
    for _ in range(k % 4):
        x, y = n - 1 - y, x  # rotation by 90 degrees
    return (x, y)


@lru_cache(maxsize=None)
def cell_permutation(board_type: str, k: int) -> tuple[int, ...]:
    """perm[c] = the cell that cell c goes to under symmetry k (0 = identity)."""
    if not 0 <= k < num_symmetries(board_type):
        raise ValueError(f"{board_type} has symmetries 0..{num_symmetries(board_type) - 1}, not {k}")
    geo = geometry(board_type)
    where = {c: i for i, c in enumerate(geo.coords)}
    perm = tuple(where[_map_coord(board_type, k, c)] for c in geo.coords)
    assert sorted(perm) == list(range(geo.num_cells)), "a symmetry must permute the cells"
    return perm


@lru_cache(maxsize=None)
def _key_map(board_type: str, k: int) -> dict[str, str]:
    keys = geometry(board_type).keys
    perm = cell_permutation(board_type, k)
    return {keys[c]: keys[perm[c]] for c in range(len(keys))}


@lru_cache(maxsize=None)
def _grid_source(board_type: str, k: int) -> np.ndarray:
    """src[q] = the grid position whose content lands on grid position q (off-board points stay)."""
    g = grid(board_type)
    perm = cell_permutation(board_type, k)
    src = np.arange(g.area)
    src[g.pos[list(perm)]] = g.pos
    src.setflags(write=False)
    return src


def transform_planes(planes: np.ndarray, board_type: str, k: int) -> np.ndarray:
    """Planes (..., H, W) of a state -> planes of the transformed state."""
    g = grid(board_type)
    flat = planes.reshape(*planes.shape[:-2], g.area)
    return flat[..., _grid_source(board_type, k)].reshape(planes.shape)


def transform_state(state: GameState, k: int) -> GameState:
    """A copy of `state` with every cell moved by symmetry k."""
    perm = cell_permutation(state.board_type, k)
    out = state.copy()
    for name in ("stacks", "markers", "collapsed", "stack_born"):
        src = getattr(state, name)
        dst = getattr(out, name)
        for c, v in enumerate(src):
            dst[perm[c]] = v
    out.must_move = perm[state.must_move] if state.must_move >= 0 else -1
    out.chain_pos = perm[state.chain_pos] if state.chain_pos >= 0 else -1
    return out


def transform_move(move: Move, board_type: str, k: int) -> Move:
    """`move` with every position key mapped by symmetry k."""
    km = _key_map(board_type, k)

    def one(key: str | None) -> str | None:
        return km[key] if key is not None else None

    def many(keys: Sequence[str] | None) -> tuple[str, ...] | None:
        return tuple(km[x] for x in keys) if keys is not None else None

    return Move(
        move.type, move.player, one(move.to), one(move.frm), one(move.target), move.count,
        many(move.line), many(move.cells),
        frozenset(km[x] for x in move.region) if move.region is not None else None,
        move.context, move.mode, move.option, many(move.extraction),
    )


def transform_sample(state: GameState, moves: Sequence[Move], k: int) -> tuple[GameState, list[Move]]:
    """A state and moves of it (e.g. a policy target's support) under symmetry k."""
    if k == 0:
        return state, list(moves)
    return transform_state(state, k), [transform_move(m, state.board_type, k) for m in moves]
