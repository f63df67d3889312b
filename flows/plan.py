"""The plan of an iteration: which phases run, where, with what, and what is already cached.

Shared by the iteration flow (which executes it) and `rift iterate --dry-run`
(which prints it), so the two never disagree. Iteration numbers are kept per
board configuration in `data/pipeline/<config>/iterations.json`: an iteration is
marked complete only at its end, so re-running after a crash resumes the same
iteration (same cache keys) instead of starting the next one.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.files import write_atomic
from infra.data_config import DataConfig, config_key
from infra.pipeline_config import PipelineConfig, PoolsConfig, Profile
from tasks.common import PhaseContext, PhaseError, phase_key
from tasks.phases import load_phase


@dataclass
class Step:
    phase: str
    task: Any = None
    unavailable: str = ""  # why the phase cannot run in this build
    pool: str | None = None  # the work pool it is placed on; None runs it in-process
    params: str = ""
    cached: bool | None = None  # filled by `mark_cached`
    key: str = ""
    timeout_s: float | None = None  # a placed run's limit on its host (config/pools.yaml phase_timeout_s)

    @property
    def deployment(self) -> str | None:
        return f"phase/{self.phase}-{self.pool}" if self.pool else None

    @property
    def where(self) -> str:
        if self.unavailable:
            return "-"
        return f"pool {self.pool} ({self.deployment})" if self.pool else "in-process"


@dataclass
class Plan:
    config: str
    profile: str
    iteration: int
    steps: list[Step] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # settings this build cannot run

    @property
    def runnable(self) -> list[Step]:
        return [s for s in self.steps if not s.unavailable]


def _describe_closed(phase: str, settings: Profile) -> str:
    """The closed loop's phases (infra/loop_config.py) in one line each; '' for the others."""
    loop, t, s = settings.closed_loop, settings.train, settings.gate.sprt
    assert loop is not None
    if phase == "selfplay":
        b, n = loop.bootstrap, loop.selfplay
        return (f"closed loop: until a model is best, {b.games or settings.selfplay.games} bootstrap games of "
                f"{', '.join(b.teachers)}; then {settings.selfplay.games} games of the best net ({n.root} root, "
                f"{n.full_sims}/{n.fast_sims} sims, full_prob {n.full_prob:g}); processes "
                f"{settings.selfplay.processes or 'all cores'}")
    if phase == "train":
        return (f"closed loop: continue the {loop.train.continue_from} model, {t.epochs} epoch(s) on "
                f"{loop.train.subset or 'all'} of the newest {t.window_samples} samples, 1 game in "
                f"{loop.train.holdout_every} held out by id, net {t.blocks}x{t.channels}")
    if phase == "gate":
        return (f"closed loop: {loop.player} vs the best ({loop.gate.first_model} "
                f"{loop.gate.anchor if loop.gate.first_model == 'anchor' else ''} before any), truncated SPRT "
                f"[{s.elo0:g}, {s.elo1:g}] Elo, at most {loop.gate.max_games} games")
    if phase == "evaluate":
        return f"{settings.evaluate.games} games of {loop.player} vs best and {', '.join(settings.evaluate.baselines)}"
    return ""


