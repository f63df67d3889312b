"""RingRift rules engine, players and neural net. No Prefect, no I/O beyond files handed in.

Public API:
    new_game(board_type, num_players) -> GameState
    legal_moves(state) -> list[Move]
    apply(state, move, *, trusted=False) -> GameState   (never mutates `state`)
    GameState.from_json / to_json, Move.from_json / to_json
"""
from engine.errors import IllegalMoveError, RulesError, StateFormatError
from engine.game import default_move_cap, new_game
from engine.moves import Move
from engine.rules import apply, apply_in_place, is_legal, legal_moves
from engine.state import GameState

__all__ = [
    "GameState", "Move", "new_game", "legal_moves", "apply", "apply_in_place", "is_legal",
    "default_move_cap", "RulesError", "IllegalMoveError", "StateFormatError",
]
