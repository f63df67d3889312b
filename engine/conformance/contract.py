"""Contract vectors: one state, one move (or a capture chain), assertions on the result.

Follows /shared/vectors/README.md "Running a vector": trusted replay of the move with
legality recorded apart (step 1), the rest of a capture chain (step 2), the host's
bookkeeping no-action moves up to the asserted phase (step 3), then every assertion key,
an unknown key being a failure (step 4). `status` is reported, never counted.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from engine.conformance import states as st
from engine.conformance.api import engine_api
from engine.conformance.model import CONTRACT, Result, describe_error
from engine.conformance.replay import legality, settle_bookkeeping

CAPTURE_MOVES = frozenset({"overtaking_capture", "continue_capture_segment"})
_PLAYER_KEY = re.compile(r"^player(\d+)(RingsInHand|EliminatedRings|TerritorySpaces)$")
_PLAYER_FIELD = {"RingsInHand": "ringsInHand", "EliminatedRings": "eliminatedRings", "TerritorySpaces": "territorySpaces"}


@dataclass
class Outcome:
    """What one vector's replay produced, as the assertion checks read it."""

    before: dict
    after: dict
    state: Any
    moves: list[dict]
    chain_targets: list[str]
    mover: int

    def captures(self) -> list[dict]:
        return [m for m in self.moves if m.get("type") in CAPTURE_MOVES]

    def final_stack(self) -> list[int] | None:
        caps = self.captures()
        return st.stacks_of(self.after).get(st.position_key(caps[-1]["to"])) if caps else None


def _attr(name: str) -> Callable[[Outcome], Any]:
    return lambda out: getattr(out.state, name)


def _json(name: str) -> Callable[[Outcome], Any]:
    return lambda out: out.after.get(name)


def _final_height(out: Outcome) -> int | None:
    stack = out.final_stack()
    return len(stack) if stack else None


def _final_controller(out: Outcome) -> int | None:
    stack = out.final_stack()
    return stack[0] if stack else None


CHECKS: dict[str, Callable[[Outcome], Any]] = {
    "currentPlayer": _json("currentPlayer"),
    "currentPhase": _json("currentPhase"),
    "gameStatus": _json("gameStatus"),
    "stackCount": lambda out: len(st.stacks_of(out.after)),
    "markerCount": lambda out: len(st.markers_of(out.after)),
    "collapsedCount": lambda out: len(st.collapsed_of(out.after)),
    "sInvariantDelta": lambda out: st.s_invariant(out.after) - st.s_invariant(out.before),
    "victoryWinner": _attr("winner"),
    "victoryReason": _attr("victory_reason"),
    "pendingDecisionType": _attr("pending_decision_type"),
    "totalCapturesInChain": lambda out: len(out.captures()),
    "finalStackHeight": _final_height,
    "finalStackController": _final_controller,
    "targetStacksRemaining": lambda out: sum(1 for k in out.chain_targets if k in st.stacks_of(out.after)),
    "markersCreated": lambda out: len(set(st.markers_of(out.after)) - set(st.markers_of(out.before))),
    # Recovery: rings of the mover that left the board (buried-ring extractions, R113) and
    # whether no cell collapsed (fallback slides collapse nothing, R112b).
    "extractionCount": lambda out: st.rings_of_player(out.before, out.mover) - st.rings_of_player(out.after, out.mover),
    "noLineCollapse": lambda out: set(st.collapsed_of(out.after)) <= set(st.collapsed_of(out.before)),
}


def actual_value(key: str, out: Outcome) -> tuple[bool, Any]:
    """(known, value) for an assertion key; unknown keys are reported as failures."""
    if key in CHECKS:
        return True, CHECKS[key](out)
    match = _PLAYER_KEY.match(key)
    if match:
        return True, st.player_entry(out.after, int(match.group(1))).get(_PLAYER_FIELD[match.group(2)])
    return False, None


