"""Synthetic game records in RingRift's format, for data-layer tests and benchmarks.

They exercise storage, hashing and throughput without depending on the engine's
speed or correctness: the moves are shaped like real ones but not legal play.
Real records from the engine (or shared/vectors/random-games) are stored the same way.
"""
from __future__ import annotations

import random
from typing import Any

ENGINES = ("uniform_random", "heuristic:D3", "minimax:D5", "mcts:D7", "neural:D9")
_SQUARE = {"square8": 8, "square19": 19}
_HEX_RADIUS = {"hex8": 4, "hexagonal": 12}


def _position(rng: random.Random, board_type: str) -> dict[str, int]:
    if board_type in _SQUARE:
        n = _SQUARE[board_type]
        return {"x": rng.randrange(n), "y": rng.randrange(n)}
    r = _HEX_RADIUS[board_type]
    x = rng.randint(-r, r)
    y = rng.randint(max(-r, -x - r), min(r, -x + r))
    return {"x": x, "y": y, "z": -x - y}


def synthetic_game(seed: int, board_type: str = "square8", num_players: int = 2,
                   game_id: str | None = None, moves: int | None = None,
                   source_host: str | None = None) -> dict[str, Any]:
    """A game record that is unique per seed (different seeds give different content hashes)."""
    rng = random.Random(seed)
    n_moves = moves if moves is not None else rng.randint(40, 160)
    engines = [rng.choice(ENGINES) for _ in range(num_players)]
    move_list = []
    for i in range(n_moves):
        player = i % num_players + 1
        move: dict[str, Any] = {"moveNumber": i + 1, "player": player, "thinkTimeMs": rng.randint(0, 50),
                                "id": f"m{i}", "to": _position(rng, board_type)}
        if i < 2 * num_players:
            move.update(type="place_ring", placementCount=rng.randint(1, 3))
        else:
            move.update(type="move_stack", **{"from": _position(rng, board_type)})
        move_list.append(move)
    hit_cap = rng.random() < 0.05
    metadata: dict[str, Any] = {"recordVersion": "1.0.0", "source": "self_play", "hitMoveCap": hit_cap,
                                "engines": engines, "seed": seed}
    if source_host:
        metadata["sourceHost"] = source_host
    return {
        "id": game_id or f"syn-{board_type}-{num_players}p-{seed}",
        "boardType": board_type,
        "numPlayers": num_players,
        "players": [{"playerNumber": p + 1, "playerType": "ai", "aiType": engines[p].split(":")[0]}
                    for p in range(num_players)],
        "winner": None if hit_cap else rng.randint(1, num_players),
        "outcome": "move_cap" if hit_cap else rng.choice(["ring_elimination", "territory_control",
                                                          "last_player_standing"]),
        "totalMoves": n_moves,
        "moves": move_list,
        "metadata": metadata,
    }
