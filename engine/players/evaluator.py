"""What a search asks of a position: move priors and a value per seat.

MCTS (and the neural net later) talk to evaluations only through `Evaluator`, so the search
does not know whether the numbers come from the heuristic or from a batched network;
`evaluate` takes a sequence of states so that a network can answer many in one forward pass.
`HeuristicEvaluator` is the one available now.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from typing import Protocol, Sequence, runtime_checkable

from engine.moves import Move
from engine.players.features import raw_stats, seat_scores
from engine.players.heuristic import WeightsByConfig
from engine.players.move_scoring import score_moves
from engine.players.profiles import Profile
from engine.rules import legal_moves
from engine.state import GameState


@runtime_checkable
class Evaluator(Protocol):
    def evaluate(self, states: Sequence[GameState]) -> list[tuple[dict[Move, float] | None, list[float]]]:
        """For each state: priors over its legal moves (None = uniform), and a value per seat
        (index 0 = seat 1, length num_players) in [-1, 1], each from that seat's point of view."""
        ...


class LazyPriors(Mapping):
    """Priors computed on first access. A search that reads a leaf's priors only when it
    searches through that leaf (MCTS does) then never pays for the priors of leaves it
    visits once, which are most of them at small simulation counts."""

    def __init__(self, compute: Callable[[], dict[Move, float]]):
        self._compute = compute
        self._data: dict[Move, float] | None = None

    def _get(self) -> dict[Move, float]:
        if self._data is None:
            self._data = self._compute()
        return self._data

    def __getitem__(self, m: Move) -> float:
        return self._get()[m]

    def __iter__(self) -> Iterator[Move]:
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())


def terminal_values(s: GameState) -> list[float]:
    """+1 for the winner and -1 for everyone else; 0 for all when there is no winner."""
    if s.winner is None:
        return [0.0] * s.num_players
    return [1.0 if p == s.winner else -1.0 for p in range(1, s.num_players + 1)]


class HeuristicEvaluator:
    """Values: tanh(score / scale) of each seat's linear evaluation, where a seat's score
    already compares it with the opponents (own minus the opponents' mean, the closest
    opponent's victory proximity). Midgame square8 scores have a median magnitude of about
    2, so scale 4 keeps positions apart instead of saturating at +-1.

    With `lookahead` (the default) a position is valued by its mover's best move, one
    `score_moves` pass: a turn is several decisions, and the static value of a position in
    the middle of one (a stack placed, its move still to come) misjudges it; minimax and
    descent correct that by taking the mover's best child, MCTS averages, so the evaluator
    does it. Priors are then the softmax of those same move scores at `prior_temperature`.
    Without `lookahead` the value is static and the priors (or None, uniform, when `priors`
    is False) are computed only if the search reads them (`LazyPriors`)."""

    def __init__(
        self,
        profile: Profile | None = None,
        *,
        scale: float = 4.0,
        priors: bool = True,
        prior_temperature: float = 0.25,
        lookahead: bool = True,
    ):
        self.weights = WeightsByConfig(profile)
        self.scale = scale
        self.priors = priors
        self.prior_temperature = prior_temperature
        self.lookahead = lookahead

    def _squash(self, scores) -> list[float]:
        return [math.tanh(float(v) / self.scale) for v in scores]

    def values(self, s: GameState) -> list[float]:
        if s.status != "active":
            return terminal_values(s)
        return self._squash(seat_scores(s, raw_stats(s), self.weights(s)))

    def _softmax(self, moves: list[Move], col: list[float]) -> dict[Move, float]:
        best = max(col)
        t = self.prior_temperature
        ws = [math.exp((v - best) / t) for v in col]
        total = sum(ws)
        out: dict[Move, float] = {}
        for m, w in zip(moves, ws):
            out[m] = out.get(m, 0.0) + w / total
        return out

    def move_priors(self, s: GameState, moves: list[Move]) -> dict[Move, float] | None:
        if not self.priors or len(moves) < 2:
            return None
        scores, _ = score_moves(s, moves, self.weights(s))
        return self._softmax(moves, [float(v) for v in scores[:, s.current_player - 1]])

    def _with_lookahead(self, s: GameState) -> tuple[dict[Move, float] | None, list[float]]:
        moves = legal_moves(s)
        scores, _ = score_moves(s, moves, self.weights(s))
        col = [float(v) for v in scores[:, s.current_player - 1]]
        best = max(range(len(moves)), key=col.__getitem__)
        pri = self._softmax(moves, col) if self.priors and len(moves) > 1 else None
        return pri, self._squash(scores[best])

    def evaluate(self, states: Sequence[GameState]) -> list[tuple[dict[Move, float] | None, list[float]]]:
        out = []
        for s in states:
            if s.status != "active":
                out.append((None, terminal_values(s)))
            elif self.lookahead:
                out.append(self._with_lookahead(s))
            else:
                pri = None
                if self.priors:
                    pri = LazyPriors(lambda s=s: self.move_priors(s, legal_moves(s)) or {})
                out.append((pri, self.values(s)))
        return out
