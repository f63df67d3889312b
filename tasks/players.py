"""Players for the pipeline's matches: the arena's specs plus trained nets and tuned profiles.

`engine.arena.play_match` builds players from string specs with a module-level factory (so
worker processes can rebuild them). `pipeline_player` accepts, beside every `make_player`
spec (engines and ladder tiers D1..D10):
- `nn:<path>`: the exported model at `path` as a `NeuralPlayer` (the policy, no search);
- `profile:<path>`: the heuristic player with the weights of the profile file at `path`.
Models and profiles are loaded once per process.
"""
from __future__ import annotations

import functools
from typing import Any

from engine.players import make_player

NN = "nn:"
PROFILE = "profile:"


@functools.lru_cache(maxsize=8)
def _evaluator(path: str) -> Any:
    from engine.nn.evaluator import NeuralEvaluator
    return NeuralEvaluator.from_model(path)


@functools.lru_cache(maxsize=64)
def _profile(path: str) -> Any:
    from engine.players.profiles import load_profile_file
    return load_profile_file(path)


def pipeline_player(spec: str, seed: int | None = None) -> Any:
    """A player from a spec (see the module docstring)."""
    if spec.startswith(NN):
        from engine.nn.evaluator import NeuralPlayer
        return NeuralPlayer(_evaluator(spec[len(NN):]), seed=seed, name="neural")
    if spec.startswith(PROFILE):
        from engine.players.heuristic import HeuristicPlayer
        player = HeuristicPlayer(seed, profile=_profile(spec[len(PROFILE):]))
        return player
    return make_player(spec, seed=seed)
