"""What each placeable phase hands over, does on its pool, and hands back (the data plane, per phase).

Every placed phase is three steps (infra/dataplane.py moves the files):

- `prepare` on the coordinator: choose the inputs from its own game store and registry,
  publish them under content keys, and put the keys (`ctx.inputs`) and the ids it chose
  (`ctx.refs`: the parent, the candidate, the best) in the context the pool receives.
- `work` on the pool's host: fetch the keys into the host's cache, run the phase's library
  code, publish what it made, and return keys and small metrics (through Prefect's results).
- `record` on the coordinator, with the context `prepare` made: fetch what came back and write it where the truth lives
  (game store, registry, ratings), idempotently, so a retried run duplicates nothing.

Phases not listed here read or write the coordinator's stores as their whole job (sync,
cmaes, profile_sync, gate) and run in-process (infra.pipeline_config.COORDINATOR_ONLY).
"""
from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.replay_check import first_problem
from infra.dataplane import fetch, place, publish
from infra.ingest import ingest
from infra.registry import ModelRegistry
from infra.shards import list_shards
from infra.storage import ArtifactStore
from tasks.common import PhaseContext, emit, short_hash


HANDOFF = "handoff/"  # key prefix of everything handed over: apart from sync/, profiles/, models/, backups/


@dataclass(frozen=True)
class Hooks:
    prepare: Callable[[PhaseContext, list[str], ArtifactStore], PhaseContext]
    work: Callable[[PhaseContext, list[str], ArtifactStore], dict[str, Any]]
    record: Callable[[PhaseContext, dict[str, Any], ArtifactStore], dict[str, Any]]


def hydrate(ctx: PhaseContext, store: ArtifactStore) -> None:
    """Fetch every input key into this host's cache (verified against the key's digest)."""
    for key in ctx.inputs.values():
        fetch(store, key, ctx.data().data_dir)


def _with(ctx: PhaseContext, inputs: dict[str, str], refs: dict[str, str | None]) -> PhaseContext:
    return ctx.model_copy(update={"inputs": {**ctx.inputs, **inputs}, "refs": {**ctx.refs, **refs}})


# -- selfplay: the best model and profile go out, a game database comes back --------------------------
def prepare_selfplay(ctx: PhaseContext, _upstream: list[str], store: ArtifactStore) -> PhaseContext:
    from tasks.cmaes import synced_profile_path
    from tasks.players import best_model_path
    cfg = ctx.data()
    inputs: dict[str, str] = {}
    refs: dict[str, str | None] = {"best": None}  # always set: the host uses what is handed, not its own stores
    best = best_model_path(cfg.registry_path, ctx.board, ctx.players)
    if best:
        inputs["best"], refs["best"] = publish(store, Path(best[0]), HANDOFF + "models", ctx.config), best[1]
    profile = synced_profile_path(cfg, ctx.board, ctx.players)
    if profile:
        inputs["profile"] = publish(store, profile, HANDOFF + "profiles", ctx.config)
    return _with(ctx, inputs, refs)


def work_selfplay(ctx: PhaseContext, _upstream: list[str], store: ArtifactStore) -> dict[str, Any]:
    from tasks.selfplay import play_and_store
    hydrate(ctx, store)
    return play_and_store(ctx, artifacts=store)  # placed: publishes this run's games (key in "published")


def record_selfplay(ctx: PhaseContext, result: dict[str, Any], store: ArtifactStore) -> dict[str, Any]:
    """Ingest the published games into the coordinator's store now (content hashes: once only), and
    note the key in the sync phase's ledger so it is not downloaded again."""
    from tasks.sync import _ledger_path, _load_ledger, _save_ledger
    cfg = ctx.data()
    key = result.get("published")
    if not key:
        return result
    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cfg.data_dir, prefix=".record-") as tmp:
        report = ingest(cfg, store.download(key, Path(tmp) / Path(key).name), source_host=result.get("host"),
                        check=first_problem)
    ledger = _ledger_path(cfg, ctx.config)
    _save_ledger(ledger, _load_ledger(ledger) | {key})
    total = report.total
    from infra.gamestore import GameStore
    with GameStore(cfg.game_db_path(ctx.board, ctx.players), cfg.source_host) as games:
        stored = games.count()
    out = {**result, "recorded": {"inserted": total.inserted, "already_present": total.already_present,
                                  "rejected": len(report.rejected)}, "store_games": stored}
    emit("selfplay.completed", ctx, {k: out[k] for k in ("id", "games", "inserted", "store_games")})
    return out


