"""Which phases this build can run, in the loop's order, and why the others cannot.

A phase exists when its task module imports: `tasks/<phase>.py` is written
against its library (players, arena and ratings, the neural net) and lands with
it. Until then the plan lists the phase as unavailable with the reason, and the
iteration runs without it; nothing stands in for a phase that is not there.
"""
from __future__ import annotations

import importlib
from typing import Any

NEEDS = {
    "cmaes": "heuristic profiles and features (engine/players/heuristic.py) and matches (engine/arena.py)",
    "train": "the neural net's training (engine/nn/train.py)",
    "profile_sync": "heuristic profiles (engine/players/heuristic.py)",
    "evaluate": "matches and ratings (engine/arena.py, engine/ratings.py)",
    "gate": "the sequential test (engine/ratings.py)",
}


def load_phase(phase: str) -> tuple[Any | None, str]:
    """(the phase's task, "") or (None, why it is unavailable)."""
    try:
        module = importlib.import_module(f"tasks.{phase}")
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing == f"tasks.{phase}" or missing.startswith("engine"):
            return None, f"not in this build: needs {NEEDS.get(phase, missing)}"
        raise
    return getattr(module, phase), ""
