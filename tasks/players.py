"""Players for the pipeline's matches: the arena's specs plus trained nets and tuned profiles.

`engine.arena.play_match` builds players from string specs with a module-level factory (so
worker processes can rebuild them). `pipeline_player` accepts, beside every `make_player`
spec (engines and ladder tiers D1..D10):
- `nn:<path>`: the exported model at `path` as a `NeuralPlayer` (the policy, no search);
- `profile:<path>`: the heuristic player with the weights of the profile file at `path`.
Models and profiles are loaded once per process; a process that plays a net runs torch on one thread.
"""
from __future__ import annotations

import functools
from typing import Any

from engine.players import make_player

NN = "nn:"
PROFILE = "profile:"


@functools.lru_cache(maxsize=8)
def _evaluator(path: str) -> Any:
    import torch

    from engine.nn.evaluator import NeuralEvaluator
    # one position per call: extra intra-op threads only contend (measured on 2 loaded cores:
    # 0.4 ms per forward with 1 thread, 63 ms with 2); matches parallelise across processes instead
    torch.set_num_threads(1)
    return NeuralEvaluator.from_model(path)


@functools.lru_cache(maxsize=64)
def _profile(path: str) -> Any:
    from engine.players.profiles import load_profile_file
    return load_profile_file(path)


def tuned_player(spec: str, seed: int, profile_file: str | None) -> Any:
    """A selfplay seat: `spec` with the weights of `profile_file` (the config's synced best
    profile) where the engine evaluates with heuristic weights, else `spec` as configured."""
    if profile_file is not None:
        try:
            return make_player(spec, seed=seed, profile=_profile(profile_file))
        except ValueError:
            pass  # an engine without heuristic weights (random) or its own evaluator (mcts)
    return make_player(spec, seed=seed)


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
