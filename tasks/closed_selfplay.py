"""Selfplay of the closed loop: bootstrap games until the config has a best model, then the best net.

Why two sources: a net learns nothing from its own games before it can play, so the loop starts
from teachers (engine players whose moves become one-hot policy targets, after random opening
plies so that deterministic engines do not repeat games); from the first promotion on, the
current best net plays itself with search (engine.nn.learning.neural_games: playout caps, a
Gumbel or PUCT root, random openings), which is what makes the loop improve on its own play.
Which source plays is read from the registry when the phase starts, so a promotion by the
previous iteration's gate switches selfplay over without any setting changing.

Games are played in spawned worker processes (each with one torch thread and, for the net, its
own InferenceServer with many games at once), as many as `selfplay.processes` allows; each
chunk of finished games is handed to the caller at once (the game writer journals it).
Every record names what played it: `metadata.engines` (the teachers' specs, or `neural-mcts`),
`metadata.playerVersions` (the model id for net games) and `metadata.pipeline.source`
(`bootstrap` or `net`) beside the iteration and the model.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine.players import make_player
from tasks.common import PermanentPhaseError, PhaseContext
from tasks.players import best_model_path, needs_model

NET_ENGINE = "neural-mcts"  # the name engine.nn.selfplay's playout-cap player gives its seats
TEACHER_SEEDS = 1 << 30  # offset of the teacher games played beside a net's (far from the net games' seeds)


@dataclass(frozen=True)
class LoopSource:
    """What this run's selfplay plays: `bootstrap` (teachers) or `net` (the best model)."""

    kind: str
    games: int
    model_path: str | None = None
    model_id: str | None = None
    teacher_games: int = 0  # teacher games beside the net's (closed_loop.bootstrap.per_iteration)

    @property
    def total(self) -> int:
        return self.games + self.teacher_games


def loop_source(ctx: PhaseContext) -> LoopSource:
    """The source for this run: the registry's best model of the config (its file present) plays,
    else the bootstrap teachers (`closed_loop.bootstrap.games`, default `selfplay.games`)."""
    loop = ctx.settings.closed_loop
    assert loop is not None, "loop_source is for closed-loop profiles"
    best = best_model_path(ctx.data().registry_path, ctx.board, ctx.players)
    if best is None:
        return LoopSource("bootstrap", loop.bootstrap.games or ctx.settings.selfplay.games)
    return LoopSource("net", ctx.settings.selfplay.games, best[0], best[1], loop.bootstrap.per_iteration)


def net_settings(ctx: PhaseContext, id_prefix: str) -> dict[str, Any]:
    """engine.nn.learning.neural_games settings from `closed_loop.selfplay`."""
    n = ctx.settings.closed_loop.selfplay  # type: ignore[union-attr]
    return {**n.play_options(), "move_cap": ctx.settings.selfplay.move_cap, "id_prefix": id_prefix}


def play_closed(ctx: PhaseContext, source: LoopSource, *, seed: int, id_prefix: str, workers: int,
                tags: dict[str, Any], on_record: Callable[[dict[str, Any]], None]) -> None:
    """Play `source.total` games of the source in `workers` processes; each record, tagged, goes to
    `on_record` as soon as its chunk finishes. Game i has seed `seed + i` (a re-run plays the same);
    the teacher games beside a net's start at `seed + TEACHER_SEEDS` (a range net games never reach)."""
    from engine.nn.learning import neural_games, teacher_games
    loop = ctx.settings.closed_loop
    assert loop is not None

    def tagged(kind: str) -> Callable[[list[dict[str, Any]]], None]:
        pipeline = {**tags, "source": kind, "model": source.model_id or tags.get("model")}

        def chunk(records: list[dict[str, Any]]) -> None:
            for record in records:
                meta = record["metadata"]
                meta["playerVersions"] = ([str(source.model_id)] * ctx.players if kind == "net"
                                          else list(meta["engines"]))
                meta["pipeline"] = pipeline
                on_record(record)
        return chunk

    def teachers(games: int, first_seed: int, kind: str) -> None:
        teacher_games(ctx.board, ctx.players, loop.bootstrap.teachers, games, seed=first_seed, workers=workers,
                      opening=tuple(loop.bootstrap.opening_plies), move_cap=ctx.settings.selfplay.move_cap,
                      on_chunk=tagged(kind))

    if source.kind == "bootstrap":
        teachers(source.games, seed, "bootstrap")
        return
    neural_games(str(source.model_path), ctx.board, ctx.players, source.games, seed=seed, workers=workers,
                 settings=net_settings(ctx, id_prefix), on_chunk=tagged("net"))
    if source.teacher_games:  # the window keeps the teachers' share while the net's games pile up
        teachers(source.teacher_games, seed + TEACHER_SEEDS, "teacher")


def _fixed_player(ctx: PhaseContext, key: str, spec: str) -> None:
    """A teacher or the anchor: a player this build can make that does not play the current net."""
    if needs_model(spec):
        raise PermanentPhaseError("selfplay", ctx, ValueError(
            f"{key}: {spec!r} plays whatever net is best; it must play the same way every iteration "
            f"(an engine, a non-neural tier such as D5, or neural:model=<fixed file>)"))
    try:
        make_player(spec, seed=0)
    except ValueError as exc:
        raise PermanentPhaseError("selfplay", ctx, ValueError(
            f"{key}: player {spec!r} is not available in this build ({exc})")) from None


def check_closed(ctx: PhaseContext) -> None:
    """Refuse at once (no retries) closed-loop settings naming players this build cannot play."""
    loop = ctx.settings.closed_loop
    assert loop is not None
    for spec in loop.bootstrap.teachers:
        _fixed_player(ctx, "closed_loop.bootstrap.teachers", spec)
    if loop.gate.first_model == "anchor":
        _fixed_player(ctx, "closed_loop.gate.anchor", loop.gate.anchor)
    if not needs_model(loop.player):
        raise PermanentPhaseError("selfplay", ctx, ValueError(
            f"closed_loop.player: {loop.player!r} does not play the net; use neural:sims=N or a neural "
            f"tier such as D9 (the loop fills in each model)"))
