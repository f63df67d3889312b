"""Real games for the viewer tests, played by the engine's random players (seeded, so repeatable)."""
from __future__ import annotations

from functools import lru_cache
from typing import Any

from engine.players import make_player
from engine.selfplay import play_game


@lru_cache(maxsize=None)
def _game(board: str, players: int, seed: int, move_cap: int) -> dict[str, Any]:
    seats = [make_player("random", seed=seed * 10 + k) for k in range(players)]
    return play_game(board, players, seats, game_id=f"{board}-{players}p-s{seed}", seed=seed, move_cap=move_cap)


def game(board: str, players: int, seed: int = 1, move_cap: int = 300) -> dict[str, Any]:
    """A finished (or move-capped) game record; a fresh copy each call."""
    import copy
    return copy.deepcopy(_game(board, players, seed, move_cap))
