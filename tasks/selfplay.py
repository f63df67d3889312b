"""Selfplay phase: play the profile's games for one config and write them to the game store.

Every game goes through the journaled `GameWriter` as soon as it ends (the pool's chunks are
taken in the order they finish), so a worker killed or cancelled mid-phase loses at most the
games being played; the re-run replays the same seeds (game i of
iteration k always has the same seed and id), so games already stored come back
as "already present" instead of twice. Each record says which engine, profile or
model version played each seat and in which iteration, which is how the summary
measures how stale the training data is.

A mix may name the net: `nn` or `neural:sims=64[,full_prob=0.25,fast_sims=16,root=gumbel]`.
The registry's best model of the config is filled in (tasks.players.resolve_spec), and such
a seat searches with playout-cap randomisation (engine.nn.selfplay.PlayoutCapPlayer): its
full searches' policy targets go into the record (metadata "searchTargets"), which the train
phase's shards then use instead of the played moves. A mix naming the net while the registry
has no model for the config is refused before any game.

A closed-loop profile (`closed_loop:`) does not play the mix: tasks.closed_selfplay plays
bootstrap teacher games until the config has a best model, then the best net with search.

Games are played in a process pool sized to the cores this worker may use (a
stopped phase terminates its workers at once rather than finishing the queue), and
the phase takes one slot of the per-host concurrency limit `selfplay-<host>` when
the profile sets `host_slots`, so two selfplay runs never oversubscribe a machine.
"""
from __future__ import annotations

import hashlib
import multiprocessing
import os
import random
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import ExitStack, nullcontext
from pathlib import Path
from typing import Any

from engine.players import make_player, parse_spec
from engine.players.heuristic import WeightsByConfig
from engine.players.profiles import load_profile
from engine.records import SEARCH_TARGETS
from engine.selfplay import play_game
from infra.gamestore import GameStore
from infra.gamewriter import GameWriter
from infra.records import content_hash
from infra.storage import ArtifactStore
from infra.procpool import abandon_pool, leave_sigint
from tasks.cmaes import synced_profile_path
from tasks.common import PermanentPhaseError, PhaseContext, artifact_key, emit, in_prefect_run, phase_task, run_phase
from tasks.players import best_model_path, fill_models, needs_model, tuned_player


def seed_base(ctx: PhaseContext) -> int:
    """Distinct, reproducible seeds per (profile seed, config, iteration, continuous batch)."""
    batch = "" if ctx.batch is None else f"|b{ctx.batch}"
    digest = hashlib.sha256(f"{ctx.settings.selfplay.seed}|{ctx.config}|{ctx.iteration}{batch}".encode()).hexdigest()
    return int(digest[:10], 16)


def resolved_mix(ctx: PhaseContext) -> tuple[dict[str, float], str | None]:
    """The mix with the registry's best model filled in where an engine needs a net, and that
    model's id (None when no engine needs one or the registry has no model)."""
    if not any(needs_model(e) for e in ctx.mix):
        return dict(ctx.mix), None
    handed = ctx.input_path("best")  # placed: the coordinator's best, fetched (tasks/placed.py)
    best = ((str(handed), str(ctx.refs["best"])) if handed else None) if ctx.handed else \
        best_model_path(ctx.data().registry_path, ctx.board, ctx.players)
    reference = None
    if best is None:
        from engine.players.neural import reference_model
        ref = reference_model(ctx.board, ctx.players)
        reference = (str(ref), f"reference:{ref.name}") if ref is not None else None
    return fill_models(dict(ctx.mix), best, reference)


def seat_player(spec: str, seed: int, log: list[Any] | None = None, profile_file: str | None = None) -> Any:
    """The player of one seat; a searching `neural` spec becomes a playout-cap player that
    logs its policy targets into `log` (shared by the game's seats); heuristic-weighted engines
    play with `profile_file` (the config's synced best profile) when given."""
    name, params = parse_spec(spec)
    if name != "neural" or int(params.get("sims", 64)) <= 0:
        return tuned_player(spec, seed, profile_file)
    from engine.nn.selfplay import PlayoutCapPlayer
    from tasks.players import _one_thread
    _one_thread()
    full_prob = float(params.pop("full_prob", 0.25))
    fast = params.pop("fast_sims", None)
    temperature = float(params.pop("temperature", 1.0))
    sims = int(params.get("sims", 64))
    params.setdefault("batch_size", 8)  # selfplay trades search depth for throughput (full searches are few)
    search = make_player("neural", seed=seed, **params)
    return PlayoutCapPlayer(search, log if log is not None else [], full_prob=full_prob, full_sims=sims,
                            fast_sims=sims // 4 if fast is None else int(fast), temperature=temperature,
                            seed=seed + 7)


BATCHED_PLAYERS = ("random", "heuristic")


def cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def batched_player(ctx: PhaseContext) -> str | None:
    """The player of the batched engine (engine/batched) when this run's games go there, else None.

    The batched engine plays one player type in every seat, so it takes mixes of one batched
    player (random-only, heuristic-only); `auto` uses it when CUDA is present (GPU pools), `gpu`
    always (a mix it cannot play is refused), `cpu` never."""
    sp = ctx.settings.selfplay
    if sp.engine == "cpu":
        return None
    engines = [e for e, w in ctx.mix.items() if w > 0]
    one = engines[0] if len(engines) == 1 and engines[0] in BATCHED_PLAYERS else None
    if sp.engine == "gpu" and one is None:
        raise PermanentPhaseError("selfplay", ctx, ValueError(
            f"selfplay engine gpu plays one batched player (random or heuristic) in every seat, but mix "
            f"{sp.mix!r} is {ctx.mix}; use mix random-only or heuristic-only, or --engine cpu"))
    if sp.engine == "auto" and not (one and cuda_available()):
        return None
    return one


def _batched_games(ctx: PhaseContext, player: str, jobs: list[tuple[int, str]], base: int,
                   tags: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The phase's games from the batched engine: every game is replayed through the reference
    engine before it is yielded (engine.batched.records), so the store gets the same records."""
    from engine.batched.records import batched_records
    sp = ctx.settings.selfplay
    for record in batched_records(ctx.board, ctx.players, [gid for _, gid in jobs], player=player,
                                  device="auto", seed=base, move_cap=sp.move_cap, batch=sp.gpu_batch):
        record["metadata"]["playerVersions"] = list(record["metadata"]["engines"])
        record["metadata"]["pipeline"] = tags
        yield record


def check_engines(ctx: PhaseContext) -> None:
    """Refuse at once (no retries) a mix naming an engine this build cannot make (closed-loop
    profiles: their teachers, anchor and deployed player instead; they do not play the mix)."""
    if ctx.settings.closed:
        from tasks.closed_selfplay import check_closed
        check_closed(ctx)
        return
    batched_player(ctx)
    mix, _ = resolved_mix(ctx)
    for engine in mix:
        if needs_model(engine) and parse_spec(engine)[0] in ("nn", "neural"):
            raise PermanentPhaseError("selfplay", ctx, ValueError(
                f"engine {engine!r} of mix {ctx.settings.selfplay.mix!r} needs a trained model and the registry "
                f"has none for {ctx.config}; train one first (e.g. with the mixed mix)")) from None
        try:
            seat_player(engine, seed=0) if parse_spec(engine)[0] == "neural" else make_player(engine, seed=0)
        except ValueError as exc:
            raise PermanentPhaseError("selfplay", ctx, ValueError(
                f"engine {engine!r} of mix {ctx.settings.selfplay.mix!r} is not available in this build ({exc}); "
                f"choose another mix in config/pipeline.yaml or use --profile tiny")) from None


def play_one(board: str, players: int, mix: dict[str, float], seed: int, game_id: str,
             move_cap: int | None, tags: dict[str, Any], profile_file: str | None = None) -> dict[str, Any]:
    """One game with each seat's engine drawn from the mix (heuristic-weighted engines use the
    config's synced best profile when there is one); the record notes who played and when."""
    rng = random.Random(seed)
    names, weights = zip(*sorted(mix.items()))
    log: list[Any] = []
    seats = [seat_player(rng.choices(names, weights)[0], seed * 10 + p, log, profile_file) for p in range(players)]
    capped = [hasattr(p, "full_prob") for p in seats]
    versions = [str(tags.get("model")) if c else player_version(p, board, players) for p, c in zip(seats, capped)]
    if any(capped):  # every seat must log one entry per move: the others log None (no target)
        seats = [p if c else _Unlogged(p, log) for p, c in zip(seats, capped)]
    record = play_game(board, players, seats, game_id=game_id, seed=seed, move_cap=move_cap)
    record["metadata"]["playerVersions"] = versions
    if any(capped):
        record["metadata"][SEARCH_TARGETS] = log
    record["metadata"]["pipeline"] = tags
    return record


def player_version(player: Any, board: str, players: int) -> str:
    """What played a seat: the engine, and for engines that evaluate with heuristic weights the
    version of the profile they load (`heuristic@<version>`), or the player's own version."""
    weights = getattr(player, "weights", None) or getattr(getattr(player, "evaluator", None), "weights", None)
    if isinstance(weights, WeightsByConfig):
        profile = weights.profile or load_profile(board, players)
        return f"{player.name}@{profile.version}"
    return str(getattr(player, "version", None) or player.name)


class _Unlogged:
    """A seat without search targets in a game that records them: logs None for its moves."""

    def __init__(self, player: Any, log: list[Any]) -> None:
        self.player, self.log, self.name = player, log, player.name

    def choose(self, state: Any) -> Any:
        self.log.append(None)
        return self.player.choose(state)


def _play_chunk(args: tuple[Any, ...]) -> list[dict[str, Any]]:
    board, players, mix, move_cap, tags, profile_file, jobs = args
    return [play_one(board, players, mix, seed, gid, move_cap, tags, profile_file) for seed, gid in jobs]


def current_model(ctx: PhaseContext) -> str | None:
    """The config's best model when the games start: the generation these games were played under
    (recorded with each game, beside the iteration, so staleness can be measured either way)."""
    if ctx.handed:  # the coordinator named it (tasks/placed.py); this host's registry is not the truth
        return ctx.refs.get("best")
    cfg = ctx.data()
    if not cfg.registry_path.exists():
        return None
    from infra.registry import ModelRegistry
    with ModelRegistry(cfg.registry_path) as reg:
        best = reg.best(ctx.board, ctx.players)
    return best["id"] if best else None


def worker_processes(requested: int, games: int) -> int:
    """The cores this process may use (or the profile's number), never more than the games."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(requested or cores, games))


def game_tags(ctx: PhaseContext, model: str | None = None) -> dict[str, Any]:
    """metadata.pipeline of the phase's games: what they feed and under which best model they were played."""
    tags = {"iteration": ctx.iteration, "profile": ctx.profile, "configHash": ctx.config_hash,
            "mix": ctx.settings.selfplay.mix, "host": ctx.data().source_host, "mode": ctx.mode,
            "model": model or current_model(ctx)}
    if ctx.batch is not None:
        tags["batch"] = ctx.batch
    return tags


def id_stem(ctx: PhaseContext) -> str:
    return f"sp-{ctx.config}-i{ctx.iteration}" + ("" if ctx.batch is None else f"-b{ctx.batch}")


def games_of(ctx: PhaseContext) -> Iterator[dict[str, Any]]:
    """Play the phase's games, in this process or a pool; yields records as chunks finish."""
    sp = ctx.settings.selfplay
    base = seed_base(ctx)
    mix, model = resolved_mix(ctx)
    tags = game_tags(ctx, model)
    synced = ctx.input_path("profile") if ctx.handed else synced_profile_path(ctx.data(), ctx.board, ctx.players)
    profile_file = str(synced) if synced else None  # profile_sync's best, else config/profiles
    stem = id_stem(ctx)
    jobs = [(base + i, f"{stem}-{base:x}-{i:05d}") for i in range(sp.games)]
    player = batched_player(ctx)
    if player is not None:
        yield from _batched_games(ctx, player, jobs, base, tags)
        return
    procs = worker_processes(sp.processes, sp.games)
    if procs == 1:
        for seed, gid in jobs:
            yield play_one(ctx.board, ctx.players, mix, seed, gid, sp.move_cap, tags, profile_file)
        return
    size = max(1, min(sp.progress_every, -(-len(jobs) // (procs * 4))))
    chunks = [(ctx.board, ctx.players, mix, sp.move_cap, tags, profile_file, jobs[i:i + size])
              for i in range(0, len(jobs), size)]
    method = "forkserver" if sys.platform.startswith("linux") else "spawn"  # no fork under Prefect's threads
    pool = ProcessPoolExecutor(procs, mp_context=multiprocessing.get_context(method), initializer=leave_sigint)
    try:  # each chunk as soon as it ends (not in order): a stopped batch has journaled every game it finished
        for done in as_completed([pool.submit(_play_chunk, chunk) for chunk in chunks]):
            yield from done.result()
    except BaseException:  # stopped (Ctrl-C, SIGTERM), a game failed, or the caller gave up (GeneratorExit)
        abandon_pool(pool)
        raise
    pool.shutdown()


def planned_games(ctx: PhaseContext) -> int:
    """How many games this run plays (a closed-loop bootstrap may play more than selfplay.games)."""
    if not ctx.settings.closed:
        return ctx.settings.selfplay.games
    from tasks.closed_selfplay import loop_source
    return loop_source(ctx).total


def play_games(ctx: PhaseContext, on_record: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """Play the phase's games, each record to `on_record`; returns what played them: the mix, or
    for a closed-loop profile its source (bootstrap teachers or the best net, tasks.closed_selfplay)."""
    sp = ctx.settings.selfplay
    if not ctx.settings.closed:
        for record in games_of(ctx):
            on_record(record)
        return {"games": sp.games, "source": "mix", "model": None}
    from tasks.closed_selfplay import loop_source, play_closed
    source = loop_source(ctx)
    play_closed(ctx, source, seed=seed_base(ctx), id_prefix=f"{id_stem(ctx)}-{seed_base(ctx):x}",
                workers=worker_processes(sp.processes, source.total), tags=game_tags(ctx, source.model_id),
                on_record=on_record)
    return {"games": source.total, "source": source.kind, "model": source.model_id}


class Progress:
    """The selfplay progress artifact (updated every `every` games), or nothing outside a run."""

    def __init__(self, ctx: PhaseContext, total: int, every: int) -> None:
        self.total, self.every, self.id = total, every, None
        if in_prefect_run():
            from prefect.artifacts import create_progress_artifact
            self.id = create_progress_artifact(
                0.0, key=artifact_key("selfplay-progress", ctx.config),
                description=f"selfplay {ctx.config} iteration {ctx.iteration}: {total} games")

    def update(self, done: int) -> None:
        if self.id is not None and (done % self.every == 0 or done == self.total):
            from prefect.artifacts import update_progress_artifact
            update_progress_artifact(self.id, round(100.0 * done / self.total, 1))


def _slot(ctx: PhaseContext) -> Any:
    """One slot of `selfplay-<host>` when the profile limits selfplay runs per host."""
    slots = ctx.settings.selfplay.host_slots
    if not slots or not in_prefect_run():
        return nullcontext()
    from prefect.concurrency.sync import concurrency
    from tasks.limits import ensure_limit
    name = f"selfplay-{ctx.data().source_host}".lower()  # the host's configured name (RIFT_SOURCE_HOST)
    ensure_limit(name, slots)
    return concurrency(name, occupy=1, strict=True)


def play_and_store(ctx: PhaseContext, on_game: Callable[[int], None] | None = None,
                   artifacts: ArtifactStore | None = None) -> dict[str, Any]:
    """The phase's work as a plain function: play, journal, flush; placed, publish this run's games
    (to `artifacts`, default the configured artifact store) for the coordinator to record."""
    cfg = ctx.data()
    check_engines(ctx)
    stats: Counter[str] = Counter()
    wins: Counter[str] = Counter()
    engines: Counter[str] = Counter()
    published = None
    with ExitStack() as stack:
        stack.enter_context(_slot(ctx))
        writer = stack.enter_context(GameWriter(cfg, ctx.board, ctx.players))
        export = None
        if ctx.placed:  # games for the coordinator's sync phase: this run's games only
            cfg.data_dir.mkdir(parents=True, exist_ok=True)
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(dir=cfg.data_dir, prefix=".export-")))
            export = stack.enter_context(GameStore(tmp / f"{ctx.config}.db", cfg.source_host))
        def store(record: dict[str, Any]) -> None:
            writer.append(record)
            if export is not None:
                export.insert([(content_hash(record), record)])
            stats["games"] += 1
            stats["moves"] += record["totalMoves"]
            stats["hit_cap"] += bool(record["metadata"].get("hitMoveCap"))
            wins[str(record.get("winner") or "none")] += 1
            engines.update(record["metadata"]["engines"])
            if on_game:
                on_game(stats["games"])
        played = play_games(ctx, store)
        writer.flush()
        totals = writer.totals
        if export is not None:
            key = f"{ctx.settings.sync.artifact_prefix}/{ctx.config}/{cfg.source_host}/i{ctx.iteration}-{seed_base(ctx):x}.db"
            snapshot = export.backup(export.path.with_name("snapshot.db"))
            store = artifacts if artifacts is not None else ArtifactStore.from_config(cfg)
            try:
                store.put_file(snapshot, key)
            finally:
                if artifacts is None:  # ours to close
                    store.close()
            published = key
    with GameStore(cfg.game_db_path(ctx.board, ctx.players), cfg.source_host) as store:
        stored = store.count()
    games = played["games"]
    return {
        "id": f"games-{ctx.config}-i{ctx.iteration}-{seed_base(ctx):x}-{stored}",
        "games": games, "source": played["source"], "model": played["model"], "inserted": totals.inserted,
        "already_present": totals.already_present,
        "duplicates": totals.duplicates, "moves": stats["moves"], "hit_cap": stats["hit_cap"],
        "move_cap_rate": round(stats["hit_cap"] / games, 4), "wins": dict(sorted(wins.items())),
        "engines": dict(engines), "store_games": stored, "published": published, "host": cfg.source_host,
    }


@phase_task("selfplay")
def selfplay(ctx: PhaseContext, upstream: list[str]) -> dict[str, Any]:
    """Play and store the configured games; returns counts, never the games."""
    def body() -> dict[str, Any]:
        progress = Progress(ctx, planned_games(ctx), ctx.settings.selfplay.progress_every)
        result = play_and_store(ctx, progress.update)
        emit("selfplay.completed", ctx, {k: result[k] for k in ("id", "games", "inserted", "store_games")})
        return result
    return run_phase("selfplay", ctx, body)
