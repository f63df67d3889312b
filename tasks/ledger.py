"""Continuous mode's ledger for one board configuration: batches played, games trained on.

In continuous mode nothing waits on a barrier, so the chains need a small shared memory in
the data folder (`data/pipeline/<config>/continuous.json`):

- `next_batch`: the next selfplay batch number. A batch number is claimed before the batch
  plays, so a restarted selfplay loop plays new seeds instead of replaying old ones (which
  the store would refuse as already present, adding nothing).
- `trained_rowid`: the game store's newest rowid the last training learned from. Games are
  only appended, so "games since the last training" is `rowid > trained_rowid`: a training
  never learns from the same new games twice, and games that arrive while it trains wait
  for the next one.
- `last_iteration`: the iteration number of the newest training. Each training is an
  iteration of its own (its number names the candidate, the shard and the evaluation);
  selfplay tags its games with the open one (`last_iteration + 1`), so the summary's
  staleness counts trainings behind.
- `requested`: the training a selfplay loop queued (run id, games then new), until a training is
  recorded; `profile`: the profile of the newest training (its candidate is evaluated with it).

Updates are read-modify-write under an exclusive file lock, then an atomic rename.
"""
from __future__ import annotations

import fcntl
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from engine.files import write_atomic
from infra.data_config import DataConfig, config_key
from infra.gamestore import GameStore

EMPTY = {"next_batch": 1, "trained_rowid": 0, "last_iteration": 0}


def ledger_path(data: DataConfig, config: str) -> Path:
    return data.data_dir / "pipeline" / config / "continuous.json"


def read_ledger(data: DataConfig, config: str) -> dict[str, Any]:
    try:
        return {**EMPTY, **json.loads(ledger_path(data, config).read_text())}
    except FileNotFoundError:
        return dict(EMPTY)


@contextmanager
def locked_ledger(data: DataConfig, config: str) -> Iterator[dict[str, Any]]:
    """The ledger, to change in place; written back atomically when the block ends without error."""
    path = ledger_path(data, config)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        state = read_ledger(data, config)
        yield state
        write_atomic(path, json.dumps(state))


def claim_batch(data: DataConfig, config: str) -> int:
    """A batch number no other selfplay batch of this data folder has had."""
    with locked_ledger(data, config) as state:
        number = state["next_batch"]
        state["next_batch"] = number + 1
    return number


def untrained(data: DataConfig, board: str, players: int) -> tuple[int, int, int]:
    """(trained_rowid, newest rowid, games between them): the games a training would learn from."""
    after = read_ledger(data, config_key(board, players))["trained_rowid"]
    path = data.game_db_path(board, players)
    if not path.exists():
        return after, after, 0
    with GameStore(path, data.source_host, read_only=True) as store:
        upto = store.last_rowid()
        return after, upto, store.count_between(after, upto)


def record_training(data: DataConfig, config: str, upto: int, iteration: int, profile: str | None = None) -> None:
    """A training learned from the games up to rowid `upto` as iteration `iteration` (with `profile`: the
    profile its candidate is evaluated with when `rift continuous off` or `on` evaluates it)."""
    with locked_ledger(data, config) as state:
        state["trained_rowid"] = max(state["trained_rowid"], upto)
        state["last_iteration"] = max(state["last_iteration"], iteration)
        state.pop("requested", None)
        if profile:
            state["profile"] = profile