def describe_settings(phase: str, settings: Profile, mix: dict[str, float]) -> str:
    """One line of the parameters that matter for each phase (for the plan and the summary)."""
    if settings.closed and _describe_closed(phase, settings):
        return _describe_closed(phase, settings)
    if phase == "selfplay":
        sp = settings.selfplay
        engines = ", ".join(f"{k} {v:g}" for k, v in mix.items())
        return f"{sp.games} games, mix {sp.mix} ({engines}), processes {sp.processes or 'all cores'}"
    if phase == "sync":
        return f"artifact prefix {settings.sync.artifact_prefix}/, {len(settings.sync.sources)} extra sources"
    if phase == "cmaes":
        c = settings.cmaes
        return (f"population {c.population}, generations {c.generations}, {c.games_per_candidate} games/candidate "
                f"vs reference {c.reference}, confirmed over {c.confirm_games} games")
    if phase == "train":
        t = settings.train
        return f"{t.epochs} epochs, window {t.window_samples} samples, net {t.blocks}x{t.channels}"
    if phase == "evaluate":
        return f"{settings.evaluate.games} games vs best and {', '.join(settings.evaluate.baselines)}"
    if phase == "gate":
        g = settings.gate
        return (f"win rate >= {g.win_rate:.0%} over >= {g.min_games} games, or SPRT "
                f"[{g.sprt.elo0:g}, {g.sprt.elo1:g}] Elo; tiers {'->'.join(g.tiers)}")
    if phase == "monitor":
        return "this machine" + (" and the fleet (SSH)" if settings.monitor.fleet else "")
    return ""


def _iterations_file(data: DataConfig, config: str) -> Path:
    return data.data_dir / "pipeline" / config / "iterations.json"


def completed_iterations(data: DataConfig, config: str) -> list[int]:
    try:
        return list(json.loads(_iterations_file(data, config).read_text())["completed"])
    except (FileNotFoundError, ValueError, KeyError):
        return []


def next_iteration(data: DataConfig, config: str) -> int:
    done = completed_iterations(data, config)
    return max(done) + 1 if done else 1


def mark_completed(data: DataConfig, config: str, number: int) -> None:
    done = sorted(set(completed_iterations(data, config)) | {number})
    write_atomic(_iterations_file(data, config), json.dumps({"completed": done}))


def build_plan(cfg: PipelineConfig, pools: PoolsConfig, ctx: PhaseContext, phases: list[str] | None = None,
               local: bool = False) -> Plan:
    """Steps in the loop's order; `phases` narrows to some (e.g. `--phase selfplay`)."""
    wanted = [p for p in cfg.phases if phases is None or p in phases]
    unknown = sorted(set(phases or []) - set(cfg.phases))
    if unknown:
        raise ValueError(f"unknown phase(s) {', '.join(unknown)}; phases are: {', '.join(cfg.phases)}")
    plan = Plan(config_key(ctx.board, ctx.players), ctx.profile, ctx.iteration)
    for phase in wanted:
        task, why = load_phase(phase)
        pool = None if local else pools.placement.get(phase)
        plan.steps.append(Step(phase, task, why, pool, describe_settings(phase, ctx.settings, ctx.mix),
                               timeout_s=pools.timeout_for(phase) if pool else None))
    if any(s.phase == "selfplay" and not s.unavailable and not s.pool for s in plan.steps):
        from tasks.selfplay import check_engines
        try:
            check_engines(ctx)
        except PhaseError as exc:
            plan.problems.append(str(exc.cause))
    return plan


def _result_store() -> Any:
    """Where task results and cache records live, without starting a temporary server to ask."""
    from prefect.results import ResultStore, get_result_store
    from prefect.settings import PREFECT_API_URL, PREFECT_LOCAL_STORAGE_PATH, PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK
    if PREFECT_API_URL.value() or PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK.value():
        return get_result_store()
    from prefect.filesystems import LocalFileSystem
    return ResultStore(result_storage=LocalFileSystem(basepath=str(PREFECT_LOCAL_STORAGE_PATH.value())))


def mark_cached(plan: Plan, ctx: PhaseContext) -> None:
    """Follow the chain of cache keys through the result store: which phases would be skipped."""
    store = _result_store()
    upstream: list[str] = []
    broken = False
    for step in plan.runnable:
        step.key = phase_key(step.phase, ctx, upstream)
        if step.deployment:  # its cache lives with the pool's workers
            step.cached, broken = None, True
            continue
        if broken or not store.exists(step.key):
            step.cached, broken = False, True
            continue
        step.cached = True
        upstream.append(store.read(step.key).result["id"])
