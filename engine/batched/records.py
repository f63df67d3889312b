"""Game records from the batched engine, in the same RingRift format as `engine.selfplay`.

A batched run is only worth storing if every game in it is a legal reference game, so each
record is built by replaying the batched moves through the reference engine. That replay does
two jobs at once: it checks every move is legal and that the replayed final state matches the
batched one in every field (as `replay_check` does), and it produces the reference final state
and move JSON the record needs. A game that fails the check raises `BatchedMismatchError`, and no
record of that run is returned, so a wrong game never reaches the store.
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timezone

from engine.batched.check import replay_against, state_sig
from engine.batched.memory import fitted_batch
from engine.batched.step import BatchedGames, pick_device
from engine.game import new_game
from engine.records import game_record


RUN_BATCHES = 4  # games per batched run, in batches: refilling needs more games than slots


class BatchedMismatchError(RuntimeError):
    """A batched game that the reference engine does not accept (a bug in engine/batched)."""


def batched_records(board: str, players: int, game_ids: list[str], *, player: str = "random",
                    device: str = "auto", seed: int = 0, move_cap: int | None = None,
                    batch: int = 1024) -> Iterator[dict]:
    """Play one game per id on the batched engine, `batch` at a time with ended games' slots
    refilled, and yield their verified RingRift records (engine names `gpu-<player>`). Records
    come out per run of `RUN_BATCHES` batches' worth of games, so a stopped phase keeps those.
    On CUDA, `batch` is lowered to what one step fits in the free GPU memory
    (engine.batched.memory), so a large gpu_batch on the big boards slows down instead of
    running out of memory."""
    dev = pick_device(device)
    batch = fitted_batch(board, players, batch, dev, player)
    per_run = batch * RUN_BATCHES
    for lo in range(0, len(game_ids), per_run):
        ids = game_ids[lo:lo + per_run]
        t0 = time.perf_counter()
        started = datetime.now(timezone.utc)
        games = BatchedGames(board, players, batch, player=player, device=dev, seed=seed + lo,
                             move_cap=move_cap, games=len(ids))
        games.play()
        per_game = games.moves()
        finals = games.final_states()
        ms = int((time.perf_counter() - t0) * 1000 / max(1, len(ids)))
        records = []
        for gid, moves, final in zip(ids, per_game, finals):
            start = new_game(board, players, move_cap=move_cap, game_id=gid)
            end, problem = replay_against(start, moves, state_sig(final))
            if problem:
                raise BatchedMismatchError(
                    f"{gid}: {problem} in the reference engine; this is a bug in engine/batched: "
                    "run tests/gpu and `bench/gpu_selfplay.py --check`")
            records.append(game_record(
                gid, start, moves, end, engines=[f"gpu-{player}"] * players, seed=seed + lo,
                started_at=started, duration_ms=ms,
                metadata={"batched": {"device": dev, "batch": games.bs.batch}},
            ))
        yield from records
