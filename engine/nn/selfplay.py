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

import math
import random
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from engine.moves import Move
from engine.nn.evaluator import NeuralEvaluator, NeuralPlayer
from engine.players.mcts import MCTSPlayer
from engine.records import SEARCH_TARGETS, SEARCH_VALUES
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
                 fast_sims: int, temperature: float, seed: int, name: str = "neural-mcts",
                 values: list[Any] | None = None, temperature_plies: int | None = None):
        self.search, self.log, self.values = search, log, values
        self.full_prob, self.full_sims, self.fast_sims = full_prob, full_sims, fast_sims
        self.temperature, self.temperature_plies = temperature, temperature_plies
        self.rng = random.Random(seed)
        self.name = name

    def choose(self, state: GameState) -> Move:
        moves = legal_moves(state)
        if len(moves) == 1:
            self._log(None, None)
            return moves[0]
        full = self.rng.random() < self.full_prob
        s = self.search
        if not full and self.fast_sims <= 0:  # fast = the net's prior, no search
            priors, value = s.evaluator.evaluate([state])[0]
            self._log(None, value)
            return max(moves, key=lambda m: priors.get(m, 0.0)) if priors else moves[0]
        s.simulations = self.full_sims if full else self.fast_sims
        s.noise = full
        # the log holds one entry per ply played so far (all seats): past `temperature_plies` the
        # full searches play their best move, so games stay short and outcomes follow the play
        early = self.temperature_plies is None or len(self.log) < self.temperature_plies
        s.temperature = self.temperature if full and early else 0.0
        s.gumbel_scale = 1.0 if full and early else 0.0  # the Gumbel root's move sampling
        move, dist = s.search(state)
        self._log(encode_target(moves, dist) if full else None, s.last_values)
        return move

    def _log(self, target: Any, values: Sequence[float] | None) -> None:
        self.log.append(target)
        if self.values is not None:
            self.values.append(rounded(values))


def rounded(values: Sequence[float] | None) -> list[float] | None:
    """Per-seat values as stored in a record (4 decimals: JSON stays small)."""
    return None if values is None else [round(float(v), 4) for v in values]


class RandomOpening:
    """Plays the first `plies` moves of a game uniformly at random, then defers to `player`.

    Shared by every seat of one game (`counter` is one list for all of them), so a game starts
    with `plies` random plies in total whoever moves. Random moves are logged as None in `log`
    (no policy target: they are not anyone's choice), while their positions still get values.
    Why: deterministic or low-temperature players otherwise replay the same openings."""

    def __init__(self, player: Any, plies: int, rng: random.Random, counter: list[int], log: list[Any] | None,
                 values: list[Any] | None = None):
        self.player, self.plies, self.rng, self.counter, self.log = player, plies, rng, counter, log
        self.values = values
        self.name = getattr(player, "name", "player")

    def choose(self, state: GameState) -> Move:
        self.counter[0] += 1
        if self.counter[0] > self.plies:
            return self.player.choose(state)
        moves = legal_moves(state)
        if self.log is not None:
            self.log.append(None)
        if self.values is not None:
            self.values.append(None)
        return moves[self.rng.randrange(len(moves))]


class TargetLogger:
    """Records a player's chosen move as a one-hot policy target in `log` (teacher games):
    the same metadata["searchTargets"] format as searched games, so imitation data and
    search data go through one sample path. With `values`, it also records each position's
    search value per seat, a low-variance value target beside the outcome: the teacher's own
    root value where it has one (minimax: its evaluation at full depth, squashed as the
    heuristic evaluator squashes; in 2p the opponent's is its negation), else the heuristic's
    value (its mover's best move scored: HeuristicEvaluator with lookahead). Distilling a
    searcher's evaluations into the value head is how NNUE nets are trained from an engine."""

    def __init__(self, player: Any, log: list[Any], values: list[Any] | None = None):
        self.player, self.log, self.values = player, log, values
        self.name = getattr(player, "name", "player")
        if values is not None:
            from engine.players.evaluator import HeuristicEvaluator
            self.evaluator = HeuristicEvaluator(priors=False)

    def choose(self, state: GameState) -> Move:
        moves = legal_moves(state)
        move = self.player.choose(state)
        self.log.append([[moves.index(move), 1.0]] if len(moves) > 1 else None)
        if self.values is not None:
            self.values.append(rounded(self._value(state)) if len(moves) > 1 else None)
        return move

    def _value(self, state: GameState) -> list[float]:
        root = getattr(self.player, "last_value", None)
        if root is None or state.num_players != 2:
            heuristic = self.evaluator.evaluate([state])[0][1]
            if root is None:
                return heuristic
        v = math.tanh(root / self.evaluator.scale)
        me = state.current_player - 1
        if state.num_players == 2:
            return [v, -v] if me == 0 else [-v, v]
        return [v if seat == me else h for seat, h in enumerate(heuristic)]


