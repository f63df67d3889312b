"""The one interface every player shares."""
from __future__ import annotations

from typing import Protocol, runtime_checkable

from engine.moves import Move
from engine.state import GameState


@runtime_checkable
class Player(Protocol):
    """Given a state, return one of its legal moves. Deterministic for a given seed."""

    name: str

    def choose(self, state: GameState) -> Move: ...
