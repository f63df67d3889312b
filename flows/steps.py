"""Deployment pull steps: where a worker finds the flow code.

Every machine runs the flows from its own checkout of this project, installed in
its virtualenv (`pip install -e .`), at a path that differs between pools (see
config/hosts.yaml). Prefect's default pull step would bake the deploying
machine's path into every deployment; this step instead enters the checkout the
worker's Python imports the project from.
"""
from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def enter_project() -> dict[str, str]:
    """chdir to this checkout's root so that `flows/...:flow` entrypoints and `config/` resolve."""
    os.chdir(PROJECT_ROOT)
    return {"directory": str(PROJECT_ROOT)}
