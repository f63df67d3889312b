"""The batched legal set equals the reference `legal_moves` set on self-play positions,
in every phase the positions reach (not only for the moves a player happened to pick)."""
from __future__ import annotations

import random

import pytest
import torch

from engine import apply_in_place, legal_moves, new_game
from engine.batched.enumerate import legal_move_lists
from engine.batched.state import from_states
from engine.state import GameState

torch.set_num_threads(1)
CONFIGS = [(b, n) for b in ("square8", "hex8", "square19", "hexagonal") for n in (2, 3, 4)]


def positions(board: str, n: int, games: int, every: int, cap: int, seed: int) -> list[GameState]:
    """Positions of reference random games: every `every`-th move, plus every position in a
    decision phase or recovery (the rare ones)."""
    rng = random.Random(seed)
    out = []
    for _ in range(games):
        s = new_game(board, n, move_cap=cap)
        while s.status == "active":
            rare = s.phase in ("line_processing", "territory_processing", "forced_elimination",
                               "chain_capture") or any(m.type == "recovery_slide" for m in legal_moves(s))
            if rare or s.move_count % every == 0:
                out.append(s.copy())
            ms = legal_moves(s)
            apply_in_place(s, ms[rng.randrange(len(ms))])
    return out


@pytest.mark.parametrize("board,n", CONFIGS)
def test_legal_sets_match_reference(board: str, n: int) -> None:
    small = board in ("square8", "hex8")
    states = positions(board, n, 6 if small else 1, 7 if small else 40, 0 if small else 300, n)
    lists = legal_move_lists(from_states(states))
    checked = 0
    for s, got in zip(states, lists):
        if got is None:
            continue
        want = legal_moves(s)
        assert set(got) == set(want), (s.phase, s.pending)
        assert len(got) == len(set(want))
        checked += 1
    assert checked >= len(states) - 2


def recovery_position() -> GameState:
    """Player 1 has no stack, a buried ring under player 2, and markers . x x x _ x x
    on row 0 with a marker below the gap: sliding it up makes a 6-marker line, so both
    Option 1 (per extraction stack) and the Option-2 windows through the gap are legal."""
    s = new_game("square8", 2)
    idx = s.geo.index
    for x in (0, 1, 2, 4, 5):
        s.markers[idx[f"{x},0"]] = 1
    s.markers[idx["3,1"]] = 1
    s.markers[idx["6,6"]] = 2
    for key, st in (("7,7", (1, 2)), ("0,7", (1, 1, 2)), ("5,5", (2,))):
        s.stacks[idx[key]] = st
    s.hand[1] = 18 - 3
    s.hand[2] = 18 - 3
    s.phase = "movement"
    return s


def test_recovery_line_options_match_reference() -> None:
    s = recovery_position()
    want = legal_moves(s)
    modes = {(m.mode, m.option) for m in want if m.type == "recovery_slide"}
    assert ("line", 2) in modes and ("line", 1) in modes
    (got,) = legal_move_lists(from_states([s]))
    assert set(got) == set(want)


def _sig(s: GameState) -> dict:
    return {k: getattr(s, k) for k in GameState.__slots__ if k != "geo"}


def test_every_recovery_move_applies_like_the_reference() -> None:
    from engine import apply
    from engine.batched.enumerate import apply_each

    pairs = apply_each(recovery_position())
    assert len(pairs) == len(legal_moves(recovery_position()))
    for move, got in pairs:
        assert _sig(got) == _sig(apply(recovery_position(), move)), move


@pytest.mark.parametrize("board,n", [("square8", 2), ("hex8", 3), ("square8", 4)])
def test_every_move_applies_like_the_reference(board: str, n: int) -> None:
    """On positions in every phase: each legal move applied batched equals the reference."""
    from engine import apply
    from engine.batched.enumerate import apply_each

    states = positions(board, n, 2, 25, 0, 40 + n)
    for s in states:
        for move, got in apply_each(s):
            assert _sig(got) == _sig(apply(s, move)), (s.phase, move)
