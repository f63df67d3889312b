"""Training of the closed loop: shards split by game, the lineage continued, held-out validation.

1. Export (once per iteration or continuous range, remembered by a marker): the iteration's games
   are split by game id (engine.nn.learning.split_by_game, `closed_loop.train.holdout_every`).
   Training games become a shard under `data/shards/<config>/`, held-out games one under
   `data/holdout/<config>/`, a folder nothing trains from (and sync never fills). Why by game and
   by a hash of the id: positions of one game are near-copies, so a split by sample would
   validate on what it trained on; and the hash puts a game on the same side in every iteration,
   so a parent never trained on a position its child validates on. Every position of a game is
   a row (`value_rows`: the value head learns from fast-search and opening positions too).
2. Train (engine.nn.learning.train_step, in a spawned process so this process never starts
   torch's thread pools before the gate forks match workers): from the lineage's newest model
   (`continue_from: latest`, promoted or not: the net keeps learning while the gate decides who
   plays) or the current best, else from scratch with `closed_loop.train.scratch`; on
   `subset` rows drawn from the newest `train.window_samples` samples of every shard, bootstrap
   and net games alike, so the window mixes both until net data pushes the teachers out.
3. Register the candidate with its parent and metrics: the held-out losses (`val_*`, with
   `validation` naming where they come from and `val_samples` how many) beside the training ones.
"""
from __future__ import annotations

import json
import logging
import os
import uuid
from pathlib import Path
from typing import Any

from engine.files import write_atomic
from infra.data_config import DataConfig
from infra.registry import ModelRegistry
from infra.storage import ArtifactStore
from tasks.common import PhaseContext

log = logging.getLogger(__name__)

SMALL_METRICS = ("train_policy_loss", "train_value_loss", "val_policy_loss", "val_value_loss", "val_policy_acc",
                 "val_samples", "samples", "samples_per_s", "validation")


def holdout_dir(cfg: DataConfig) -> Path:
    """Root of the held-out shards (`<data>/holdout/<config>/`): never read by training."""
    return cfg.data_dir / "holdout"


def _marker(cfg: DataConfig, ctx: PhaseContext) -> Path:
    return cfg.data_dir / "pipeline" / ctx.config / f"shard-i{ctx.iteration}{ctx.stream}-split.json"


