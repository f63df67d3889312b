"""The three divergences from RingRift's canonical engine found in issue 16, each pinned.

(a) hex move JSON giving cube positions as {x, y} only: z is derived, as for board keys;
(b) recorded games replay without our selfplay move cap;
(c) after an overtaking capture the landing stack comes before the surviving target in
    the stack order an unchosen recovery extraction follows.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from engine import Move, apply, legal_moves, new_game
from engine.conformance.games import run_game
from engine.conformance.model import GOLDEN
from engine.game import DEFAULT_MOVE_CAPS

from tests.engine.helpers import make_state

REPO = Path(__file__).resolve().parents[2]


def random_games(name: str) -> dict:
    root = Path(os.environ.get("RINGRIFT_VECTORS") or REPO.parent / "shared" / "vectors")
    path = root / "random-games" / f"{name}.json"
    assert path.is_file(), f"canonical random games not found at {path} (set RINGRIFT_VECTORS)"
    return json.loads(path.read_text())


def without_z(value):
    """The same JSON with every position's z dropped: {x, y, z} -> {x, y}."""
    if isinstance(value, dict):
        return {k: without_z(v) for k, v in value.items() if not (k == "z" and "x" in value and "y" in value)}
    if isinstance(value, list):
        return [without_z(v) for v in value]
    return value


# --- (a) hex positions as {x, y} -----------------------------------------------------------------

def test_hex_move_json_without_z_gets_z_derived() -> None:
    d = {"type": "overtaking_capture", "player": 1, "from": {"x": 1, "y": -2},
         "captureTarget": {"x": 1, "y": 0}, "to": {"x": 1, "y": 2, "z": -3}}
    m = Move.from_json(d, "hex8")
    assert (m.frm, m.target, m.to) == ("1,-2,1", "1,0,-1", "1,2,-3")
    region = {"type": "choose_territory_option", "player": 2,
              "disconnectedRegions": [{"spaces": [{"x": 0, "y": 0}, {"x": -1, "y": 1}]}]}
    assert Move.from_json(region, "hexagonal").region == frozenset({"0,0,0", "-1,1,0"})
    # Square boards (and no board given) keep two-part keys.
    assert Move.from_json(d, "square8").frm == "1,-2"
    assert Move.from_json(d).frm == "1,-2"


def test_apply_on_a_hex_board_reads_two_part_keys_as_cube_cells() -> None:
    s = new_game("hex8", 2)
    m = Move.from_json({"type": "place_ring", "player": 1, "to": {"x": 2, "y": -1}, "placementCount": 2})
    after = apply(s, m)  # checked apply: legal only once z is derived
    assert after.stacks[after.geo.index["2,-1,-1"]] == (1, 1)
    assert after.hand[1] == s.hand[1] - 2


def test_canonical_hex_game_with_positions_as_xy_replays_exactly() -> None:
    """A canonical hex8 game with six territory choices, every position stripped to {x, y}:
    each region must still name its cells and collapse them (finalState compared in full)."""
    data = random_games("hex8_2p")
    game = next(g for g in data["games"] if g["id"] == "rr-random-hex8-2p-3020017")
    assert sum(m["type"] == "choose_territory_option" for m in game["moves"]) == 6
    stripped = {**game, "moves": without_z(game["moves"])}
    assert "z" not in json.dumps(stripped["moves"])
    defaults = {"boardType": data["boardType"], "numPlayers": data["numPlayers"]}
    result = run_game(stripped, Path("hex8_2p.json"), defaults=defaults)
    assert result.failures == [], result.failures


# --- (b) no move cap on replays ------------------------------------------------------------------

def test_replaying_a_record_longer_than_the_default_cap_is_not_cut_off(monkeypatch) -> None:
    """The default cap is lowered below a canonical game's length: selfplay games still stop
    at it, a recorded game still replays to its recorded end (the canonical hexagonal 2p game
    of 1,208 moves is the real case, against a default cap of 1,200)."""
    data = random_games("square8_2p")
    game = max(data["games"], key=lambda g: len(g["moves"]))
    cap = len(game["moves"]) // 2
    monkeypatch.setitem(DEFAULT_MOVE_CAPS, "square8", (cap, cap, cap))
    capped = new_game("square8", 2)
    for i, mj in enumerate(game["moves"]):
        if capped.status != "active":
            break
        capped = apply(capped, Move.from_json(mj, "square8"))
    assert capped.status != "active" and i == cap, "the lowered default cap should end a capped game"
    result = run_game(game, Path("square8_2p.json"), kind=GOLDEN, defaults={"boardType": "square8", "numPlayers": 2})
    assert result.failures == [], result.failures


