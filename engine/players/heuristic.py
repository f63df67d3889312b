"""The heuristic player: one ply of lookahead with the linear evaluation.

Every legal move is scored by the evaluation, from the mover's point of view, of the position
it leads to (the forced bookkeeping moves that follow played out), and the best is played.
Placements, most of the moves of a game, are scored by delta and the `refine` best re-scored
exactly (`engine.players.move_scoring`); a decision with one legal move is played at once.

Weights come from the profile of the board and player count (`config/profiles/`), loaded on
the first decision of each configuration, unless a profile is given. Ties are broken by the
seeded generator, and the weaker settings of the ladder (`temperature` for softmax sampling,
`epsilon` for a uniformly random move) draw from it too, so a seed fixes the games.
"""
from __future__ import annotations

import math
import random

from engine.moves import Move
from engine.players.move_scoring import score_moves
from engine.players.profiles import Profile, load_profile
from engine.players.search_util import decision_moves
from engine.state import GameState


class WeightsByConfig:
    """Weight vectors per (board, player count): a fixed profile, or the configured files."""

    def __init__(self, profile: Profile | None = None):
        self.profile = profile
        self._cache: dict[tuple[str, int], list[float]] = {}

    def __call__(self, s: GameState) -> list[float]:
        key = (s.board_type, s.num_players)
        w = self._cache.get(key)
        if w is None:
            prof = self.profile or load_profile(s.board_type, s.num_players)
            w = self._cache[key] = prof.vector()
        return w


class HeuristicPlayer:
    name = "heuristic"

    def __init__(
        self,
        seed: int | None = None,
        *,
        profile: Profile | None = None,
        refine: int = 3,
        temperature: float = 0.0,
        epsilon: float = 0.0,
        delta: bool = True,
    ):
        self.rng = random.Random(seed)
        self.weights = WeightsByConfig(profile)
        self.refine = refine
        self.temperature = temperature
        self.epsilon = epsilon
        self.delta = delta  # False: score every move on a copied state (the slow baseline)

    def choose(self, state: GameState) -> Move:
        moves = decision_moves(state)
        if len(moves) == 1:
            return moves[0]
        if self.epsilon and self.rng.random() < self.epsilon:
            return moves[self.rng.randrange(len(moves))]
        scores, exact = score_moves(
            state, moves, self.weights(state), refine=self.refine, delta=self.delta
        )
        me = state.current_player - 1
        has_place = len(exact) < len(moves)
        cands = sorted(exact) if (has_place and self.refine > 0) else range(len(moves))
        vals = [(float(scores[i, me]), i) for i in cands]
        return moves[self.pick(vals)]

    def pick(self, vals: list[tuple[float, int]]) -> int:
        """Index of the chosen move from (score, index) pairs: best, or softmax-sampled."""
        best = max(v for v, _ in vals)
        if self.temperature > 0:
            ws = [math.exp((v - best) / self.temperature) for v, _ in vals]
            r = self.rng.random() * sum(ws)
            for w, (_, i) in zip(ws, vals):
                r -= w
                if r <= 0:
                    return i
            return vals[-1][1]
        top = [i for v, i in vals if v >= best - 1e-9]
        return top[self.rng.randrange(len(top))] if len(top) > 1 else top[0]
