"""Train phase: export the iteration's games as a shard, train a net, register the candidate.

1. Export: the games this iteration stored (tagged `metadata.pipeline.iteration`) become one
   shard under `data/shards/<config>/` (engine.nn.samples; without search visit counts the
   played move, one-hot, is the policy target). In continuous mode the games are instead those
   the store received in the rowid range `ctx.rows` (everything since the previous training,
   whichever batch or host played it). A small marker remembers the shard of each iteration
   (or range), so a retry or re-run does not write the same games twice.
2. Train: from the registry's current best model of the config when its size matches the
   profile's net (continued training), else from scratch; the newest `window_samples`
   samples across shards (engine.nn.train).
3. Register the candidate with its parent and metrics (engine.nn.train registers it) and emit
   `rift.model.registered`. Returns the model id and small metrics only.

A closed-loop profile (`closed_loop:`) trains through tasks.closed_train instead: held-out games
split by id into their own shards, the lineage's newest model continued, held-out losses recorded.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import torch

from engine.errors import ModelFileError
from engine.files import write_atomic
from engine.nn.model import NetConfig, load_model
from engine.nn.samples import write_game_shard
from engine.nn.train import TrainConfig
from engine.nn.train import train as train_net
from infra.data_config import DataConfig
from infra.gamestore import GameStore
from infra.registry import ModelRegistry
from infra.shards import list_shards
from infra.storage import ArtifactStore
from tasks.common import PhaseContext, emit, phase_task, run_phase

log = logging.getLogger(__name__)
# moves exported per sample the window holds: a position with one legal move makes no sample (tiny's
# random hex8 games give 0.45 samples a move), so the newest games' moves must exceed the window
MOVES_PER_SAMPLE = 3


def _marker(cfg: DataConfig, ctx: PhaseContext) -> Path:
    return cfg.data_dir / "pipeline" / ctx.config / f"shard-i{ctx.iteration}{ctx.stream}.json"


def _records(ctx: PhaseContext, cfg: DataConfig) -> list[dict[str, Any]]:
    """The games to learn from: the store's rowid range (continuous) or the iteration's tagged games.

    In continuous mode only the newest games of the range that fill the replay window (their moves
    reaching MOVES_PER_SAMPLE times `window_samples`): selfplay can outrun training, and samples older
    than the newest `window_samples` would never be trained on, while exporting them costs time and
    memory that grow with the backlog (issue 18's soak: 7,000 games behind, a 4 GB training run, each
    training slower than the last)."""
    path = cfg.game_db_path(ctx.board, ctx.players)
    if not path.exists():
        return []
    with GameStore(path, cfg.source_host, read_only=True) as store:
        if ctx.rows is not None:
            window = ctx.settings.train.window_samples
            records = store.newest_between(*ctx.rows, max_moves=MOVES_PER_SAMPLE * window)
            skipped = store.count_between(*ctx.rows) - len(records)
            if skipped:
                log.info("continuous: the newest %d new games fill the window of %d samples; %d older ones "
                         "are not exported", len(records), window, skipped)
            return records
        return [record for _, record in store.iter_records()
                if ((record.get("metadata") or {}).get("pipeline") or {}).get("iteration") == ctx.iteration]


def export_shard(ctx: PhaseContext, cfg: DataConfig) -> dict[str, Any]:
    """Write the iteration's games as one shard (once per iteration); returns what was written."""
    marker = _marker(cfg, ctx)
    if marker.exists():
        done = json.loads(marker.read_text())
        if done.get("path") is None:
            return {**done, "reused": True}
        # relative to the data folder (a moved folder keeps its shards); older markers hold absolute paths
        path = Path(done["path"]) if Path(done["path"]).is_absolute() else cfg.data_dir / done["path"]
        if not path.exists():
            path = cfg.shards_dir / ctx.config / path.name
        if path.exists():
            return {**done, "path": str(path), "reused": True}
    records = _records(ctx, cfg)
    info = write_game_shard(cfg.shards_dir, records, augment="random", seed=ctx.iteration) if records else None
    done = {"games": len(records), "samples": info.count if info else 0,
            "path": info.path.relative_to(cfg.data_dir).as_posix() if info else None}
    write_atomic(marker, json.dumps(done))
    return {**done, "path": str(info.path) if info else None, "reused": False}


def net_config(ctx: PhaseContext) -> NetConfig:
    t = ctx.settings.train
    return NetConfig(board_type=ctx.board, num_players=ctx.players, channels=t.channels, blocks=t.blocks,
                     policy_channels=min(32, t.channels), value_channels=min(32, t.channels),
                     value_hidden=min(128, 2 * t.channels))


