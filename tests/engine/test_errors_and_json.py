"""Bad input gets a clear error and never corrupts a state; JSON round-trips."""
from __future__ import annotations

import copy
import json
import random

import pytest

from engine import (
    GameState, IllegalMoveError, Move, StateFormatError, apply, apply_in_place, legal_moves,
    new_game,
)

from tests.engine.helpers import make_state


def test_wrong_player_is_refused_and_state_untouched():
    s = new_game("square8", 2)
    before = s.to_json()
    with pytest.raises(IllegalMoveError, match="player 1's turn"):
        apply(s, Move("place_ring", 2, "3,3"))
    assert s.to_json() == before


def test_move_shorter_than_stack_height_is_illegal():
    s = make_state(stacks={"3,3": [1, 1]}, hands=[0, 0], phase="movement")
    before = s.to_json()
    with pytest.raises(IllegalMoveError, match="not legal in phase movement"):
        apply(s, Move("move_stack", 1, "4,3", frm="3,3"))
    assert s.to_json() == before
    assert apply(s, Move("move_stack", 1, "5,3", frm="3,3")).stacks[s.geo.index["5,3"]]


def test_moves_after_the_game_ended_are_refused():
    s = make_state(stacks={"3,3": [1], "5,5": [2]}, eliminated=[17, 0], phase="forced_elimination")
    s = apply(s, Move("forced_elimination", 1, "3,3"))
    with pytest.raises(IllegalMoveError, match="game is over"):
        apply(s, Move("no_placement_action", s.current_player))


def test_off_board_cell_in_a_move_is_an_error_not_a_crash():
    s = new_game("square8", 2)
    with pytest.raises(IllegalMoveError):
        apply(s, Move("place_ring", 1, "9,9"))
    with pytest.raises(IllegalMoveError):
        apply(s, Move("place_ring", 1, "9,9"), trusted=True)


@pytest.mark.parametrize(
    "mutate,needle",
    [
        (lambda d: d.pop("board"), "no 'board'"),
        (lambda d: d["board"].update(type="octagon"), "board.type"),
        (lambda d: d.update(players=[]), "2 to 4 players"),
        (lambda d: d["board"]["stacks"].update({"3,3": {"rings": [7]}}), "ring owner 7"),
        (lambda d: d["board"]["stacks"].update({"3,3": {"rings": []}}), "non-empty"),
        (lambda d: d["board"]["stacks"].update({"12,3": {"rings": [1]}}), "not on a square8"),
        (lambda d: d.update(currentPhase="dancing"), "currentPhase"),
        (lambda d: d.update(currentPlayer=5), "currentPlayer"),
        (lambda d: d["board"]["markers"].update({"2,2": {"player": 1}}), "both a stack and"),
    ],
)
def test_malformed_state_json_names_the_problem(mutate, needle):
    d = make_state(stacks={"2,2": [1]}).to_json()
    bad = copy.deepcopy(d)
    mutate(bad)
    with pytest.raises(StateFormatError, match=needle):
        GameState.from_json(bad)


@pytest.mark.parametrize(
    "move,needle",
    [
        ({"type": "teleport", "player": 1}, "unknown move type"),
        ({"type": "move_stack", "player": 1, "to": {"x": 1, "y": 1}}, "needs 'from'"),
        ({"type": "place_ring", "to": {"x": 1, "y": 1}}, "integer 'player'"),
        ({"type": "overtaking_capture", "player": 1, "from": {"x": 0, "y": 0},
          "to": {"x": 2, "y": 2}}, "captureTarget"),
        ({"type": "place_ring", "player": 1, "to": [1, 2]}, "not a position"),
    ],
)
def test_malformed_move_json_names_the_problem(move, needle):
    with pytest.raises(StateFormatError, match=needle):
        Move.from_json(move)


@pytest.mark.parametrize("board,n", [("square8", 3), ("hex8", 2), ("hexagonal", 4)])
def test_state_and_move_json_round_trip_along_a_game(board, n):
    rng = random.Random(7)
    s = new_game(board, n)
    for _ in range(300):
        if s.status != "active":
            break
        d = s.to_json()
        assert GameState.from_json(json.loads(json.dumps(d))).to_json() == d
        moves = legal_moves(s)
        m = moves[rng.randrange(len(moves))]
        again = Move.from_json(json.loads(json.dumps(m.to_json())))
        assert again == m and hash(again) == hash(m)
        apply_in_place(s, m)


def test_placement_counts_match_the_slow_definition():
    """The one-pass placement check agrees with trying every count on random positions."""
    from engine.rules.movement import stack_can_act
    from engine.rules.placement import placement_moves

    rng = random.Random(3)
    for board in ("square8", "hex8"):
        s = new_game(board, 2)
        for _ in range(150):
            if s.status != "active":
                break
            if s.phase == "ring_placement" and s.hand[s.current_player]:
                got = {(m.to, m.count) for m in placement_moves(s, s.current_player)}
                want = set()
                for c in range(s.geo.num_cells):
                    if s.collapsed[c] or s.markers[c]:
                        continue
                    st = s.stacks[c]
                    if st is None:
                        for k in range(1, min(3, s.hand[s.current_player]) + 1):
                            if stack_can_act(s, c, k, k):
                                want.add((s.geo.keys[c], k))
                    else:
                        from engine.state import cap_height
                        cap = cap_height(st) + 1 if st[-1] == s.current_player else 1
                        if stack_can_act(s, c, len(st) + 1, cap):
                            want.add((s.geo.keys[c], 1))
                assert got == want
            moves = legal_moves(s)
            apply_in_place(s, moves[rng.randrange(len(moves))])
