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
from dataclasses import dataclass, field
from datetime import datetime, timezone

from engine.batched.check import state_sig
from engine.batched.step import BatchedGames, pick_device
from engine.game import new_game
from engine.moves import Move
from engine.records import game_record
from engine.rules import apply_in_place, legal_moves
from engine.state import GameState


class BatchedMismatchError(RuntimeError):
    """A batched game that the reference engine does not accept (a bug in engine/batched)."""


@dataclass
class BatchedRunStats:
    """What a batched run cost: games, moves, seconds on the device and in the reference replay."""

    games: int = 0
    moves: int = 0
    play_seconds: float = 0.0
    replay_seconds: float = 0.0
    fallback_moves: int = 0
    device: str = ""
    batches: list[int] = field(default_factory=list)


def _replay(start: GameState, moves: list[Move], batched_final: GameState, game_id: str) -> GameState:
    s = start.copy()
    for k, m in enumerate(moves):
        if s.status != "active" or m not in legal_moves(s):
            raise BatchedMismatchError(
                f"{game_id}: batched move {k + 1} {m!r} is not legal in the reference engine (phase {s.phase}); "
                "this is a bug in engine/batched: run tests/gpu and `bench/gpu_selfplay.py --check`")
        apply_in_place(s, m)
    want, got = state_sig(batched_final), state_sig(s)
    diff = [k for k in got if got[k] != want[k]]
    if diff:
        raise BatchedMismatchError(f"{game_id}: batched final state differs from the reference replay in {diff}")
    return s


def batched_records(board: str, players: int, game_ids: list[str], *, player: str = "random",
                    device: str = "auto", seed: int = 0, move_cap: int | None = None,
                    batch: int = 1024, stats: BatchedRunStats | None = None) -> Iterator[dict]:
    """Play one game per id on the batched engine, `batch` games at a time, and yield their
    verified RingRift records (engine names `gpu-<player>`)."""
    dev = pick_device(device)
    stats = stats if stats is not None else BatchedRunStats()
    stats.device = dev
    for lo in range(0, len(game_ids), batch):
        ids = game_ids[lo:lo + batch]
        t0 = time.perf_counter()
        started = datetime.now(timezone.utc)
        games = BatchedGames(board, players, len(ids), player=player, device=dev, seed=seed + lo,
                             move_cap=move_cap)
        games.play()
        per_game = games.moves()
        finals = [games.bs.to_state(i) for i in range(len(ids))]
        t1 = time.perf_counter()
        ms = int((t1 - t0) * 1000 / max(1, len(ids)))
        records = []
        for gid, moves, final in zip(ids, per_game, finals):
            start = new_game(board, players, move_cap=move_cap, game_id=gid)
            end = _replay(start, moves, final, gid)
            records.append(game_record(
                gid, start, moves, end, engines=[f"gpu-{player}"] * players, seed=seed + lo,
                started_at=started, duration_ms=ms,
                metadata={"batched": {"device": dev, "batch": len(ids)}},
            ))
        stats.games += len(ids)
        stats.moves += sum(len(m) for m in per_game)
        stats.play_seconds += t1 - t0
        stats.replay_seconds += time.perf_counter() - t1
        stats.fallback_moves += games.fallback_moves
        stats.batches.append(len(ids))
        yield from records
