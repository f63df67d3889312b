"""Rules the contract vectors leave uncovered: line rewards, ring-elimination victory,
stalemate, last player standing and the pie rule, each built from the rules text."""
from __future__ import annotations

from engine import Move, apply, legal_moves, new_game
from engine.rules import apply_in_place

from tests.engine.helpers import make_state, types

ROW0 = ["0,0", "1,0", "2,0", "3,0"]


def _line_state(line_cells, p1_stacks):
    return make_state(
        stacks=p1_stacks, markers={k: 1 for k in line_cells}, hands=[5, 5],
        phase="line_processing",
    )


def test_exact_line_collapses_then_costs_one_top_ring():
    s = _line_state(ROW0, {"5,5": [1, 1], "6,6": [1], "7,7": [2]})
    moves = legal_moves(s)
    assert {"process_line", "choose_line_option"} == set(types(moves))
    s = apply(s, next(m for m in moves if m.type == "process_line"))
    assert all(s.collapsed[s.geo.index[k]] == 1 for k in ROW0)
    assert s.territory[1] == 4
    reward = legal_moves(s)
    # One ring owed: a choice among P1's stacks only, nothing else is legal meanwhile.
    assert {(m.type, m.context, m.to) for m in reward} == {
        ("eliminate_rings_from_stack", "line", "5,5"),
        ("eliminate_rings_from_stack", "line", "6,6"),
    }
    s = apply(s, next(m for m in reward if m.to == "5,5"))
    assert s.stacks[s.geo.index["5,5"]] == (1,)  # only the top ring, not the whole cap
    assert s.elim[1] == 1 and s.board_elim[1] == 1
    assert types(legal_moves(s)) == ["no_line_action"]


def test_overlength_line_offers_free_option_two():
    cells = ROW0 + ["4,0"]
    s = _line_state(cells, {"6,6": [1]})
    options = [m for m in legal_moves(s) if m.type == "choose_line_option"]
    assert sorted(len(m.cells) for m in options) == [4, 4, 5]
    free = next(m for m in options if m.cells == tuple(ROW0))
    s = apply(s, free)
    assert s.territory[1] == 4 and s.markers[s.geo.index["4,0"]] == 1
    assert s.pending is None and s.elim[1] == 0
    assert s.phase == "territory_processing"  # no line left: processing moves on


def test_line_reward_waived_without_a_stack():
    s = _line_state(ROW0, {"7,7": [2]})
    s = apply(s, next(m for m in legal_moves(s) if m.type == "process_line"))
    assert s.pending is None and s.elim[1] == 0


def test_reaching_the_elimination_threshold_wins_at_turn_end():
    s = make_state(stacks={"3,3": [1], "5,5": [2]}, eliminated=[17, 0], phase="forced_elimination")
    s = apply(s, Move("forced_elimination", 1, "3,3"))
    assert s.status == "completed" and s.winner == 1
    assert s.victory_reason == "ring_elimination"
    assert legal_moves(s) == []


def _bare_board(territory_p1: int, territory_p2: int, elim=(0, 0), empty=("0,0",)):
    """No stacks; every cell collapsed but `empty` (corners whose rays are all collapsed,
    so a ring placed there could never move: no legal placement for anyone)."""
    keys = [f"{x},{y}" for y in range(8) for x in range(8) if f"{x},{y}" not in empty]
    owners = [1] * territory_p1 + [2] * territory_p2
    assert len(owners) == len(keys)
    s = make_state(
        collapsed=dict(zip(keys, owners)), hands=[3, 4], eliminated=list(elim),
        phase="territory_processing",
    )
    s.acted = True
    return s


def test_bare_board_without_placements_is_a_stalemate_won_on_territory():
    s = _bare_board(31, 32)  # 32 < 33: no territory victory by itself
    s = apply(s, Move("no_territory_action", 1))
    assert s.status == "completed" and s.outcome == "stalemate"
    assert s.winner == 2 and s.victory_reason == "territory_control"


