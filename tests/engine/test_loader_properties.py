"""Property tests: malformed state and move JSON never gets past the loaders as anything but a
StateFormatError / IllegalMoveError naming the field, and never yields a state that breaks the
invariants.

Inputs are real positions from random games (square8 2p, hex8 3p, square8 4p) with one part
deleted or replaced by hostile JSON (wrong types, NaN, negative counts, huge numbers, strings,
lists where objects belong), whole random JSON values, and legal moves bent the same way.
"""
from __future__ import annotations

import copy
import json
import math
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import GameState, IllegalMoveError, Move, StateFormatError, apply, apply_in_place, legal_moves, new_game
from engine.invariants import violations
from engine.state import PHASES

SETTINGS = settings(max_examples=250, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _positions() -> list[GameState]:
    out = []
    for board, n, seed in (("square8", 2, 1), ("hex8", 3, 2), ("square8", 4, 3)):
        rng = random.Random(seed)
        s = new_game(board, n)
        for ply in range(400):
            if s.status != "active":
                break
            if ply in (0, 9, 40, 120, 260):
                out.append(s.copy())
            moves = legal_moves(s)
            apply_in_place(s, moves[rng.randrange(len(moves))])
        out.append(s.copy())
    return out


POSITIONS = _positions()
STATES = [p.to_json() for p in POSITIONS]

# Scalars the loader reads directly, and where a message about each must name it.
INT_FIELDS = {"currentPlayer", "turnNumber", "totalRingsEliminated", "winner", "victoryThreshold",
              "territoryVictoryThreshold", "territoryVictoryMinimum", "ringsInHand", "eliminatedRings",
              "territorySpaces", "playerNumber"}
OBJECT_FIELDS = {"board", "stacks", "markers", "collapsedSpaces", "rulesOptions"}
# Every field name of the format a message may name (a consequence can surface elsewhere:
# a ring moved to another owner breaks that owner's ring count).
VOCABULARY = INT_FIELDS | OBJECT_FIELDS | {
    "players", "board.type", "rings", "currentPhase", "gameStatus", "moveHistory", "eliminatedRings",
    "mustMoveFromStackKey", "chainCapturePosition", "game state", "position key", "cell"}

hostile_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2 ** 70), max_value=2 ** 70),
    st.sampled_from([-5, -1, 0, 5, 19, 73, 10 ** 9]),
    st.floats(allow_nan=True, allow_infinity=True), st.just(float("nan")),
    st.text(max_size=6), st.sampled_from(["garbage", "", "1", "3,3", "a,b", "0,0,0", "99,99", "2,2", "1,-1,0"]),
    st.sampled_from(PHASES + ("active", "completed", "waiting")),
    st.fixed_dictionaries({"x": st.integers(-2, 9), "y": st.integers(-2, 9)}))
json_values = st.recursive(hostile_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)), max_leaves=8)


def paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a value inside a JSON document (dict keys and list indices)."""
    out = []
    if isinstance(value, dict):
        for k, v in value.items():
            out.append(prefix + (k,))
            out.extend(paths(v, prefix + (k,)))
    elif isinstance(value, list):
        for i, v in enumerate(value[:4]):
            out.append(prefix + (i,))
            out.extend(paths(v, prefix + (i,)))
    return out


def mutate(doc: Any, path: tuple, action: str, junk: Any) -> Any:
    bad = copy.deepcopy(doc)
    holder = bad
    for part in path[:-1]:
        holder = holder[part]
    if action == "delete":
        del holder[path[-1]]
    else:
        holder[path[-1]] = junk
    return bad


def is_int(value: Any) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) or (
        isinstance(value, float) and math.isfinite(value) and value.is_integer())


@st.composite
def broken_states(draw) -> tuple[dict, tuple, str, Any]:
    doc = draw(st.sampled_from(STATES))
    path = draw(st.sampled_from(paths(doc)))
    action = draw(st.sampled_from(["delete", "replace", "replace"]))
    junk = draw(json_values) if action == "replace" else None
    return mutate(doc, path, action, junk), path, action, junk


def assert_sound(state: GameState) -> None:
    """What a loaded state must satisfy: the engine's invariants, legal moves, a stable round trip."""
    assert 2 <= state.num_players <= 4 and 1 <= state.current_player <= state.num_players
    assert state.turn_number >= 1 and min(state.hand[1:] + state.elim[1:] + state.territory[1:]) >= 0
    assert violations(state) == []
    again = GameState.from_json(json.loads(json.dumps(state.to_json())))
    assert again.to_json() == state.to_json()