def opening_length(opening_plies: int | tuple[int, int], rng: random.Random) -> int:
    """How many random plies a game starts with: a fixed count, or uniform in [lo, hi]."""
    if isinstance(opening_plies, int):
        return opening_plies
    lo, hi = opening_plies
    return rng.randint(lo, hi)


def play_teacher_games(board: str, num_players: int, specs: Sequence[str], games: int, *, seed: int = 0,
                       opening_plies: int | tuple[int, int] = 0, move_cap: int | None = None,
                       id_prefix: str = "teach") -> list[dict]:
    """Games of engine players (seat p plays specs[(i + p) % len(specs)]) whose moves are
    recorded as one-hot policy targets, after a random opening (bootstrap data for a net)."""
    from engine.players import make_player
    out = []
    for i in range(games):
        gseed = seed + i
        rng = random.Random(gseed * 7 + 3)
        log: list[Any] = []
        values: list[Any] = []
        counter = [0]
        plies = opening_length(opening_plies, rng)
        players = [RandomOpening(TargetLogger(make_player(specs[(i + p) % len(specs)], seed=gseed * 10 + p), log,
                                              values), plies, rng, counter, log, values) for p in range(num_players)]
        gid = f"{id_prefix}-{board}-{num_players}p-{gseed}"
        record = play_game(board, num_players, players, game_id=gid, seed=gseed, move_cap=move_cap)
        record["metadata"][SEARCH_TARGETS] = log
        record["metadata"][SEARCH_VALUES] = values
        record["metadata"]["openingPlies"] = plies
        out.append(record)
    return out


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
    opening_plies: int | tuple[int, int] = 0,
    temperature_plies: int | None = None,
) -> list[dict]:
    """Play `games` games, `concurrency` at a time; game i is seeded `seed + i`. Records in game order.

    With `full_sims` > 0 the games are searched with playout-cap randomisation (module docstring);
    `fast_sims` defaults to full_sims // 4, and `search` passes MCTSPlayer options (root="gumbel",
    gumbel_k, batch_size, c_puct...); full searches play at `temperature` (the Gumbel root: sample
    with its Gumbel noise) for the first
    `temperature_plies` plies (all of the game when None), greedily after. `opening_plies` random plies (a count, or uniform in
    [lo, hi]) start each game, so games do not repeat. The evaluator must be thread-safe when `concurrency` > 1
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
        values: list[Any] = []
        rng, counter = random.Random(gseed * 7 + 1), [0]
        plies = opening_length(opening_plies, rng)
        players = [RandomOpening(PlayoutCapPlayer(MCTSPlayer(gseed * 10 + p, evaluator=evaluator, **opts), log,
                                                  full_prob=full_prob, full_sims=full_sims, fast_sims=fast,
                                                  temperature=temperature, seed=gseed * 10 + p + 5, values=values,
                                                  temperature_plies=temperature_plies),
                                 plies, rng, counter, log, values)
                   for p in range(num_players)]
        record = play_game(board, num_players, players, game_id=gid, seed=gseed, move_cap=move_cap)
        if len(log) != len(record["moves"]):
            raise RuntimeError(f"game {gid}: {len(log)} search entries for {len(record['moves'])} moves")
        record["metadata"][SEARCH_TARGETS] = log
        record["metadata"][SEARCH_VALUES] = values
        record["metadata"]["openingPlies"] = plies
        record["metadata"]["playoutCap"] = {"fullProb": full_prob, "fullSims": full_sims, "fastSims": fast,
                                            "root": opts.get("root", "puct")}
        return record

    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, games)), thread_name_prefix="selfplay") as pool:
        return list(pool.map(one, range(games)))
