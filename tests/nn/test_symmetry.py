"""Board symmetries: a group of 8 / 12 cell permutations that commute with encoding and move generation."""
from __future__ import annotations

import random

import numpy as np
import pytest

from engine import legal_moves
from engine.nn.encoding import encode_batch
from engine.nn.policy import _Context, _decode, indices_of, layout
from engine.nn.symmetry import (
    cell_permutation, num_symmetries, transform_move, transform_planes, transform_sample, transform_state,
)

from .positions import positions, recovery_position

BOARDS = ("square8", "hex8", "square19", "hexagonal")


@pytest.mark.parametrize("board", BOARDS)
def test_symmetries_are_distinct_permutations_closed_under_composition(board):
    k = num_symmetries(board)
    assert k == (12 if board.startswith("hex") else 8)
    perms = {cell_permutation(board, i) for i in range(k)}
    assert len(perms) == k and tuple(range(len(next(iter(perms))))) in perms
    for a in list(perms)[:4]:
        for b in list(perms)[:4]:
            assert tuple(a[b[c]] for c in range(len(a))) in perms


@pytest.mark.parametrize("board", BOARDS)
@pytest.mark.parametrize("n", [2, 3, 4])
def test_transforms_commute_with_encoding_moves_and_policy_targets(board, n):
    rng = random.Random(n)
    states = positions(board, n)[:: 7 if board in ("square8", "hex8") else 20] + (recovery_position(),) * (n == 2)
    for s in states:
        if s.board_type != board:
            continue
        k = rng.randrange(1, num_symmetries(board))
        moves = legal_moves(s)
        ts, tmoves = transform_sample(s, moves, k)
        np.testing.assert_array_equal(encode_batch([ts])[0], transform_planes(encode_batch([s])[0], board, k))
        assert set(tmoves) == set(legal_moves(ts)), f"symmetry {k} changes the legal moves of {s}"
        # The transformed targets are indexable in the transformed state and mean the transformed moves.
        idx = indices_of(ts, tmoves)
        ctx = _Context(ts)
        assert [_decode(layout(board), ctx, int(i)) for i in idx] == tmoves


def test_state_and_move_transforms_invert():
    s = positions("hex8", 2)[300]
    for k in range(12):
        perm = cell_permutation("hex8", k)
        inv = next(j for j in range(12) if all(cell_permutation("hex8", j)[perm[c]] == c for c in range(61)))
        back = transform_state(transform_state(s, k), inv)
        assert back.stacks == s.stacks and back.markers == s.markers and back.collapsed == s.collapsed
        for m in legal_moves(s):
            assert transform_move(transform_move(m, "hex8", k), "hex8", inv) == m