# -- train: shards and the parent go out, the candidate's file comes back -----------------------------
def prepare_train(ctx: PhaseContext, _upstream: list[str], store: ArtifactStore) -> PhaseContext:
    """Export the iteration's games as a shard here (the games live here), publish the newest shards that
    fill the training window and the parent model; a missing or damaged parent fails here, named."""
    from tasks.train import export_shard, parent_model, read_model
    cfg = ctx.data()
    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    shard = export_shard(ctx, cfg)
    inputs: dict[str, str] = {}
    have = 0
    for info in list_shards(cfg.shards_dir, ctx.board, ctx.players):  # newest first
        if have >= ctx.settings.train.window_samples:
            break
        manifest = info.path.with_suffix(".json")  # infra/shards.py writes it beside the data
        for part in (info.path, manifest):
            inputs[f"shards/{ctx.config}/{part.name}"] = publish(store, part, HANDOFF + "shards", ctx.config)
        have += info.count
    if not inputs:
        raise ValueError(f"no training samples for {ctx.config}: run selfplay first (no shards in {cfg.shards_dir})")
    refs: dict[str, str | None] = {"parent": None, "shard_games": str(shard["games"]),
                                   "shard_samples": str(shard["samples"])}
    if cfg.registry_path.exists():
        with ModelRegistry(cfg.registry_path) as reg:
            parent = parent_model(ctx, reg)
        if parent:
            read_model(parent["path"] or "", f"parent model {parent['id']}:")  # fail here, naming the file
            inputs["parent"] = publish(store, Path(parent["path"]), HANDOFF + "models", ctx.config)
            refs["parent"] = parent["id"]
    return _with(ctx, inputs, refs)


def work_train(ctx: PhaseContext, _upstream: list[str], store: ArtifactStore) -> dict[str, Any]:
    """Train on the handed shards from the handed parent; publish the model; return its entry (a scratch
    registry on this host makes the same entry the coordinator will record)."""
    from tasks.train import fit, starting_point
    hydrate(ctx, store)
    cfg = ctx.data()
    work = cfg.data_dir / "placed" / f"train-{ctx.config}-i{ctx.iteration}-{short_hash(*sorted(ctx.inputs.values()))}"
    for rel, cached in ctx.inputs_under("shards").items():
        place(cached, work / "shards" / rel)
    parent_id = ctx.refs.get("parent")
    parent = {"id": parent_id} if parent_id else None
    net, parent = starting_point(ctx, parent, ctx.input_path("parent"))
    with tempfile.TemporaryDirectory(dir=work.parent, prefix=".reg-") as tmp, \
            ModelRegistry(Path(tmp) / "registry.db") as scratch:
        model = fit(ctx, work / "shards", net, work / "models", None, scratch, None)
    key = publish(store, Path(model["path"]), HANDOFF + "models", ctx.config)
    return {"id": model["id"], "model": model["id"], "parent": parent, "artifact_key": key,
            "metrics": model["metrics"], "host": cfg.source_host,
            "shard_games": int(ctx.refs.get("shard_games") or 0),
            "shard_samples": int(ctx.refs.get("shard_samples") or 0)}


