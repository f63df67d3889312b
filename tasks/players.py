"""Players for the pipeline's matches: the arena's specs plus trained nets and tuned profiles.

`engine.arena.play_match` builds players from string specs with a module-level factory (so
worker processes can rebuild them). `pipeline_player` accepts, beside every `make_player`
spec (engines and ladder tiers D1..D10):
- `nn:<path>`: the exported model at `path` as a `NeuralPlayer` (the policy, no search);
- `profile:<path>`: the heuristic player with the weights of the profile file at `path`.
Models and profiles are loaded once per process; a process that plays a net runs torch on one thread.

The engine takes models as paths only (`neural:model=<path>`, ladder tiers marked `neural`
with `model=<path>`); `resolve_spec` is where the pipeline fills in the registry's current
best model of the config for a spec that needs a net and names none (`neural`, its alias
`nn`, a neural tier such as D9). Without a best model a neural tier is left alone (it plays
its fallback, with the engine's warning) and `neural` / `nn` stay unresolved, which
`make_player` refuses with a clear message.

Who plays the tuned profile (profile_sync's `data/profiles/<board>_<n>p.json`), and why:
- selfplay seats on the reference engine, through `tuned_player`: `heuristic`, `minimax`,
  `mcts`, `descent` and the non-neural ladder tiers, and a neural tier that falls back to its
  non-neural engine for want of a model. All of them evaluate positions with the heuristic's
  weights (leaf values, priors, move scores), so better weights make better training games.
- not the neural seats (`nn`, `neural:...`, a neural tier with a model): the net gives their
  values and priors; there are no heuristic weights in them to replace.
- not the batched engine's heuristic (engine/batched/players.py, `selfplay.engine: gpu`): it is
  a different evaluation (five raw per-player counts with its own weights, not the twenty
  normalised features), and CMA-ES tunes the twenty weights jointly for the reference
  evaluation, so copying the few that overlap would be neither the tuned player nor what was
  measured. Its records say `gpu-heuristic`, never `heuristic@<version>`, so the data is labelled
  truthfully.
- not the fixed yardsticks: evaluate's and gate's ladder tiers (D1..D8) anchor the ratings and
  must not change strength when a profile is synced, and CMA-ES's `cmaes.reference` (default:
  the untuned profile) must stay fixed so fitnesses compare (tasks/tuning.py). These play the
  repository's profiles (`make_player` / `pipeline_player` without a profile).
"""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from engine.players import make_player, parse_spec
from engine.players.ladder import TIERS, load_ladder

NN = "nn:"
PROFILE = "profile:"


@functools.cache
def _one_thread() -> None:
    import torch
    # one position per call: extra intra-op threads only contend (measured on 2 loaded cores:
    # 0.4 ms per forward with 1 thread, 63 ms with 2); matches parallelise across processes instead
    torch.set_num_threads(1)


@functools.lru_cache(maxsize=8)
def _evaluator(path: str) -> Any:
    from engine.nn.evaluator import NeuralEvaluator
    _one_thread()
    return NeuralEvaluator.from_model(path)


@functools.lru_cache(maxsize=64)
def _profile_version(path: str, mtime_ns: int) -> Any:
    from engine.players.profiles import load_profile_file
    return load_profile_file(path)


def _profile(path: str) -> Any:
    """The profile in a file, loaded once per version of the file: profile_sync rewrites the
    synced best profile in place, and a long-lived process must see the new weights."""
    try:
        mtime_ns = Path(path).stat().st_mtime_ns
    except FileNotFoundError:
        mtime_ns = -1  # load_profile_file raises the error that names the missing file
    return _profile_version(path, mtime_ns)


def tuned_player(spec: str, seed: int, profile_file: str | None) -> Any:
    """A selfplay seat: `spec` with the weights of `profile_file` (the config's synced best
    profile) where the engine evaluates with heuristic weights, else `spec` as configured."""
    if profile_file is not None:
        try:
            return make_player(spec, seed=seed, profile=_profile(profile_file))
        except ValueError:
            pass  # an engine without heuristic weights (random) or with its own net (neural)
    return make_player(spec, seed=seed)


def needs_model(spec: str) -> bool:
    """Whether a spec asks for a net without naming one (`neural`, `nn`, a neural tier)."""
    if spec.startswith((NN, PROFILE)):
        return False
    name, params = parse_spec(spec)
    if "model" in params:
        return False
    if name in ("neural", "nn"):
        return True
    return name.upper() in TIERS and load_ladder().tiers[name.upper()].neural


def best_model_path(registry_path: Path, board: str, players: int) -> tuple[str, str] | None:
    """(path, model id) of the registry's best model of a config whose file exists, else None."""
    if not Path(registry_path).exists():
        return None
    from infra.registry import ModelRegistry
    with ModelRegistry(registry_path) as reg:
        best = reg.best(board, players)
    if not best or not best.get("path") or not Path(best["path"]).exists():
        return None
    return str(best["path"]), str(best["id"])


def fill_models(mix: dict[str, float], best: tuple[str, str] | None,
                reference: tuple[str, str] | None) -> tuple[dict[str, float], str | None]:
    """A mix with models filled in: the registry's best wherever a spec needs a net; without a best,
    the shipped reference for neural ladder tiers only (D9, D10: the ladder promises the net), while
    `nn`/`neural` seats stay unresolved (selfplay of "the current net" refuses to start without one)."""
    if best is not None:
        return {resolve_spec(e, best[0]): w for e, w in mix.items()}, best[1]
    tiers = [e for e in mix if needs_model(e) and parse_spec(e)[0] not in ("neural", "nn")]
    if reference is None or not tiers:
        return dict(mix), None
    return {(resolve_spec(e, reference[0]) if e in tiers else e): w for e, w in mix.items()}, reference[1]


def resolve_spec(spec: str, model: str | None) -> str:
    """`spec` with `model=<model>` added where it needs a net (see `needs_model`); `nn` becomes
    `neural`. Unchanged when it needs none or there is no model."""
    if model is None or not needs_model(spec):
        return spec
    name, _, rest = spec.partition(":")
    if name.strip() == "nn":
        name = "neural"
    return f"{name}:{rest + ',' if rest.strip() else ''}model={model}"


def deployed_spec(settings: Any, model_path: str) -> str:
    """How matches play the model at `model_path`: a closed-loop profile's deployed player
    (`closed_loop.player`, e.g. D9 = MCTS with 64 simulations on the net), so the gate and the
    ratings measure what will be used; otherwise the raw policy (`nn:<path>`, no search)."""
    loop = getattr(settings, "closed_loop", None)
    if loop is None:
        return NN + model_path
    return resolve_spec(loop.player, model_path)


def pipeline_player(spec: str, seed: int | None = None) -> Any:
    """A player from a spec (see the module docstring)."""
    if spec.startswith(NN):
        from engine.nn.evaluator import NeuralPlayer
        return NeuralPlayer(_evaluator(spec[len(NN):]), seed=seed, name="neural")
    if spec.startswith(PROFILE):
        from engine.players.heuristic import HeuristicPlayer
        player = HeuristicPlayer(seed, profile=_profile(spec[len(PROFILE):]))
        return player
    name, _, rest = spec.partition(":")
    if name.strip() == "nn":  # the mixes' alias; unresolved, make_player explains what is missing
        spec = f"neural:{rest}"
    if "model=" in spec:
        _one_thread()
    return make_player(spec, seed=seed)
