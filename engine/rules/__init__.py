"""The rules: `legal_moves(state)` and `apply(state, move)` are the public entry points."""
from engine.rules.turn import apply, apply_in_place, is_legal, legal_moves

__all__ = ["apply", "apply_in_place", "is_legal", "legal_moves"]
