"""Neural selfplay: many games at once, one thread each, sharing one evaluator.

With an InferenceServer behind the evaluator, the games' positions meet in the
server's batches: the more games run concurrently, the fuller the batches. Each
game is an ordinary engine.selfplay.play_game between NeuralPlayers, so the
records are the same RingRift records every other player produces, and
engine.nn.samples turns them into training shards.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from engine.nn.evaluator import NeuralEvaluator, NeuralPlayer
from engine.selfplay import play_game


def play_neural_games(
    evaluator: NeuralEvaluator,
    board: str,
    num_players: int,
    games: int,
    *,
    concurrency: int = 64,
    temperature: float = 1.0,
    seed: int = 0,
    move_cap: int | None = None,
    id_prefix: str = "nn",
) -> list[dict]:
    """Play `games` games, `concurrency` at a time; game i is seeded `seed + i`. Records in game order."""

    def one(i: int) -> dict:
        gseed = seed + i
        players = [NeuralPlayer(evaluator, temperature=temperature, seed=gseed * 10 + p)
                   for p in range(num_players)]
        return play_game(board, num_players, players, game_id=f"{id_prefix}-{board}-{num_players}p-{gseed}",
                         seed=gseed, move_cap=move_cap)

    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, games)), thread_name_prefix="selfplay") as pool:
        return list(pool.map(one, range(games)))
