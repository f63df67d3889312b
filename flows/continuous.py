"""Continuous mode: the loop's phases as three chains that never wait on each other.

A synchronous iteration leaves selfplay's machines idle while training and evaluation run.
In continuous mode each chain is a flow of its own, deployed per board (prefect.yaml):

- `continuous-selfplay/<board>` runs `selfplay_loop`: batch after batch of selfplay games,
  and after each batch the event `rift.games.added` (the batch's new games, and the games
  stored since the last training). When those reach `train_every` and no training of the
  config is alive, it queues one `continuous-train/<board>` run (tasks/continuous_control.py):
  training follows the amount of new data, not a count of events, and at most one is queued.
  It stops after its batch when continuous mode is switched off (`rift continuous off`).
- `continuous-train/<board>` runs `train_on_games`: it syncs, trains on the games that arrived
  since the last training (tasks/ledger.py) and registers the candidate, which emits
  `rift.model.registered`. One training per config at a time (concurrency limit
  `train-<config>`), and never twice on the same games.
- `continuous-evaluate/<board>` runs `evaluate_and_gate`, started by a trigger on
  `rift.model.registered` with the model id and its iteration from the event (or by
  `rift continuous off`/`on` for a candidate left unrated): evaluate, rate, gate, and the same
  summary artifact an iteration publishes. A model already gated is not evaluated again.

Events of continuous runs carry the label `rift.mode: continuous`, so the trigger ignores
`rift iterate`'s own events. The trigger is declared disabled; `rift up --continuous`
(or `rift continuous on`) turns it on. The iteration flow stays the unit a user runs by hand.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from prefect import flow, get_run_logger

from flows.iteration import execute, make_context
from flows.plan import build_plan, completed_iterations, mark_completed
from infra.data_config import DataConfig, config_key
from infra.pipeline_config import load_pools_config
from tasks.common import PhaseContext, emit, retry_options
from tasks.ledger import claim_batch, read_ledger, record_training, untrained

TRAIN_EVERY_BATCHES = 2  # default `train_every`: two batches' worth of new games


def open_iteration(data: DataConfig, config: str) -> int:
    """The iteration the games played now will train: one past the newest training or iteration."""
    done = completed_iterations(data, config)
    return max([read_ledger(data, config)["last_iteration"], *done]) + 1


def continuous_context(board: str, players: int, profile: str, data_dir: str | None, pipeline_config: str | None,
                       iteration: int | None = None, **updates: Any) -> tuple[Any, PhaseContext, DataConfig]:
    """The iteration's context (settings validated once), marked continuous, at the open iteration (or
    `iteration`). Selfplay asks again before every batch, so its games name the iteration they will train."""
    cfg, ctx, data = make_context(board, players, profile, iteration or 1, data_dir, pipeline_config)
    number = iteration or open_iteration(data, ctx.config)
    return cfg, ctx.model_copy(update={"mode": "continuous", "iteration": number, **updates}), data


@contextmanager
def one_at_a_time(name: str) -> Iterator[None]:
    """One slot of the global concurrency limit `name` (created with one slot on first use; strict, so
    a limit that cannot be taken fails the run instead of silently limiting nothing). A server that
    answers 5xx (SQLite locked under load: 2 runs of the 60-minute soak failed here) is asked again
    for up to 5 minutes (tasks.continuous_control.persist, as for the drain's calls)."""
    from prefect.concurrency.sync import concurrency

    from tasks.continuous_control import persist
    from tasks.limits import ensure_limit
    ensure_limit(name, 1)
    with ExitStack() as held:
        persist(lambda: held.enter_context(concurrency(name, occupy=1, strict=True)), f"taking the limit {name}")
        yield


def gated(data: DataConfig, model: str) -> str | None:
    """The status of `model` when it is no longer a candidate (evaluated and gated), else None."""
    from infra.registry import ModelRegistry
    with ModelRegistry(data.registry_path) as reg:
        status = str(reg.get(model)["status"])
    return None if status == "candidate" else status


@flow(name="continuous-selfplay", flow_run_name="{board}-{players}p-{profile}", log_prints=True)
def selfplay_loop(board: str, players: int = 2, profile: str = "default", batches: int | None = None,
                  publish: bool = False, data_dir: str | None = None, pipeline_config: str | None = None,
                  train_every: int | None = None) -> dict[str, Any]:
    """Play batches of `selfplay.games` games, one after the other, until continuous mode is switched
    off for the board, the run is cancelled, or `batches` were played.

    After each batch: `rift.games.added` with the batch's new games and the games stored since the
    last training, and a training queued when those reach `train_every` (default: two batches' worth;
    0: never) and none is alive. `publish` exports each batch for the trainer's sync (a worker with its
    own data folder, e.g. on a GPU pool): it then counts the games it published since it last queued one.
    """
    from tasks.continuous_control import continuous_enabled, request_training
    from tasks.selfplay import selfplay
    logger = get_run_logger()
    played = added = trainings = 0
    published: int | None = 0 if publish else None  # games published since this loop last queued a training
    while batches is None or played < batches:
        if not continuous_enabled(board):
            logger.info("continuous mode is off for %s: the selfplay loop stops after %d batches", board, played)
            break
        _, base, data = continuous_context(board, players, profile, data_dir, pipeline_config)
        ctx = base.model_copy(update={"batch": claim_batch(data, base.config), "placed": publish})
        result = selfplay.with_options(**retry_options(ctx.settings.retries))(ctx=ctx, upstream=[])
        since = untrained(data, board, players)[2]
        emit("games.added", ctx, {"batch": ctx.batch, "games": result["inserted"], "since_training": since,
                                  "store_games": result["store_games"]})
        played, added = played + 1, added + result["inserted"]
        logger.info("batch %d of %s (iteration %d): %d new games, %d since the last training", ctx.batch,
                    ctx.config, ctx.iteration, result["inserted"], since)
        every = TRAIN_EVERY_BATCHES * ctx.settings.selfplay.games if train_every is None else train_every
        published = published + result["inserted"] if publish else None  # the trainer's ledger is elsewhere
        if every > 0 and request_training(data, board, players, profile, every, new=published, data_dir=data_dir,
                                          pipeline_config=pipeline_config):
            trainings, published = trainings + 1, 0 if publish else None
    return {"config": config_key(board, players), "batches": played, "games": added, "trainings": trainings}


@flow(name="continuous-train", flow_run_name="{board}-{players}p-{profile}", log_prints=True, persist_result=True)
def train_on_games(board: str, players: int = 2, profile: str = "default", min_games: int | None = None,
                   data_dir: str | None = None, pipeline_config: str | None = None) -> dict[str, Any]:
    """Sync, then train on the games that arrived since the last training and register the candidate
    (`rift.model.registered` starts its evaluation). Skips when fewer than `min_games` (default: one
    selfplay batch; the selfplay loop passes its `train_every`) are new: a repeated or late run does
    not train on the same games again."""
    from tasks.sync import sync
    from tasks.train import train
    logger = get_run_logger()
    config = config_key(board, players)
    with one_at_a_time(f"train-{config}"):
        _, ctx, data = continuous_context(board, players, profile, data_dir, pipeline_config)
        options = retry_options(ctx.settings.retries)
        sync.with_options(refresh_cache=True, **options)(ctx=ctx, upstream=[])  # published batches of other hosts
        after, upto, new = untrained(data, board, players)
        needed = min_games or ctx.settings.selfplay.games
        if new < needed:
            logger.info("%d new games of %s since the last training, fewer than %d: not training", new, config,
                        needed)
            return {"config": config, "trained": False, "new_games": new, "min_games": needed}
        ctx = ctx.model_copy(update={"rows": (after, upto)})
        result = train.with_options(**options)(ctx=ctx, upstream=[f"games-{config}-{after}-{upto}"])
        record_training(data, config, upto, ctx.iteration, profile)
    logger.info("iteration %d of %s: model %s trained on %d new games", ctx.iteration, config, result["model"], new)
    return {"config": config, "trained": True, "new_games": new, "iteration": ctx.iteration,
            "model": result["model"], "metrics": result["metrics"]}


@flow(name="continuous-evaluate", flow_run_name="{board}-{players}p-{model}", log_prints=True, persist_result=True)
def evaluate_and_gate(board: str, model: str, iteration: int, players: int = 2, profile: str = "default",
                      data_dir: str | None = None, pipeline_config: str | None = None) -> dict[str, Any]:
    """Evaluate the candidate `model` of `iteration` against the best and the baselines, rate it, gate
    it; publish the iteration summary. One evaluation per config at a time (the ratings are fitted
    over every evaluation game of the config), none dropped."""
    cfg, ctx, data = continuous_context(board, players, profile, data_dir, pipeline_config, iteration=iteration)
    with one_at_a_time(f"evaluate-{ctx.config}"):
        done = gated(data, model)
        if done is not None:  # the trigger and `rift continuous off` both asked: evaluated once
            get_run_logger().info("model %s was already evaluated and gated (%s): nothing to do", model, done)
            return {"config": ctx.config, "iteration": ctx.iteration, "model": model, "skipped": done}
        plan = build_plan(cfg, load_pools_config(), ctx, ["evaluate", "gate"], local=True)
        summary = execute(plan, ctx, data, upstream=[model])
        mark_completed(data, ctx.config, ctx.iteration)
    gate = summary["phases"]["gate"]["result"]
    evaluated = summary["phases"]["evaluate"]["result"]
    return {"config": ctx.config, "iteration": ctx.iteration, "model": model, "rating": evaluated["rating"],
            "promoted": gate["promoted"], "reason": gate["reason"], "wall_s": summary["wall_s"]}
