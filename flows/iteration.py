"""The iteration flow: one turn of the improvement loop for one board configuration.

It loads and validates the configuration once, plans the phases (flows/plan.py),
and runs each available phase in order: in-process as a task, or, when
`config/pools.yaml` places it on a work pool, as a run of the deployment
`phase/<phase>-<pool>` that it waits on. Each phase's cache key includes the ids
its upstream phases returned, so re-running an interrupted iteration skips what
finished (Prefect shows those task runs as Cached) and redoes what did not; that
is also how `rift iterate` resumes after a stop signal abandoned a phase
(cli/stopping.py): the summary then shows that phase as Stopped.

One iteration per config and data folder runs at a time: the flow holds the config's lock
(infra/iteration_lock.py) for its whole run, so a second one, from the CLI, a deployment or a
trigger, is refused at once naming the first.

The run ends with artifacts: the markdown summary (every phase, where it ran, its
state and time, data staleness), seat win rates and move-cap rate per config, and
the leaderboard once ratings exist; selfplay adds its progress artifact.
"""
from __future__ import annotations

import time
from typing import Any

from prefect import flow, get_run_logger
from prefect.context import FlowRunContext

from flows.artifacts import publish
from flows.deploy_phases import check_placements
from flows.plan import Plan, Step, build_plan, mark_completed, next_iteration
from infra.data_config import DataConfig, config_key, load_data_config
from infra.iteration_lock import config_lock
from infra.pipeline_config import load_pipeline_config, load_pools_config
from infra.storage import ArtifactStore
from tasks.common import PermanentPhaseError, PhaseContext, PhaseError, code_version, emit, retry_options


def make_context(board: str, players: int, profile: str, iteration: int | None, data_dir: str | None,
                 pipeline_config: str | None, selfplay_engine: str | None = None) -> tuple[Any, PhaseContext, DataConfig]:
    """Validate the configuration once and build the context every phase receives
    (`selfplay_engine` overrides the profile's selfplay.engine: auto, cpu or gpu)."""
    cfg = load_pipeline_config(pipeline_config)
    settings = cfg.resolve(profile, board, players, selfplay_engine=selfplay_engine)
    data = load_data_config(data_dir=data_dir)
    number = iteration or next_iteration(data, f"{board}_{players}p")
    run = FlowRunContext.get()
    ctx = PhaseContext(board=board, players=players, profile=profile, iteration=number, settings=settings,
                       mix=cfg.mix(settings), data_dir=None if data_dir is None else str(data.data_dir),
                       flow_run=str(run.flow_run.id) if run and run.flow_run else None)
    return cfg, ctx, data


CRASH_RERUNS = 2  # a placed run that crashed (its worker or machine died) is scheduled again this often


