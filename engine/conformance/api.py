"""Access to the engine's public API, imported lazily.

The runner only uses the documented surface (`GameState.from_json`, `to_json`, `Move`,
`legal_moves`, `apply`, `is_legal`, `new_game` and the state attributes). Importing it
on first use keeps discovery and input errors working even when the engine is broken,
and gives tests one seam (`set_engine_api`) to substitute a stand-in.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class EngineAPI:
    state_from_json: Callable[[dict], Any]
    move_from_json: Callable[[dict, str | None], Any]  # (move JSON, board type)
    legal_moves: Callable[[Any], list]
    apply: Callable[..., Any]
    is_legal: Callable[[Any, Any], bool]
    new_game: Callable[..., Any]
    illegal_move_error: type[BaseException]


_api: EngineAPI | None = None


def engine_api() -> EngineAPI:
    """The engine package's API, imported on first call."""
    global _api
    if _api is None:
        import engine
        from engine.errors import IllegalMoveError

        _api = EngineAPI(
            # vectors are hand-made positions: fields may be missing, one seat may remain
            state_from_json=lambda d: engine.GameState.from_json(d, partial=True),
            move_from_json=engine.Move.from_json,
            legal_moves=engine.legal_moves,
            apply=engine.apply,
            is_legal=engine.is_legal,
            new_game=engine.new_game,
            illegal_move_error=IllegalMoveError,
        )
    return _api


def set_engine_api(api: EngineAPI | None) -> None:
    """Replace the engine the runner uses (tests); `None` restores the real one."""
    global _api
    _api = api
