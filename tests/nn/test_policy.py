"""Move <-> policy index: every legal move gets a distinct index that maps back to it."""
from __future__ import annotations

from collections import Counter

import pytest

from engine import legal_moves
from engine.moves import MOVE_TYPES, Move
from engine.nn.policy import (
    PolicyIndexError, _Context, _decode, index_of, indices_of, layout, legal_indices, move_of, policy_size,
)
from engine.rules.recovery import extraction_stacks

from .positions import CONFIGS, positions, recovery_position

SEEN: Counter = Counter()


def _unindexable_is_capacity(state, move) -> bool:
    """The only legal moves allowed to lack an index: recoveries past the extraction capacity."""
    if move.type != "recovery_slide" or not move.extraction:
        return False
    rank = extraction_stacks(state, state.current_player).index(state.geo.index[move.extraction[0]])
    return rank >= layout(state.board_type).extraction_slots


def _variant(m: Move) -> tuple:
    if m.type == "recovery_slide":
        return (m.type, m.mode, m.option)
    if m.type == "choose_line_option":
        return (m.type, "whole" if set(m.cells) == set(m.line) else "window")
    return (m.type, m.context)


@pytest.mark.parametrize("board,n", CONFIGS)
def test_every_legal_move_round_trips(board, n):
    lay = layout(board)
    for seed in (0, 1):
        for s in positions(board, n, seed=seed, max_plies=None if board in ("square8", "hex8") else 300):
            moves = legal_moves(s)
            idx = indices_of(s, moves, strict=False)
            ctx = _Context(s)
            kept = [(m, int(i)) for m, i in zip(moves, idx) if i >= 0]
            assert all(_unindexable_is_capacity(s, m) for m, i in zip(moves, idx) if i < 0)
            assert len({i for _, i in kept}) == len(kept), f"two legal moves share an index in {s}"
            for m, i in kept:
                assert 0 <= i < lay.size
                back = _decode(lay, ctx, i)
                assert back == m, f"{m!r} -> {i} -> {back!r}"
                SEEN[m.type] += 1
                SEEN[_variant(m)] += 1


def test_round_trips_covered_every_move_type_but_the_host_ones():
    # Runs after the parametrised test above (file order). Random play on the small boards
    # reaches every type the rules generate; swap_sides needs the pie rule (tested below).
    missing = MOVE_TYPES - set(SEEN) - {"resign", "timeout", "swap_sides"}
    assert not missing, f"no random position offered {sorted(missing)}"
    variants = {("recovery_slide", "fallback", None), ("recovery_slide", "stack_strike", None),
                ("choose_line_option", "whole"), ("choose_line_option", "window"),
                ("eliminate_rings_from_stack", "line"), ("eliminate_rings_from_stack", "territory")}
    assert not variants - set(SEEN), f"not covered: {variants - set(SEEN)}"


def test_recovery_line_slides_with_both_options_round_trip():
    s = recovery_position()
    moves = legal_moves(s)
    assert {_variant(m) for m in moves} == {("recovery_slide", "line", 1), ("recovery_slide", "line", 2),
                                            ("skip_recovery", None)}
    idx = indices_of(s, moves)
    assert len(set(idx.tolist())) == len(moves)
    assert [move_of(s, i) for i in idx] == moves


def test_move_of_returns_the_legal_move_the_index_denotes():
    for s in positions("square8", 3)[::40]:
        for m in legal_moves(s)[:30]:
            assert move_of(s, index_of(s, m)) == m


def test_swap_and_host_moves_have_tail_slots():
    from engine import apply, new_game
    s = new_game("square8", 2, rules_options={"swapRuleEnabled": True})
    for _ in range(4):
        s = apply(s, legal_moves(s)[0])
    moves, idx = legal_indices(s)
    assert "swap_sides" in {m.type for m in moves} and (idx >= layout("square8").spatial_size).any()
    assert move_of(s, index_of(s, Move("swap_sides", 2))) == Move("swap_sides", 2)
    assert index_of(s, Move("resign", 2)) != index_of(s, Move("timeout", 2))


def test_indices_outside_or_illegal_are_refused():
    s = positions("hex8", 2)[0]
    with pytest.raises(PolicyIndexError):
        move_of(s, policy_size("hex8"))
    off_board = next(i for i in range(layout("hex8").area) if layout("hex8").cell_at[i] < 0)
    with pytest.raises(PolicyIndexError):
        move_of(s, off_board)
    with pytest.raises(PolicyIndexError):
        move_of(s, layout("hex8").spatial_size + 3)  # skip_capture: not legal in ring placement


def test_layout_sizes_are_fixed_per_board():
    assert {b: layout(b).size for b in ("square8", "hex8")} == {"square8": 16203, "hex8": 16049}
    for board in ("square8", "square19", "hex8", "hexagonal"):
        lay = layout(board)
        assert lay.size == lay.num_planes * lay.area + lay.tail_size