def read_model(path: str | Path, what: str) -> Any:
    """Load a model export, or fail permanently naming the file (the loader's ModelFileError, told for
    training): a missing, truncated or foreign file is not transient (retrying reads the same bytes),
    and training on without it would break lineage."""
    try:
        return load_model(path)
    except ModelFileError as exc:
        remedy = ("restore the data folder (or the file from the artifact store), or deprecate that model "
                  "(`rift models deprecate`) to train from another" if exc.kind == "missing" else
                  "restore it from the artifact store or deprecate that model (`rift models deprecate`)")
        raise exc.retold(what, remedy) from exc


def parent_model(ctx: PhaseContext, reg: ModelRegistry) -> dict[str, Any] | None:
    """The registry entry training continues from: the best model, unless the profile trains from scratch."""
    if ctx.settings.train.from_scratch:
        return None
    return reg.best(ctx.board, ctx.players)


def starting_point(ctx: PhaseContext, parent: dict[str, Any] | None, path: str | Path | None) -> tuple[Any, str | None]:
    """(the parent model, its id) when the parent fits the profile's net, else (a NetConfig, None).
    A parent whose file is missing or damaged fails the phase, naming the file (ModelFileError)."""
    fresh = net_config(ctx)
    if parent is None:
        return fresh, None
    path = path or parent.get("path")
    if not path:
        raise ModelFileError(None, f"without a file in the registry (artifact key {parent.get('artifact_key')})",
                             "restore it, or deprecate that model to train from another",
                             what=f"parent model {parent['id']}", kind="missing")
    model = read_model(path, f"parent model {parent['id']}:")
    if model.cfg != fresh:
        log.info("best model %s has another net size (%s); training from scratch", parent["id"], model.cfg)
        return fresh, None
    model.train()
    return model, parent["id"]


def fit(ctx: PhaseContext, shards_dir: Path, net: Any, out_dir: Path, store: ArtifactStore | None,
        reg: ModelRegistry, parent: str | None) -> dict[str, Any]:
    """Train on the shards under `shards_dir` and register in `reg`; returns the registry entry."""
    if not list_shards(shards_dir, ctx.board, ctx.players):
        raise ValueError(f"no training samples for {ctx.config}: run selfplay first (no shards in {shards_dir})")
    t = ctx.settings.train
    tcfg = TrainConfig(epochs=t.epochs, batch_size=t.batch_size, lr=t.lr, window=t.window_samples,
                       seed=ctx.iteration, device="cpu" if os.environ.get("RIFT_TRAIN_CPU") else "auto",
                       checkpoint_every=1 if t.epochs > 1 else 0)
    threads = torch.get_num_threads()
    if t.threads:
        torch.set_num_threads(t.threads)
    try:
        result = train_net(shards_dir, ctx.board, ctx.players, net, tcfg, out_dir=out_dir, store=store, registry=reg,
                           parent_id=parent, iteration=ctx.iteration)
    finally:
        torch.set_num_threads(threads)
    return reg.get(result.model_id) | {"artifact_key": result.artifact_key}


KEEP = ("train_policy_loss", "train_value_loss", "val_policy_loss", "val_value_loss", "val_policy_acc",
        "samples", "samples_per_s")


def small_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in metrics.items() if k in KEEP}


def train_candidate(ctx: PhaseContext) -> dict[str, Any]:
    """The phase's work as a plain function: export, train, register; returns ids and metrics
    (a closed-loop profile: tasks.closed_train, held-out games split by id, the lineage continued)."""
    if ctx.settings.closed:
        from tasks.closed_train import train_closed
        return train_closed(ctx)
    cfg = ctx.data()
    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    shard = export_shard(ctx, cfg)
    store = ArtifactStore.from_config(cfg)
    try:
        with ModelRegistry(cfg.registry_path) as reg:
            net, parent = starting_point(ctx, parent_model(ctx, reg), None)
            model = fit(ctx, cfg.shards_dir, net, cfg.data_dir / "models" / ctx.config, store, reg, parent)
    finally:
        store.close()
    return {"id": model["id"], "model": model["id"], "parent": parent, "path": model["path"],
            "artifact_key": model["artifact_key"], "shard_games": shard["games"], "shard_samples": shard["samples"],
            "metrics": small_metrics(model["metrics"])}


@phase_task("train")
def train(ctx: PhaseContext, upstream: list[str]) -> dict[str, Any]:
    """Export shards, train from the best (or scratch), register the candidate; returns its id and metrics."""
    def body() -> dict[str, Any]:
        result = train_candidate(ctx)
        emit("model.registered", ctx, {"model": result["model"], "parent": result["parent"],
                                       "metrics": result["metrics"]})
        return result
    return run_phase("train", ctx, body)

