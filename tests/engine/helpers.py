"""Building small positions for rule tests from RingRift state JSON."""
from __future__ import annotations

from engine import GameState


def make_state(
    board: str = "square8",
    n: int = 2,
    *,
    stacks: dict[str, list[int]] | None = None,
    markers: dict[str, int] | None = None,
    collapsed: dict[str, int] | None = None,
    hands: list[int] | None = None,
    eliminated: list[int] | None = None,
    phase: str = "ring_placement",
    current: int = 1,
    rules_options: dict | None = None,
) -> GameState:
    """A state from RingRift JSON; `stacks` map keys to rings listed TOP first."""
    elim = eliminated or [0] * n
    terr = [0] * n
    for owner in (collapsed or {}).values():
        terr[owner - 1] += 1
    d = {
        "board": {
            "type": board,
            "stacks": {k: {"rings": r} for k, r in (stacks or {}).items()},
            "markers": {k: {"player": p} for k, p in (markers or {}).items()},
            "collapsedSpaces": dict(collapsed or {}),
            "eliminatedRings": {str(i + 1): e for i, e in enumerate(elim)},
        },
        "players": [
            {
                "playerNumber": i + 1,
                "ringsInHand": (hands or [0] * n)[i],
                "eliminatedRings": elim[i],
                "territorySpaces": terr[i],
            }
            for i in range(n)
        ],
        "currentPlayer": current,
        "currentPhase": phase,
        "gameStatus": "active",
        "totalRingsEliminated": sum(elim),
    }
    if rules_options:
        d["rulesOptions"] = rules_options
    return GameState.from_json(d, partial=True)  # a hand-made position


def types(moves) -> list[str]:
    return sorted({m.type for m in moves})
