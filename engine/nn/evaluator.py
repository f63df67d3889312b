"""The net as a search evaluator and as a player.

`NeuralEvaluator` satisfies the MCTS evaluator protocol structurally:
    evaluate(states) -> [(priors over the state's legal moves | None, value per seat)]
with values indexed by seat (index 0 = seat 1), each from that seat's point of
view, in [-1, 1]. The heavy lifting goes to a backend with
`evaluate(states, legal_indices) -> [Prediction]`: an InferenceServer (batched
across games and threads) or a BatchRunner (synchronous, in the caller).

Legal moves the policy cannot index (a recovery whose extraction stack ranks
beyond the layout's capacity, see engine.nn.policy) get the smallest prior of
the indexed moves, and the priors are renormalised. Finished states are not
sent to the net: their values are the game's outcome and their priors None.

`NeuralPlayer` plays the policy without search: the most probable legal move
(temperature 0) or a sample from priors ** (1 / temperature).
"""
from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from engine.moves import Move
from engine.nn.encoding import outcome_values, values_to_seats
from engine.nn.model import RingRiftNet, load_model
from engine.nn.policy import legal_indices
from engine.nn.runner import BatchRunner, Prediction
from engine.rules import legal_moves
from engine.state import GameState


class Backend(Protocol):
    def evaluate(self, states: Sequence[GameState], legal: Sequence[np.ndarray]) -> list[Prediction]: ...


def _priors(moves: list[Move], indices: np.ndarray, probs: np.ndarray) -> dict[Move, float]:
    if len(indices) and indices.min() < 0:
        missing = indices < 0
        indexed = probs[~missing]
        floor = float(indexed[indexed > 0].min()) if (indexed > 0).any() else 1.0
        probs = np.where(missing, floor, probs)
    total = float(probs.sum())
    if total <= 0:
        return {m: 1.0 / len(moves) for m in moves}
    return dict(zip(moves, (probs / total).tolist()))


class NeuralEvaluator:
    """Priors and per-seat values from the net, for any number of states per call."""

    def __init__(self, backend: Backend):
        self.backend = backend

    @classmethod
    def from_model(cls, model: RingRiftNet | str | Path, **runner_kw) -> NeuralEvaluator:
        """An evaluator running the model synchronously in the caller (no server thread)."""
        if not isinstance(model, RingRiftNet):
            model = load_model(model)
        return cls(BatchRunner(model, **runner_kw))

    def evaluate(self, states: Sequence[GameState]) -> list[tuple[dict[Move, float] | None, list[float]]]:
        out: list[tuple[dict[Move, float] | None, list[float]] | None] = [None] * len(states)
        live, moves, legal = [], [], []
        for i, s in enumerate(states):
            if s.status != "active":
                out[i] = (None, outcome_values(s))
                continue
            ms, ix = legal_indices(s)
            live.append(i)
            moves.append(ms)
            legal.append(ix)
        if live:
            preds = self.backend.evaluate([states[i] for i in live], legal)
            for i, ms, ix, pred in zip(live, moves, legal, preds):
                values = [max(-1.0, min(1.0, v)) for v in values_to_seats(states[i], pred.values)]
                out[i] = (_priors(ms, ix, pred.priors), values)
        return out  # type: ignore[return-value]


class NeuralPlayer:
    """Plays the net's policy over the legal moves, with no search."""

    def __init__(self, evaluator: NeuralEvaluator, *, temperature: float = 0.0, seed: int | None = None,
                 name: str = "neural"):
        self.evaluator = evaluator
        self.temperature = temperature
        self.rng = random.Random(seed)
        self.name = name

    def choose(self, state: GameState) -> Move:
        moves = legal_moves(state)
        if not moves:
            raise ValueError(f"no legal move: the game is over ({state.victory_reason})")
        if len(moves) == 1:
            return moves[0]  # nothing to decide: spare the net
        priors, _ = self.evaluator.evaluate([state])[0]
        assert priors is not None
        ms = list(priors)
        ps = np.array([priors[m] for m in ms])
        if self.temperature <= 0:
            return ms[int(np.argmax(ps))]
        weights = ps ** (1.0 / self.temperature)
        if not weights.sum() > 0:
            return ms[int(np.argmax(ps))]
        return self.rng.choices(ms, weights=weights.tolist())[0]