def same(expected: Any, actual: Any) -> bool:
    """Equality that does not let `True == 1` or `0 == False` pass."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    return expected == actual


def run_vector(vector: dict, source: Path) -> Result:
    """Run one contract vector against the engine."""
    api = engine_api()
    result = Result(str(vector.get("id", "?")), CONTRACT, source)
    inp, expected = vector.get("input") or {}, vector.get("expectedOutput") or {}
    assertions = expected.get("assertions") or {}
    move_json = inp.get("move") or inp.get("initialMove")
    try:
        state = api.state_from_json(inp.get("state"))
    except Exception as exc:
        result.fail("input.state", "a state the engine loads", describe_error(exc))
        return result
    if not isinstance(move_json, dict):
        result.fail("input.move", "a move or initialMove", move_json)
        return result
    before = state.to_json()
    try:
        move = api.move_from_json(move_json, state.board_type)
    except Exception as exc:
        result.fail("input.move", "a move the engine decodes", describe_error(exc))
        return result
    result.legal = legality(api, state, move, result)
    try:
        state = api.apply(state, move, trusted=True)
    except Exception as exc:
        result.fail(f"apply({move_json.get('type')})", "accepted as trusted replay", describe_error(exc))
        return result
    result.notes.append(f"is_legal said {result.legal} for the {move_json.get('type')} move")
    moves = [move_json]
    state = _play_chain(api, state, inp, expected, move_json, moves, result)
    state = settle_bookkeeping(api, state, assertions.get("currentPhase"), assertions.get("currentPlayer"), result)
    out = Outcome(before, state.to_json(), state, moves, _chain_targets(inp, move_json), int(move_json.get("player") or 0))
    for key, want in assertions.items():
        known, got = actual_value(key, out)
        if not known:
            result.fail(key, want, "unknown assertion key")
        elif not same(want, got):
            result.fail(key, want, got)
    for key in (k for k in ("finalState",) if k in expected or k in assertions):
        _check_chain_final_state(expected.get(key, assertions.get(key)), out, result)
    if "status" in expected:
        ours = "awaiting_decision" if getattr(state, "pending_decision_type", None) else "complete"
        result.notes.append(f"status: vector says {expected['status']!r}, engine gives {ours!r} (not counted)")
    return result


def _segments(inp: dict, first: dict) -> list[dict]:
    """The chain's segments after the initial move, as continue_capture_segment moves."""
    start = (_key(first.get("from")), _key(first.get("captureTarget")), _key(first.get("to")))
    segments = []
    for seg in inp.get("expectedChainSequence") or []:
        landing = seg.get("landing") or seg.get("to")
        if (_key(seg.get("from")), _key(seg.get("captureTarget")), _key(landing)) == start and not segments:
            continue
        segments.append({"type": "continue_capture_segment", "player": first.get("player"),
                         "from": seg.get("from"), "captureTarget": seg.get("captureTarget"), "to": landing})
    return segments


def _key(pos: dict | None) -> str | None:
    return st.position_key(pos) if isinstance(pos, dict) else None


def _chain_targets(inp: dict, first: dict) -> list[str]:
    targets = [first.get("captureTarget")] + [s.get("captureTarget") for s in inp.get("expectedChainSequence") or []]
    return sorted({_key(t) for t in targets if isinstance(t, dict)})


def _play_chain(api, state, inp: dict, expected: dict, first: dict, moves: list[dict], result: Result):
    """Step 2: the remaining chain segments, while the engine still says a chain is on."""
    if expected.get("status") == "awaiting_decision" or (expected.get("assertions") or {}).get("currentPhase") == "chain_capture":
        return state
    for seg in _segments(inp, first):
        if state.phase != "chain_capture":
            result.notes.append(f"engine left chain_capture after {len(moves)} segment(s); rest of the chain not applied")
            break
        state = api.apply(state, api.move_from_json(seg, state.board_type), trusted=True)
        moves.append(seg)
    return state


def _check_chain_final_state(summary: Any, out: Outcome, result: Result) -> None:
    """Chain vectors' `finalState` summary: where the stack ended and where markers lie."""
    if not isinstance(summary, dict):
        result.fail("finalState", summary, "unknown finalState form")
        return
    stacks, markers = st.stacks_of(out.after), st.markers_of(out.after)
    for key, want in summary.items():
        if key == "finalStackPosition":
            got = st.position_key(want) if st.position_key(want) in stacks else sorted(stacks)
            if got != st.position_key(want):
                result.fail("finalState.finalStackPosition", st.position_key(want), got)
        elif key == "markerPositions":
            exp_keys = sorted(st.position_key(p) for p in want)
            if exp_keys != sorted(markers):
                result.fail("finalState.markerPositions", exp_keys, sorted(markers))
        else:
            result.fail(f"finalState.{key}", want, "unknown assertion key")
