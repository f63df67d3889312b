"""Starting a game: the initial state for a board and player count, with the move cap."""
from __future__ import annotations

from engine.geometry import SPECS
from engine.state import GameState

# Theoretical move caps per board and player count (2, 3, 4 players).
DEFAULT_MOVE_CAPS = {
    "square8": (500, 800, 1200),
    "hex8": (500, 800, 1200),
    "square19": (1200, 1600, 2000),
    "hexagonal": (1200, 1600, 2000),
}


def default_move_cap(board_type: str, num_players: int) -> int:
    return DEFAULT_MOVE_CAPS[board_type][num_players - 2]


def new_game(
    board_type: str,
    num_players: int,
    *,
    rules_options: dict | None = None,
    move_cap: int | None = None,
    game_id: str = "",
) -> GameState:
    """Empty board, every player holding their rings, player 1 to place.

    `move_cap` ends a game that runs too long (0 disables it; None takes the default).
    """
    if board_type not in SPECS:
        raise ValueError(f"unknown board type {board_type!r}: expected one of {', '.join(SPECS)}")
    if num_players not in (2, 3, 4):
        raise ValueError(f"num_players must be 2, 3 or 4, got {num_players!r}")
    s = GameState(board_type, num_players)
    s.rules_options = dict(rules_options or {})
    s.swap_enabled = bool(s.rules_options.get("swapRuleEnabled"))
    s.lps_required = int(s.rules_options.get("lpsRoundsRequired", 3))
    s.move_cap = default_move_cap(board_type, num_players) if move_cap is None else move_cap
    s.game_id = game_id
    return s
