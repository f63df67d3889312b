"""The `neural` player spec: a trained net as MCTS's evaluator, or as a policy player.

`make_player("neural:model=path/to/model.pt,sims=64", seed=...)` gives an MCTSPlayer whose
priors and per-seat values come from the net (`NeuralEvaluator`); `sims=0` gives a
`NeuralPlayer` that plays the policy without search. Every other parameter goes to the
player (root=gumbel, gumbel_k, batch_size, c_puct, temperature...), plus `device`.

The engine never looks models up: it takes a path. Ladder tiers marked `neural: true` take
theirs from a `model=` override or the `RIFT_NEURAL_MODEL` environment variable, and the
pipeline (tasks/players.py) resolves the registry's current best model to such a path.
A neural tier with no model plays its non-neural fallback and says so once per process.

Models are loaded once per (path, file modification time) and process; the evaluator runs
the net synchronously in the caller (a BatchRunner), so one player must not be shared by
threads (the arena runs games in processes; threaded selfplay uses an InferenceServer).
Nothing here imports torch until a neural player is built.
"""
from __future__ import annotations

import inspect
import logging
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from engine.players.base import Player
from engine.players.mcts import MCTSPlayer

log = logging.getLogger(__name__)

NEURAL_MODEL_ENV = "RIFT_NEURAL_MODEL"
# what a `neural` spec accepts beside MCTSPlayer's own parameters
EXTRA_PARAMS = {"model", "sims", "device"}
_warned: set[str] = set()


def accepted_params() -> set[str]:
    """Parameter names a `neural` spec accepts (the ladder validates tiers against them)."""
    return (set(inspect.signature(MCTSPlayer).parameters) - {"seed", "evaluator", "simulations"}) | EXTRA_PARAMS


@lru_cache(maxsize=8)
def _evaluator(path: str, mtime: float, device: str) -> Any:
    from engine.nn.evaluator import NeuralEvaluator
    return NeuralEvaluator.from_model(path, device=device)


def evaluator_for(model: str | Path, device: str = "auto") -> Any:
    """The cached NeuralEvaluator of the export at `model` (reloaded when the file changes)."""
    from engine.nn.model import check_model_file
    path = check_model_file(model)  # ModelFileError naming it: missing, a folder, empty
    return _evaluator(str(path.resolve()), path.stat().st_mtime, device)


# Leaves evaluated per search step. One: with 8 under virtual loss a 64-simulation search is only
# 8 steps deep, and the same net scored 0.33 against D5 at 8 but 0.55 at 1 (hex8 2p, 60 games each,
# docs/benchmarks.md "Learning"). Throughput comes from many games sharing an InferenceServer.
LEAF_BATCH = 1


def make_neural(seed: int | None = None, *, model: str | Path | None = None, sims: int = 64,
                device: str = "auto", **params: Any) -> Player:
    """A neural player (module docstring); `model` is required."""
    if not model:
        raise ValueError(f"a neural player needs a model: neural:model=path/to/model.pt "
                         f"(or set {NEURAL_MODEL_ENV} for the ladder's neural tiers)")
    unknown = set(params) - accepted_params()
    if unknown:
        raise ValueError(f"neural player: unknown parameter {sorted(unknown)[0]!r} "
                         f"(accepted: {', '.join(sorted(accepted_params()))})")
    evaluator = evaluator_for(model, device)
    if sims <= 0:
        from engine.nn.evaluator import NeuralPlayer
        return NeuralPlayer(evaluator, temperature=float(params.get("temperature", 0.0)), seed=seed)
    player = MCTSPlayer(seed, simulations=sims, evaluator=evaluator, **{"batch_size": LEAF_BATCH, **params})
    player.name = "neural"
    return player


def tier_model(tier: str, override: Any = None) -> str | None:
    """The model a neural ladder tier plays with: the `model=` override, else $RIFT_NEURAL_MODEL;
    None (with a one-line warning, once per tier and process) when there is neither."""
    model = override or os.environ.get(NEURAL_MODEL_ENV)
    if not model and tier not in _warned:
        _warned.add(tier)
        log.warning("ladder tier %s is reserved for the neural net but no model is given (set %s or "
                    "model=...): it plays as its non-neural fallback", tier, NEURAL_MODEL_ENV)
    return str(model) if model else None


def models_dir() -> Path:
    """Where the repository ships its reference models (models/<board>_<n>p/)."""
    return Path(__file__).resolve().parents[2] / "models"


def reference_model(board: str, num_players: int, root: Path | None = None) -> Path | None:
    """The shipped reference model of a configuration (models/<board>_<n>p/reference.json names
    the file and its provenance), or None. It is what the ladder's neural tiers play when no
    registry model and no $RIFT_NEURAL_MODEL is given, so D9/D10 are the net out of the box."""
    import json

    folder = (root or models_dir()) / f"{board}_{num_players}p"
    manifest = folder / "reference.json"
    if not manifest.is_file():
        return None
    try:
        path = folder / json.loads(manifest.read_text())["file"]
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{manifest}: not a reference manifest ({e}); it names its model as {{\"file\": ...}}") from None
    if not path.is_file():
        raise ValueError(f"{manifest} names {path.name}, which is missing from {folder}")
    return path


def with_reference(spec: str, board: str, num_players: int, root: Path | None = None) -> str:
    """`spec` with the reference model filled in when it is a neural ladder tier (D9, D10) that names
    no model and $RIFT_NEURAL_MODEL is unset; otherwise unchanged."""
    from engine.players import parse_spec
    from engine.players.ladder import TIERS, load_ladder

    name, params = parse_spec(spec)
    if name.upper() not in TIERS or "model" in params or os.environ.get(NEURAL_MODEL_ENV):
        return spec
    if not load_ladder().tiers[name.upper()].neural:
        return spec
    ref = reference_model(board, num_players, root)
    if ref is None:
        return spec
    _, _, rest = spec.partition(":")
    return f"{name}:{rest + ',' if rest.strip() else ''}model={ref}"
