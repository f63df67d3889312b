"""Fixtures of the pipeline tests: phase contexts on temporary data folders, and S3 on loopback."""
from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.pipeline_config import load_pipeline_config
from tasks.common import PhaseContext


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def make_ctx(tmp_path: Path) -> Callable[..., PhaseContext]:
    """PhaseContext factory for the tiny profile on a temporary data folder."""
    cfg = load_pipeline_config()

    def make(board: str = "hex8", players: int = 2, iteration: int = 1, data_dir: Path | None = None,
             profile: str = "tiny", **updates: Any) -> PhaseContext:
        settings = cfg.resolve(profile, board, players)
        for section, values in updates.items():  # e.g. selfplay={"games": 3}
            settings = settings.model_copy(update={section: getattr(settings, section).model_copy(update=values)})
        return PhaseContext(board=board, players=players, profile=profile, iteration=iteration, settings=settings,
                            mix=cfg.mix(settings), data_dir=str(data_dir or tmp_path / "data"))
    return make


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server on 127.0.0.1 for the module."""
    from moto.server import ThreadedMotoServer
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()
