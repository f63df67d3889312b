"""Positions for the neural-net tests: states met along seeded random games."""
from __future__ import annotations

import random
from functools import lru_cache

from engine import GameState, apply_in_place, legal_moves, new_game

CONFIGS = [(b, n) for b in ("square8", "hex8", "square19", "hexagonal") for n in (2, 3, 4)]
SMALL = ("square8", "hex8")


@lru_cache(maxsize=None)
def _positions(board: str, n: int, games: int, max_plies: int, every: int, seed: int) -> tuple[GameState, ...]:
    out = []
    for g in range(games):
        rng = random.Random(seed * 1000 + g)
        s = new_game(board, n)
        ply = 0
        while s.status == "active" and ply < max_plies:
            moves = legal_moves(s)
            if ply % every == 0 or len({m.type for m in moves}) > 1 or moves[0].type not in ("place_ring",):
                out.append(s.copy())
            apply_in_place(s, moves[rng.randrange(len(moves))])
            ply += 1
    return tuple(out)


def positions(board: str, n: int, *, games: int | None = None, max_plies: int | None = None,
              every: int = 1, seed: int = 0) -> tuple[GameState, ...]:
    """Positions of random games: whole games on the small boards, the first plies on the big ones."""
    small = board in SMALL
    return _positions(board, n, games or (4 if small else 1), max_plies or (10_000 if small else 160),
                      every, seed)




def make_state(board: str, n: int, *, stacks: dict[str, list[int]] | None = None,
               markers: dict[str, int] | None = None, collapsed: dict[str, int] | None = None,
               hands: list[int] | None = None, phase: str = "movement", current: int = 1) -> GameState:
    """A state from RingRift JSON; `stacks` map keys to rings listed TOP first."""
    terr = [0] * n
    for owner in (collapsed or {}).values():
        terr[owner - 1] += 1
    return GameState.from_json({
        "board": {"type": board, "stacks": {k: {"rings": r} for k, r in (stacks or {}).items()},
                  "markers": {k: {"player": p} for k, p in (markers or {}).items()},
                  "collapsedSpaces": dict(collapsed or {}), "eliminatedRings": {}},
        "players": [{"playerNumber": i + 1, "ringsInHand": (hands or [0] * n)[i], "eliminatedRings": 0,
                     "territorySpaces": terr[i]} for i in range(n)],
        "currentPlayer": current, "currentPhase": phase, "gameStatus": "active", "totalRingsEliminated": 0,
    }, partial=True)  # a hand-made position


def recovery_position() -> GameState:
    """Player 1 controls no stack, has a buried ring in two stacks and markers one slide away
    from a 5-marker line: recovery line slides with Option 1 and Option 2 are legal."""
    return make_state("square8", 2, stacks={"6,6": [2, 1], "7,3": [2, 2, 1]},
                      markers={"0,0": 1, "1,0": 1, "2,0": 1, "4,0": 1, "3,1": 1, "5,5": 2})