def dispatch(step: Step, ctx: PhaseContext, upstream: list[str]) -> tuple[dict[str, Any], str, dict[str, float]]:
    """Run a placed phase on its pool through the data plane (tasks/placed.py): prepare its inputs here,
    run `phase/<phase>-<pool>` and wait, then record what it returns here. A run that crashed (no heartbeat:
    its worker died) or ran past the phase's limit (its host alive but stuck: cancelled) is scheduled again
    and runs when a worker of the pool is back; a run that failed after its own retries fails the phase.
    Returns (result, state, {"queue_s", "run_s"} of the last run)."""
    from prefect.deployments import run_deployment

    from flows.placed_wait import wait_placed
    from tasks.placed import HOOKS
    hooks = HOOKS[step.phase]
    store = ArtifactStore.from_config(ctx.data())
    try:
        try:
            prepared = hooks.prepare(ctx, upstream, store)  # ctx with the keys and ids chosen here
        except (ValueError, LookupError) as exc:  # no shards, a damaged parent: retrying cannot help
            raise PermanentPhaseError(step.phase, ctx, exc) from exc
        remote = prepared.model_copy(update={"data_dir": None, "placed": True})
        params = {"phase": step.phase, "ctx": remote.model_dump(mode="json"), "upstream": upstream, "pool": step.pool}
        for attempt in range(1, CRASH_RERUNS + 2):
            run = run_deployment(step.deployment, parameters=params, timeout=0,
                                 flow_run_name=f"{step.phase}-{ctx.config}-i{ctx.iteration}-{step.pool}",
                                 tags=["placed", step.phase, ctx.config])
            run, late = wait_placed(run.id, step.timeout_s)
            state = run.state
            if (late or (state is not None and state.is_crashed())) and attempt <= CRASH_RERUNS:
                why = f"ran past its limit of {step.timeout_s:.0f} s" if late else f"crashed ({state.message})"
                get_run_logger().warning("placed %s run %s %s; scheduling it again (%d/%d)",
                                         step.phase, run.name, why, attempt, CRASH_RERUNS)
                continue
            if late:
                raise PhaseError(step.phase, ctx, TimeoutError(
                    f"flow run {run.name} of {step.deployment} ran past its limit of {step.timeout_s:.0f} s "
                    f"{CRASH_RERUNS + 1} times: raise phase_timeout_s.{step.phase} in config/pools.yaml if the "
                    f"phase needs longer, or look at the pool's host"))
            break
        if state is None or not state.is_completed():
            name, message = (state.name, state.message) if state else ("unknown", "")
            raise PhaseError(step.phase, ctx, RuntimeError(f"flow run {run.name} of {step.deployment} ended {name}: "
                                                           f"{message}"))
        timing = {}
        if run.start_time and run.created:
            timing["queue_s"] = round((run.start_time - run.created).total_seconds(), 2)
        if run.start_time and run.end_time:
            timing["run_s"] = round((run.end_time - run.start_time).total_seconds(), 2)
        return hooks.record(prepared, state.result(), store), state.name, timing
    finally:
        store.close()


def run_step(step: Step, ctx: PhaseContext, upstream: list[str]) -> tuple[dict[str, Any], str]:
    """One phase, in-process or on its pool; raises the phase's error when it keeps failing."""
    if step.deployment:
        result, name, timing = dispatch(step, ctx, upstream)
        return {**result, "placed": timing}, name
    task = step.task.with_options(**retry_options(ctx.settings.retries))
    state = task(ctx=ctx, upstream=list(upstream), return_state=True)
    return state.result(), state.name  # result() raises the PhaseError of a failed phase


def execute(plan: Plan, ctx: PhaseContext, data: DataConfig, publish_artifacts: bool = True,
            upstream: list[str] | None = None) -> dict[str, Any]:
    """Run the plan's phases in order; publish the summary (also when a phase fails). `upstream`: ids
    of work done before the plan (continuous evaluation starts from the model a training registered)."""
    logger = get_run_logger()
    started = time.perf_counter()
    summary: dict[str, Any] = {
        "iteration": ctx.iteration, "config": ctx.config, "board": ctx.board, "players": ctx.players,
        "profile": ctx.profile, "code_version": code_version(), "data_dir": str(data.data_dir.resolve()),
        "phases": {}, "inside_s": 0.0, "wall_s": 0.0}
    upstream = list(upstream or [])
    error = None
    try:
        for step in plan.steps:
            info: dict[str, Any] = {"where": step.where, "params": step.params}
            summary["phases"][step.phase] = info
            if step.unavailable:
                info.update(state="Skipped", note=f"unavailable: {step.unavailable}")
                logger.warning("phase %s skipped: %s", step.phase, step.unavailable)
                continue
            t0 = time.perf_counter()
            info["state"] = "Running"
            try:
                result, state = run_step(step, ctx, upstream)
            except BaseException as exc:  # a stop signal (Ctrl-C, SIGTERM) abandons the phase: "Stopped"
                info.update(state="Failed" if isinstance(exc, Exception) else "Stopped",
                            wall_s=time.perf_counter() - t0, note=str(exc) or type(exc).__name__)
                raise
            cached = state == "Cached"
            info.update(state=state, wall_s=round(time.perf_counter() - t0, 4), result=result,
                        inside_s=0.0 if cached else result.get("seconds", 0.0), **result.get("placed", {}))
            summary["inside_s"] += info["inside_s"]
            upstream.append(result["id"])
            logger.info("phase %s: %s in %.2f s (%s)", step.phase, state, info["wall_s"], result["id"])
    except BaseException as exc:
        error = str(exc) or type(exc).__name__
        raise
    finally:
        summary["wall_s"] = round(time.perf_counter() - started, 4)
        summary["inside_s"] = round(summary["inside_s"], 4)
        if publish_artifacts:
            publish(summary, data, error)
        summary["publish_s"] = round(time.perf_counter() - started - summary["wall_s"], 4)
    return summary


