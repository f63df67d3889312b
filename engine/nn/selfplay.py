"""Neural selfplay: many games at once, one thread each, sharing one evaluator.

With an InferenceServer behind the evaluator, the games' positions meet in the
server's batches: the more games run concurrently, the fuller the batches. Each
game is an ordinary engine.selfplay.play_game, so the records are the same
RingRift records every other player produces, and engine.nn.samples turns them
into training shards.

Two kinds of game:
- `full_sims=0` (the default): NeuralPlayers play the raw policy (no search);
  samples then train on the played moves.
- `full_sims>0`: MCTS on the net with playout-cap randomisation (KataGo, Wu 2019).
  Each decision gets a full search (`full_sims` simulations, root noise, its visit
  distribution or Gumbel improved policy recorded as the policy target) with
  probability `full_prob`, else a fast search (`fast_sims`, no noise, greedy)
  whose move is played but not trained on. Most moves are then cheap, so more
  games (more outcomes) fit the same compute, while every policy target still
  comes from a full search. The record keeps the targets in
  metadata["searchTargets"], aligned with its moves: None for a move without a
  target, else [[index in legal_moves(state), probability], ...].
"""
from __future__ import annotations

import random
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from engine.moves import Move
from engine.nn.evaluator import NeuralEvaluator, NeuralPlayer
from engine.players.mcts import MCTSPlayer
from engine.records import SEARCH_TARGETS
from engine.rules import legal_moves
from engine.selfplay import play_game
from engine.state import GameState


def encode_target(state_moves: list[Move], dist: Mapping[Move, float]) -> list[list[float]]:
    """A move -> probability map as [[legal index, probability], ...] (JSON-friendly, compact)."""
    where = {m: j for j, m in reversed(list(enumerate(state_moves)))}
    return sorted([where[m], round(float(p), 6)] for m, p in dist.items() if round(float(p), 6) > 0)


class PlayoutCapPlayer:
    """An MCTSPlayer whose budget is drawn per move (full or fast), logging the full
    searches' policy targets into `log` (one entry per move of the game, all seats shared)."""

    def __init__(self, search: MCTSPlayer, log: list[Any], *, full_prob: float, full_sims: int,
                 fast_sims: int, temperature: float, seed: int, name: str = "neural-mcts"):
        self.search, self.log = search, log
        self.full_prob, self.full_sims, self.fast_sims = full_prob, full_sims, fast_sims
        self.temperature = temperature
        self.rng = random.Random(seed)
        self.name = name

    def choose(self, state: GameState) -> Move:
        moves = legal_moves(state)
        if len(moves) == 1:
            self.log.append(None)
            return moves[0]
        full = self.rng.random() < self.full_prob
        s = self.search
        if not full and self.fast_sims <= 0:  # fast = the net's prior, no search
            priors, _ = s.evaluator.evaluate([state])[0]
            self.log.append(None)
            return max(moves, key=lambda m: priors.get(m, 0.0)) if priors else moves[0]
        s.simulations = self.full_sims if full else self.fast_sims
        s.noise = full
        s.temperature = self.temperature if full else 0.0
        s.gumbel_scale = 1.0 if full else 0.0
        move, dist = s.search(state)
        self.log.append(encode_target(moves, dist) if full else None)
        return move


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
    full_sims: int = 0,
    full_prob: float = 0.25,
    fast_sims: int | None = None,
    search: dict[str, Any] | None = None,
) -> list[dict]:
    """Play `games` games, `concurrency` at a time; game i is seeded `seed + i`. Records in game order.

    With `full_sims` > 0 the games are searched with playout-cap randomisation (module docstring);
    `fast_sims` defaults to full_sims // 4, and `search` passes MCTSPlayer options (root="gumbel",
    gumbel_k, batch_size, c_puct...). The evaluator must be thread-safe when `concurrency` > 1
    (an InferenceServer backend is; a BatchRunner is not)."""
    fast = full_sims // 4 if fast_sims is None else fast_sims
    opts = {"batch_size": 8, **(search or {})}

    def one(i: int) -> dict:
        gseed = seed + i
        gid = f"{id_prefix}-{board}-{num_players}p-{gseed}"
        if full_sims <= 0:
            players = [NeuralPlayer(evaluator, temperature=temperature, seed=gseed * 10 + p)
                       for p in range(num_players)]
            return play_game(board, num_players, players, game_id=gid, seed=gseed, move_cap=move_cap)
        log: list[Any] = []
        players = [PlayoutCapPlayer(MCTSPlayer(gseed * 10 + p, evaluator=evaluator, **opts), log,
                                    full_prob=full_prob, full_sims=full_sims, fast_sims=fast,
                                    temperature=temperature, seed=gseed * 10 + p + 5)
                   for p in range(num_players)]
        record = play_game(board, num_players, players, game_id=gid, seed=gseed, move_cap=move_cap)
        if len(log) != len(record["moves"]):
            raise RuntimeError(f"game {gid}: {len(log)} search entries for {len(record['moves'])} moves")
        record["metadata"][SEARCH_TARGETS] = log
        record["metadata"]["playoutCap"] = {"fullProb": full_prob, "fullSims": full_sims, "fastSims": fast,
                                            "root": opts.get("root", "puct")}
        return record

    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, games)), thread_name_prefix="selfplay") as pool:
        return list(pool.map(one, range(games)))