@SETTINGS
@given(broken_states())
def test_a_broken_state_is_refused_naming_a_field_or_loads_sound(case):
    bad, path, action, junk = case
    try:
        state = GameState.from_json(bad)
    except StateFormatError as exc:
        msg = str(exc)
        assert any(word in msg for word in VOCABULARY), msg
        key = path[-1]
        if action == "replace" and key in INT_FIELDS and junk is not None and not is_int(junk):
            assert key in msg, (path, junk, msg)  # the wrong-typed field itself is named
        if action == "replace" and key in OBJECT_FIELDS and junk is not None and not isinstance(junk, dict):
            assert key in msg, (path, junk, msg)
        return
    assert_sound(state)


@SETTINGS
@given(broken_states())
def test_partial_loading_fails_only_with_state_format_errors(case):
    bad = case[0]
    try:
        GameState.from_json(bad, partial=True)
    except StateFormatError:
        pass


@SETTINGS
@given(json_values)
def test_any_json_value_is_refused_cleanly_as_a_state_or_a_move(value):
    with pytest.raises(StateFormatError):
        GameState.from_json(value)
    try:
        Move.from_json(value)
    except StateFormatError:
        pass


@st.composite
def broken_moves(draw) -> tuple[GameState, dict]:
    state = draw(st.sampled_from([p for p in POSITIONS if p.status == "active"]))
    move = draw(st.sampled_from(legal_moves(state))).to_json({"moveNumber": 1})
    if draw(st.booleans()):
        path = draw(st.sampled_from(paths(move)))
        move = mutate(move, path, draw(st.sampled_from(["delete", "replace"])), draw(json_values))
    return state, move


@SETTINGS
@given(broken_moves())
def test_a_broken_move_is_refused_or_applies_to_a_sound_state(case):
    state, move_json = case
    before = state.to_json()
    try:
        move = Move.from_json(move_json)
        after = apply(state, move)
    except (StateFormatError, IllegalMoveError) as exc:
        assert str(exc)
        assert state.to_json() == before  # a refused move leaves the state as it was
        return
    assert state.to_json() == before
    assert violations(after) == []


def test_the_cases_from_the_issue_each_name_their_field():
    base = STATES[2]
    cases = {
        "currentPlayer": lambda d: d.pop("currentPlayer"),
        "turnNumber": lambda d: d.pop("turnNumber"),
        "ringsInHand": lambda d: d["players"][0].update(ringsInHand=-5),
        "'players' must be a list of 2 to 4": lambda d: d.update(players=d["players"][:1]),
        "turnNumber must be an integer, got 'garbage'": lambda d: d.update(turnNumber="garbage"),
        "totalRingsEliminated must be an integer, got nan": lambda d: d.update(totalRingsEliminated=float("nan")),
        "board.stacks must be an object": lambda d: d["board"].update(stacks=list(d["board"]["stacks"].values())),
    }
    for needle, damage in cases.items():
        bad = copy.deepcopy(base)
        damage(bad)
        with pytest.raises(StateFormatError) as err:
            GameState.from_json(bad)
        assert needle in str(err.value), (needle, str(err.value))
    with pytest.raises(StateFormatError, match="'to.x' must be an integer, got 'a'"):
        Move.from_json({"type": "place_ring", "player": 1, "to": {"x": "a", "y": 1}})
    with pytest.raises(StateFormatError, match="apply needs a Move, got dict"):
        apply(POSITIONS[0], {"type": "place_ring", "player": 1, "to": {"x": 1, "y": 1}})