# --- (c) stack order after a capture ---------------------------------------------------------------

def _capture_then_recovery():
    """P1 captures from 0,0 over 0,2 to 0,3; both the landing stack and the surviving target
    hold a buried P2 ring. P2 then has no stack, no ring in hand, a marker: recovery."""
    s = make_state(stacks={"0,0": [1, 1, 2], "0,2": [1, 1, 2], "7,0": [1]},
                   markers={"5,5": 2}, hands=[0, 0], phase="movement", current=1)
    s = apply(s, Move("overtaking_capture", 1, "0,3", "0,0", "0,2"))
    return s


def test_landing_stack_precedes_the_surviving_target_in_stack_order() -> None:
    s = _capture_then_recovery()
    born, index = s.stack_born, s.geo.index
    assert s.stacks[index["0,3"]] == (1, 2, 1, 1) and s.stacks[index["0,2"]] == (2, 1)
    assert born[index["0,3"]] < born[index["0,2"]]


def test_unchosen_recovery_extraction_takes_from_the_landing_stack() -> None:
    s = _capture_then_recovery()
    while s.current_player == 1 and s.status == "active":  # P1's bookkeeping to the end of its turn
        (only,) = legal_moves(s)
        s = apply(s, only)
    assert s.current_player == 2
    if [m.type for m in legal_moves(s)] == ["no_placement_action"]:  # no ring in hand
        s = apply(s, legal_moves(s)[0])
    slides = [m for m in legal_moves(s) if m.type == "recovery_slide"]
    assert slides, f"P2 should be able to recover; legal: {legal_moves(s)}"
    chosen = {m.extraction for m in slides}
    assert chosen == {("0,2",), ("0,3",)}  # both stacks are eligible: the order decides
    m = slides[0]
    recorded = Move("recovery_slide", 2, m.to, m.frm, mode=m.mode, option=m.option, extraction=())
    after = apply(s, recorded)  # as the canonical host records it: no stack named
    index = after.geo.index
    assert after.stacks[index["0,3"]] == (1, 1, 1)  # P2's buried ring left the landing stack
    assert after.stacks[index["0,2"]] == (2, 1)  # the target kept its P2 ring
    assert after.elim[2] == 1


@pytest.mark.parametrize("landing_marker", [False, True])
def test_capture_order_holds_when_landing_on_a_marker(landing_marker: bool) -> None:
    markers = {"5,5": 2, **({"0,3": 2} if landing_marker else {})}
    s = make_state(stacks={"0,0": [1, 1, 2], "0,2": [1, 1, 2]}, markers=markers, hands=[0, 0],
                   phase="movement", current=1)
    s = apply(s, Move("overtaking_capture", 1, "0,3", "0,0", "0,2"))
    index = s.geo.index
    assert s.stack_born[index["0,3"]] < s.stack_born[index["0,2"]]
    assert len(s.stacks[index["0,3"]]) == (3 if landing_marker else 4)


# --- where RingRift's engine differs from its written rules we follow the rules -------------------

def test_multi_ring_placement_is_offered_where_a_single_ring_would_be_dead() -> None:
    """docs/conformance-disputed.json, `rules_over_engine`: the canonical engine lists
    placement cells by trying one ring only, so a cell where one ring could not move but two
    could capture is never offered; R081 allows the two-ring placement, and so do we."""
    s = make_state(stacks={"1,0": [2, 2], "0,1": [2, 2], "1,1": [2, 2], "7,7": [1]},
                   hands=[5, 5], phase="ring_placement", current=1)
    corner = {m.count for m in legal_moves(s) if m.type == "place_ring" and m.to == "0,0"}
    assert corner == {2, 3}  # one ring: boxed in, and cap 1 cannot overtake a cap of 2
    after = apply(s, Move("place_ring", 1, "0,0", count=2))
    captures = {(m.target, m.to) for m in legal_moves(after) if m.type == "overtaking_capture"}
    assert ("1,0", "2,0") in captures
