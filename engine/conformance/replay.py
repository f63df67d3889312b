"""Replay steps shared by contract vectors and rules-parity fixtures."""
from __future__ import annotations

from typing import Any

from engine.conformance import states as st
from engine.conformance.api import EngineAPI
from engine.conformance.model import Result, describe_error

_MAX_BOOKKEEPING = 8


def legality(api: EngineAPI, state: Any, move: Any, result: Result, label: str = "") -> bool | None:
    """Our engine's verdict on a move; `is_legal` raising instead of answering is a failure
    (it must answer True or False for any loadable state)."""
    try:
        return bool(api.is_legal(state, move))
    except Exception as exc:
        result.fail(f"{label}is_legal", "True or False", describe_error(exc))
        return None


def settle_bookkeeping(api: EngineAPI, state: Any, phase: str | None, player: int | None,
                       result: Result, label: str = "") -> Any:
    """Apply a no-action move while it is the only legal move and the expected phase (and
    player) is not reached, as RingRift's host does (R076; vectors README step 3).

    Fixtures older than explicit bookkeeping moves expect the state after them.
    """
    if phase is None:
        return state
    for _ in range(_MAX_BOOKKEEPING):
        if state.phase == phase and (player is None or state.current_player == player):
            break
        if state.status != "active":
            break
        legal = api.legal_moves(state)
        move_type = legal[0].to_json().get("type") if len(legal) == 1 else None
        if move_type not in st.NO_ACTION_MOVES:
            break
        result.notes.append(f"{label}applied bookkeeping {move_type}")
        state = api.apply(state, legal[0], trusted=True)
    return state
