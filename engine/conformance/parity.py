"""Rules-parity fixtures (square8, 2 players): `state_only`, `state_action` and `trace`.

Each fixture records what RingRift's TypeScript engine said: whether a move is valid
(`tsValid`) and, for valid moves, a summary of the next state (`tsNext`, or a trace
step's `tsStateHash` and `tsS`). The state hash is RingRift's readable fingerprint
`player:phase:status[:…]#players#stacks#markers#collapsed`; the runner rebuilds the same
parts from our `to_json()` and compares them part by part.

As with contract vectors, a move TS accepted is applied as a trusted replay (pending
obligations such as an owed self-elimination are not serialized, RULES.md §15) and our
legality verdict is only noted; a move TS rejected must be rejected by our engine.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.conformance import states as st
from engine.conformance.api import engine_api
from engine.conformance.model import PARITY, Result, describe_error
from engine.conformance.replay import legality, settle_bookkeeping

# Older move-type names RingRift later renamed; the fixtures still use them.
LEGACY_MOVE_TYPES = {"choose_line_reward": "choose_line_option", "process_territory_region": "choose_territory_option"}
_HASH_PARTS = ("meta", "players", "stacks", "markers", "collapsed")


def normalize_state(state: dict) -> dict:
    """The fixtures were captured from a host game still in its lobby (`waiting`); for
    the rules that is an active game."""
    if isinstance(state, dict) and state.get("gameStatus") == "waiting":
        return {**state, "gameStatus": "active"}
    return state


def normalize_move(move: dict) -> dict:
    if isinstance(move, dict) and move.get("type") in LEGACY_MOVE_TYPES:
        return {**move, "type": LEGACY_MOVE_TYPES[move["type"]]}
    return move


def fingerprint_parts(state: dict) -> dict[str, Any]:
    """RingRift's fingerprint parts computed from a serialized state (ring order top-first)."""
    players = sorted(
        f"{p.get('playerNumber')}:{p.get('ringsInHand')}:{p.get('eliminatedRings')}:{p.get('territorySpaces')}"
        for p in state.get("players") or []
    )
    stacks = sorted(f"{k}:{r[0]}:{len(r)}:{st.cap_height(r)}" for k, r in st.stacks_of(state).items() if r)
    return {
        "meta": [str(state.get("currentPlayer")), str(state.get("currentPhase"))],
        "players": players,
        "stacks": stacks,
        "markers": sorted(f"{k}:{v}" for k, v in st.markers_of(state).items()),
        "collapsed": sorted(f"{k}:{v}" for k, v in st.collapsed_of(state).items()),
    }


def parse_hash(text: str) -> dict[str, Any]:
    """Split an expected fingerprint; status and later meta fields are host data, dropped."""
    pieces = text.split("#")
    pieces += [""] * (len(_HASH_PARTS) - len(pieces))
    parsed = {name: sorted(p for p in piece.split("|") if p) for name, piece in zip(_HASH_PARTS, pieces)}
    parsed["meta"] = pieces[0].split(":")[:2]
    return parsed


def _check_hash(result: Result, label: str, expected_hash: str, ours: dict) -> None:
    want, got = parse_hash(expected_hash), fingerprint_parts(ours)
    for part in _HASH_PARTS:
        if want[part] != got[part]:
            result.fail(f"{label}stateHash.{part}", "|".join(want[part]), "|".join(got[part]))


def _check_next(result: Result, label: str, expected: dict, state, ours: dict) -> None:
    """Compare `tsNext`-style summaries; thresholds and `totalRingsInPlay` are host data."""
    checks = {
        "currentPhase": ours.get("currentPhase"),
        "currentPlayer": ours.get("currentPlayer"),
        "gameStatus": ours.get("gameStatus"),
        "markers": len(st.markers_of(ours)),
        "collapsed": len(st.collapsed_of(ours)),
        "eliminated": sum(st.board_eliminated(ours).values()),
        "S": st.s_invariant(ours),
        "tsS": st.s_invariant(ours),
        "boardType": getattr(state, "board_type", None),
    }
    for key, want in expected.items():
        if key == "gameStatus" and want == "waiting":
            want = "active"
        if key in checks and checks[key] != want:
            result.fail(f"{label}{key}", want, checks[key])
    for key in ("stateHash", "tsStateHash"):
        if key in expected:
            _check_hash(result, label, expected[key], ours)


def _step(api, result: Result, label: str, state, move_json: dict, expected: dict):
    """One move with its TS verdict; returns the state to continue from."""
    move_json = normalize_move(move_json)
    try:
        move = api.move_from_json(move_json, getattr(state, "board_type", None))
    except Exception as exc:
        result.fail(f"{label}move", "a move the engine decodes", describe_error(exc))
        return state
    if expected.get("tsValid") is False:
        if legality(api, state, move, result, label):
            result.fail(f"{label}tsValid", False, True)
        try:
            api.apply(state, move)
            result.fail(f"{label}apply", "IllegalMoveError", "move accepted")
        except api.illegal_move_error:
            pass
        except Exception as exc:
            result.fail(f"{label}apply", "IllegalMoveError", describe_error(exc))
        return state
    legal = legality(api, state, move, result, label)
    result.notes.append(f"{label}is_legal said {legal} for {move_json.get('type')} (TS: valid; not counted)")
    try:
        nxt = api.apply(state, move, trusted=True)
    except Exception as exc:
        result.fail(f"{label}apply({move_json.get('type')})", "accepted as trusted replay", describe_error(exc))
        return state
    summary = expected.get("tsNext", expected)
    phase, player = _expected_turn(summary)
    nxt = settle_bookkeeping(api, nxt, phase, player, result, label)
    _check_next(result, label, summary, nxt, nxt.to_json())
    return nxt


def _expected_turn(summary: dict) -> tuple[str | None, int | None]:
    """Phase and player TS reached, from the summary or else from its state hash."""
    phase, player = summary.get("currentPhase"), summary.get("currentPlayer")
    text = summary.get("stateHash") or summary.get("tsStateHash")
    if phase is None and text:
        meta = parse_hash(text)["meta"]
        if len(meta) == 2 and meta[0].isdigit():
            player, phase = int(meta[0]), meta[1]
    return phase, player


def run_fixture(data: dict, fixture_id: str, source: Path) -> Result:
    """Run one rules-parity fixture of any of the three shapes."""
    api = engine_api()
    result = Result(fixture_id, PARITY, source)
    raw = normalize_state(data.get("initialState", data.get("state")))
    try:
        state = api.state_from_json(raw)
    except Exception as exc:
        result.fail("state", "a state the engine loads", describe_error(exc))
        return result
    if "steps" in data:
        for number, step in enumerate(data["steps"], 1):
            state = _step(api, result, f"step {number} ({step.get('label')}): ", state, step.get("move") or {}, step.get("expected") or {})
    elif "move" in data:
        _step(api, result, "", state, data["move"], data.get("expected") or {})
    else:
        diff, count = st.first_state_diff(raw, state.to_json(), "round-trip ")
        if diff is not None:
            result.failures.append(diff)
            result.notes.append(f"{count} key path(s) differ after from_json/to_json")
        if state.status == "active" and not api.legal_moves(state):
            result.fail("legal_moves", "at least one move in an active state", [])
    return result