def record_train(ctx: PhaseContext, result: dict[str, Any], store: ArtifactStore) -> dict[str, Any]:
    """Put the candidate's file in the coordinator's data folder and register it with its parent."""
    from tasks.train import read_model, small_metrics
    cfg = ctx.data()
    dest = cfg.data_dir / "models" / ctx.config / f"{result['model']}.pt"
    place(fetch(store, result["artifact_key"], cfg.data_dir), dest)
    read_model(dest, f"candidate model {result['model']} (from {result.get('host')}):")
    with ModelRegistry(cfg.registry_path) as reg:
        try:
            reg.get(result["model"])  # recorded before (a resumed iteration): once only
        except KeyError:
            reg.register(ctx.board, ctx.players, path=str(dest), artifact_key=result["artifact_key"],
                         parent_id=result["parent"], iteration=ctx.iteration, metrics=result["metrics"],
                         model_id=result["model"])
    small = small_metrics(result["metrics"])
    emit("model.registered", ctx, {"model": result["model"], "parent": result["parent"], "metrics": small})
    return {**result, "path": str(dest), "metrics": small}


# -- evaluate: candidate and best go out, the match records come back ---------------------------------
def prepare_evaluate(ctx: PhaseContext, upstream: list[str], store: ArtifactStore) -> PhaseContext:
    from tasks.evaluate import contenders
    with ModelRegistry(ctx.data().registry_path) as reg:
        cand, best = contenders(ctx, reg, upstream)
    inputs = {"candidate": publish(store, Path(cand["path"]), HANDOFF + "models", ctx.config)}
    if best:
        inputs["best"] = publish(store, Path(best["path"]), HANDOFF + "models", ctx.config)
    return _with(ctx, inputs, {"candidate": cand["id"], "best": best["id"] if best else None})


def work_evaluate(ctx: PhaseContext, _upstream: list[str], store: ArtifactStore) -> dict[str, Any]:
    from tasks.evaluate import play_matches
    hydrate(ctx, store)
    best = ctx.input_path("best")
    matches, games = play_matches(ctx, str(ctx.refs["candidate"]), str(ctx.input_path("candidate")),
                                  ctx.refs.get("best"), str(best) if best else None)
    cfg = ctx.data()
    out = cfg.data_dir / "placed" / f"evaluate-{ctx.config}-i{ctx.iteration}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"matches": matches, "games": games}))
    key = publish(store, out, HANDOFF + "evaluations", ctx.config)
    return {"id": f"matches-{ctx.config}-i{ctx.iteration}", "matches_key": key, "host": cfg.source_host}


def record_evaluate(ctx: PhaseContext, result: dict[str, Any], store: ArtifactStore) -> dict[str, Any]:
    """Fit and record the ratings on the coordinator from the match records that came back."""
    from tasks.evaluate import rate
    played = json.loads(fetch(store, result["matches_key"], ctx.data().data_dir).read_text())
    with ModelRegistry(ctx.data().registry_path) as reg:
        cand = reg.get(str(ctx.refs["candidate"]))
        best = reg.get(str(ctx.refs["best"])) if ctx.refs.get("best") else None
        rated = rate(ctx, reg, cand, best, played["matches"], played["games"])
    emit("model.evaluated", ctx, {"model": rated["candidate"], "rating": rated["rating"], "vs": rated["vs"]})
    return {**rated, "host": result.get("host"), "matches_key": result["matches_key"]}


# -- monitor: nothing goes out or comes back; the host reports itself -----------------------------------
def _none(ctx: PhaseContext, _upstream: list[str], _store: ArtifactStore) -> PhaseContext:
    return ctx


def _as_is(_ctx: PhaseContext, result: dict[str, Any], _store: ArtifactStore) -> dict[str, Any]:
    return result


def work_monitor(ctx: PhaseContext, upstream: list[str], _store: ArtifactStore) -> dict[str, Any]:
    from tasks.monitor import monitor
    return monitor.fn(ctx=ctx, upstream=upstream)


HOOKS: dict[str, Hooks] = {
    "selfplay": Hooks(prepare_selfplay, work_selfplay, record_selfplay),
    "train": Hooks(prepare_train, work_train, record_train),
    "evaluate": Hooks(prepare_evaluate, work_evaluate, record_evaluate),
    "monitor": Hooks(_none, work_monitor, _as_is),
}
