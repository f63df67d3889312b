"""AI players. Every player implements `choose(state) -> Move` and returns a legal move."""
from engine.players.base import Player
from engine.players.random_player import RandomPlayer

__all__ = ["Player", "RandomPlayer", "make_player"]


def make_player(engine: str, seed: int | None = None) -> Player:
    """A player by engine name (the ladder and the heuristic/search players come later)."""
    if engine == "random":
        return RandomPlayer(seed)
    raise ValueError(f"unknown engine {engine!r}: available engines are: random")