def _run_name() -> str:
    """`hex8_2p-i3-tiny`: config, iteration number and profile, so runs are told apart in the UI."""
    from prefect.runtime import flow_run
    params = flow_run.parameters
    config = f"{params['board']}_{params.get('players', 2)}p"
    number = params.get("iteration")
    if number is None:
        try:
            number = next_iteration(load_data_config(data_dir=params.get("data_dir")), config)
        except Exception:  # noqa: BLE001 - a name must never fail the run; the flow reports the real error
            number = "next"
    return f"{config}-i{number}-{params.get('profile', 'default')}"


@flow(name="iteration", flow_run_name=_run_name, log_prints=True, persist_result=True)
def iteration(board: str, players: int = 2, profile: str = "default", iteration: int | None = None,
              phases: list[str] | None = None, data_dir: str | None = None, pipeline_config: str | None = None,
              pools_config: str | None = None, local: bool = False, selfplay_engine: str | None = None
              ) -> dict[str, Any]:
    """One iteration of the loop for `board` with `players` players; returns the summary (small).

    `iteration` defaults to the next one not completed for this config (a re-run resumes it);
    `phases` runs only those phases; `local` ignores pool placement and runs everything here;
    `selfplay_engine` (auto, cpu, gpu) overrides the profile's choice of selfplay engine.
    Only one iteration of a config runs on a data folder at a time: a second, however it was started
    (CLI, deployment, trigger), fails at once with ConfigLocked naming the first (infra/iteration_lock.py).
    """
    data = load_data_config(data_dir=data_dir)
    with config_lock(data.data_dir, config_key(board, players), holder=_holder()):  # before the number is chosen
        summary, ctx = _iterate(board, players, profile, iteration, phases, data_dir, pipeline_config, pools_config,
                                local, selfplay_engine)
    if phases is None:  # after the lock is released: a trigger may start the next iteration on this event
        emit("iteration.completed", ctx, {"wall_s": summary["wall_s"], "profile": profile})
    return summary


def _holder() -> str:
    """Who holds the iteration lock, for the message a second iteration gets: this flow run."""
    run = FlowRunContext.get()
    if run is None or run.flow_run is None:
        return "an iteration flow"
    return f"flow run {run.flow_run.name} ({run.flow_run.id})"


def _iterate(board: str, players: int, profile: str, iteration: int | None, phases: list[str] | None,
             data_dir: str | None, pipeline_config: str | None, pools_config: str | None, local: bool,
             selfplay_engine: str | None) -> tuple[dict[str, Any], PhaseContext]:
    """The iteration flow's body, run while it holds the config's lock: (the small summary, the context)."""
    cfg, ctx, data = make_context(board, players, profile, iteration, data_dir, pipeline_config, selfplay_engine)
    pools = load_pools_config(pools_config)
    plan = build_plan(cfg, pools, ctx, phases, local)
    check_placements(pools, {s.phase: s.pool for s in plan.runnable if s.pool})  # before any phase runs
    summary = execute(plan, ctx, data)
    if phases is None:  # a partial run (--phase) does not complete the iteration
        mark_completed(data, ctx.config, ctx.iteration)
    print(f"iteration {ctx.iteration} of {ctx.config} finished in {summary['wall_s']:.1f} s "
          f"({summary['inside_s']:.1f} s inside the phases)")
    return {k: v for k, v in summary.items() if k != "phases"} | {
        "phases": {p: {k: v for k, v in i.items() if k != "result"} for p, i in summary["phases"].items()}}, ctx