def test_stalemate_territory_tie_falls_to_eliminated_rings():
    s = _bare_board(31, 31, elim=(2, 5), empty=("0,0", "7,7"))
    s = apply(s, Move("no_territory_action", 1))
    assert s.outcome == "stalemate"
    assert s.winner == 2 and s.victory_reason == "ring_elimination"


def test_bare_board_with_a_legal_placement_goes_on():
    s = _bare_board(20, 19, empty=tuple(f"{x},{y}" for x in range(5) for y in range(5)))
    s = apply(s, Move("no_territory_action", 1))
    assert s.status == "active" and s.current_player == 2


def test_last_player_standing_after_three_exclusive_rounds():
    # P2 and P3 keep rings only buried under P1's stack: no stack, no marker, no hand,
    # so no action at all, yet not permanently eliminated.
    s = make_state(
        n=3, stacks={"0,0": [1, 2, 3], "7,7": [1]}, hands=[0, 0, 0], phase="ring_placement",
    )
    turns = 0
    while s.status == "active" and turns < 400:
        move = _quiet_move(legal_moves(s))
        apply_in_place(s, move)
        turns += 1
    assert s.status == "completed"
    assert s.winner == 1 and s.victory_reason == "last_player_standing"
    # Round-based, not the early form: the rivals still hold (buried) rings.
    assert s.has_any_ring(2) and s.has_any_ring(3)


def _quiet_move(moves):
    """Prefer moves that keep the position simple: no captures, no territory."""
    for t in ("move_stack", "no_placement_action", "no_movement_action", "no_line_action",
              "choose_line_option", "eliminate_rings_from_stack", "skip_territory_processing",
              "no_territory_action"):
        for m in moves:
            if m.type == t:
                return m
    return moves[0]


def _rounds(s, count):
    """Run `count` rounds of LPS bookkeeping without moving (turn starts only)."""
    from engine.rules.victory import update_lps

    prev = s.num_players
    for _ in range(count):
        for p in range(1, s.num_players + 1):
            if update_lps(s, p, prev):
                return True
            prev = p
    return False


def test_rival_with_only_a_forced_elimination_blocks_last_player_standing():
    from engine.rules.victory import has_any_action, has_real_action

    # P2's stack in the corner is walled in: no real action, but a forced elimination.
    s = make_state(
        stacks={"4,4": [1], "0,0": [2, 2]}, collapsed={"1,0": 1, "0,1": 1, "1,1": 1},
    )
    assert has_real_action(s, 1) and not has_real_action(s, 2) and has_any_action(s, 2)
    assert not _rounds(s, 6) and s.status == "active"
    # The same position with P2 reduced to a buried ring: P1 wins after three rounds.
    t = make_state(stacks={"4,4": [1], "6,6": [1, 2]})
    assert not has_any_action(t, 2) and t.has_any_ring(2)
    assert _rounds(t, 4) and t.winner == 1 and t.victory_reason == "last_player_standing"


def test_pie_rule_offers_swap_once_to_player_two():
    s = new_game("square8", 2, rules_options={"swapRuleEnabled": True})
    assert "swap_sides" not in types(legal_moves(s))
    while s.current_player == 1:
        s = apply(s, legal_moves(s)[0])
    assert "swap_sides" in types(legal_moves(s))
    before = s.to_json()["board"]
    s = apply(s, Move("swap_sides", 2))
    assert s.to_json()["board"] == before and s.current_player == 2
    assert "swap_sides" not in types(legal_moves(s))
    plain = new_game("square8", 2)
    while plain.current_player == 1:
        plain = apply(plain, legal_moves(plain)[0])
    assert "swap_sides" not in types(legal_moves(plain))
    three = new_game("square8", 3, rules_options={"swapRuleEnabled": True})
    while three.current_player == 1:
        three = apply(three, legal_moves(three)[0])
    assert "swap_sides" not in types(legal_moves(three))