def _write_part(ctx: PhaseContext, root: Path, part: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    from engine.nn.encoding import ENCODING_VERSION
    from engine.nn.policy import POLICY_VERSION
    from engine.nn.samples import samples_from_games
    from infra.shards import write_shard
    every = ctx.settings.closed_loop.train.holdout_every  # type: ignore[union-attr]
    samples = samples_from_games(records, seed=ctx.iteration, value_rows=True) if records else None
    if samples is None:
        return {"games": len(records), "samples": 0, "path": None}
    extra = {"encodingVersion": ENCODING_VERSION, "policyVersion": POLICY_VERSION, "valueFrame": "mover",
             "augment": "random", "valueRows": True, "split": part, "holdoutEvery": every}
    info = write_shard(root, ctx.board, ctx.players, samples, [str(r.get("id", "")) for r in records], extra=extra)
    return {"games": len(records), "samples": info.count, "path": str(info.path)}


def export_split(ctx: PhaseContext, cfg: DataConfig) -> dict[str, Any]:
    """The iteration's games as a training shard and a held-out shard (once); returns both parts."""
    from engine.nn.learning import split_by_game
    from tasks.train import _records
    marker = _marker(cfg, ctx)
    if marker.exists():
        done = json.loads(marker.read_text())
        if all(p["path"] is None or Path(p["path"]).exists() for p in done.values()):
            return {**done, "reused": True}
    train, held = split_by_game(_records(ctx, cfg), ctx.settings.closed_loop.train.holdout_every)  # type: ignore
    done = {"train": _write_part(ctx, cfg.shards_dir, "train", train),
            "holdout": _write_part(ctx, holdout_dir(cfg), "holdout", held)}
    write_atomic(marker, json.dumps(done))
    return {**done, "reused": False}


def net_spec(ctx: PhaseContext) -> dict[str, Any]:
    """The profile's net size as NetConfig fields (stored with each model: parents are matched on it)."""
    from tasks.train import net_config
    return net_config(ctx).model_dump()


def _fits(model: dict[str, Any], net: dict[str, Any]) -> bool:
    if not model.get("path") or not Path(model["path"]).exists():
        return False
    stored = model["metrics"].get("net")
    if stored is not None:
        return bool(stored == net)
    from engine.nn.model import load_model  # a model registered by an open-loop profile
    return bool(load_model(model["path"]).cfg.model_dump() == net)


def parent_of(ctx: PhaseContext, reg: ModelRegistry) -> dict[str, Any] | None:
    """The model to continue: the newest model of an earlier iteration (`latest`) or the best (`best`)
    whose net has the profile's size; None trains from scratch (also with `train.from_scratch`)."""
    if ctx.settings.train.from_scratch:
        return None
    net = net_spec(ctx)
    if ctx.settings.closed_loop.train.continue_from == "best":  # type: ignore[union-attr]
        best = reg.best(ctx.board, ctx.players)
        return best if best and _fits(best, net) else None
    frame = reg.models_frame(ctx.board, ctx.players)
    for model_id, iteration in zip(frame["id"], frame["iteration"]):  # newest first
        if int(iteration) >= ctx.iteration:  # this iteration's own earlier attempt is no parent
            continue
        model = reg.get(str(model_id))
        if _fits(model, net):
            return model
    return None


def _threads(requested: int) -> int:
    if requested:
        return requested
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def train_closed(ctx: PhaseContext) -> dict[str, Any]:
    """The closed loop's train phase as a plain function: export split shards, continue the lineage,
    validate on held-out games, register the candidate; returns ids and small metrics."""
    from engine.nn.learning import train_step
    from infra.shards import list_shards
    loop = ctx.settings.closed_loop
    assert loop is not None
    cfg = ctx.data()
    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    shard = export_split(ctx, cfg)
    if not list_shards(cfg.shards_dir, ctx.board, ctx.players):
        raise ValueError(f"no training samples for {ctx.config}: run selfplay first (no shards in {cfg.shards_dir})")
    t, lt = ctx.settings.train, loop.train
    net = net_spec(ctx)
    with ModelRegistry(cfg.registry_path) as reg:
        parent = parent_of(ctx, reg)
    scratch = parent is None
    log.info("training %s on %s: %s", ctx.config, "from scratch" if scratch else f"from {parent['id']}",
             {k: v for k, v in shard.items() if k != "reused"})
    tcfg = {"epochs": lt.scratch.epochs if scratch else t.epochs, "lr": lt.scratch.lr if scratch else t.lr,
            "schedule": lt.scratch.schedule if scratch else lt.schedule, "batch_size": t.batch_size,
            "seed": ctx.iteration, "val_fraction": 0.0, "checkpoint_every": 0,  # validation: held-out games only
            "device": "cpu" if os.environ.get("RIFT_TRAIN_CPU") else "auto"}
    model_id = f"{ctx.config}-i{ctx.iteration}-{uuid.uuid4().hex[:8]}"
    out = cfg.data_dir / "models" / ctx.config / f"{model_id}.pt"
    out.parent.mkdir(parents=True, exist_ok=True)
    result = train_step(parent["path"] if parent else None, net, cfg.shards_dir, holdout_dir(cfg), ctx.board,
                        ctx.players, window=t.window_samples, subset=lt.subset, val_window=lt.val_window,
                        cfg=tcfg, out=out, threads=_threads(t.threads))
    key = f"models/{ctx.config}/{model_id}.pt"
    store = ArtifactStore.from_config(cfg)
    try:
        store.save_and_upload(out, key)
    finally:
        store.close()
    metrics = {**{k: float(v) if isinstance(v, float) else v for k, v in result.items()},  # numpy -> JSON
               "net": net, "holdout_every": lt.holdout_every, "window": t.window_samples, "subset": lt.subset,
               "from_scratch": scratch,
               "validation": (f"held-out games (1 in {lt.holdout_every} by game id)" if result.get("val_samples")
                              else "none: no held-out games yet")}
    parent_id = parent["id"] if parent else None
    with ModelRegistry(cfg.registry_path) as reg:
        reg.register(ctx.board, ctx.players, path=str(out), artifact_key=key, parent_id=parent_id,
                     iteration=ctx.iteration, metrics=metrics, model_id=model_id)
    small = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in metrics.items() if k in SMALL_METRICS}
    return {"id": model_id, "model": model_id, "parent": parent_id, "path": str(out),
            "artifact_key": key, "shard_games": shard["train"]["games"], "shard_samples": shard["train"]["samples"],
            "held_games": shard["holdout"]["games"], "held_samples": shard["holdout"]["samples"], "metrics": small}
