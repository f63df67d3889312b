"""`rift iterate`: the improvement loop from a shell.

`rift iterate` runs iterations on the embedded default: with no PREFECT_API_URL,
it starts a temporary local Prefect server over the SQLite database in PREFECT_HOME
(itself, in a session of its own: cli/prefect_server.py), data goes to the local
data folder, and everything runs in this process unless config/pools.yaml places a
phase on a pool. `--dry-run` prints the plan and what is cached without running
anything. Ctrl-C, SIGTERM or SIGHUP stop it cleanly: the phase in progress is
abandoned, server and worker processes are stopped, one line says how to resume (the
same command), and the exit status is 128 + the signal (cli/stopping.py).

Safety: one iteration per configuration and data folder at a time (a second is refused
naming the first, before any server starts: infra/iteration_lock.py, also held by the flow),
and a Prefect server that stops answering ends the command within a minute with a message
naming it, instead of minutes of retries.
The Prefect home is this checkout's `.prefect/` (cli/prefect_home.py). `rift up` is in cli/up.py.

Prefect is imported inside the commands: other `rift` commands stay fast.
"""
from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.markup import escape
from rich.table import Table

from cli import output
from cli.output import fail
from cli.guards import ServerWatch, probe
from cli.prefect_home import configured_api, use_project_home
from cli.prefect_server import prefect_api
from cli.stopping import StopSignals, signal_name, stop_children
from infra.iteration_lock import ConfigLocked, config_lock

console = output.console()
err = output.console(stderr=True, soft_wrap=True)
PROJECT_ROOT = Path(__file__).resolve().parent.parent

Board = Annotated[str, typer.Option("--board", help="square8, square19, hex8 or hexagonal.")]
Players = Annotated[int, typer.Option("--players", min=2, max=4)]
DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Data folder (default: RIFT_DATA_DIR or ./data).")]


def _check_engine(engine: str | None) -> None:
    """--engine takes what selfplay.engine in config/pipeline.yaml takes; checked here so that the
    error names the option rather than the config file."""
    from typing import get_args

    from infra.pipeline_config import SelfplaySettings
    choices = get_args(SelfplaySettings.model_fields["engine"].annotation)
    if engine is not None and engine not in choices:
        fail(f"--engine {engine!r}: choose {', '.join(choices)}")


def _plan(board: str, players: int, profile: str, number: int | None, phases: list[str] | None,
          data_dir: Path | None, config: Path | None, pools: Path | None, local: bool,
          engine: str | None = None) -> Any:
    from flows.iteration import make_context
    from flows.plan import build_plan, mark_cached
    from infra.pipeline_config import PipelineConfigError, load_pools_config
    try:
        cfg, ctx, data = make_context(board, players, profile, number, str(data_dir) if data_dir else None,
                                      str(config) if config else None, engine)
        plan = build_plan(cfg, load_pools_config(pools), ctx, phases, local)
    except (PipelineConfigError, ValueError) as exc:
        fail(str(exc))
    mark_cached(plan, ctx)
    return plan, ctx, data


def _print_plan(plan: Any, data: Any) -> None:
    table = Table(title=f"iteration {plan.iteration} of {plan.config} (profile {plan.profile})")
    for col in ("phase", "where", "cached", "parameters"):
        table.add_column(col)
    for step in plan.steps:
        cached = "-" if step.unavailable else {True: "yes: skipped", False: "no", None: "on its pool"}[step.cached]
        where = "[yellow]not in this build[/]" if step.unavailable else step.where
        table.add_row(step.phase, where, cached, step.params)
    console.print(table)
    for step in plan.steps:
        if step.unavailable:
            console.print(f"[yellow]{step.phase}[/]: {step.unavailable}")
    console.print(f"data folder: {data.data_dir.resolve()}\nPrefect: {_where_prefect()}")


def _where_prefect() -> str:
    url = configured_api()
    if url:
        return f"server {url}"
    home = Path(os.environ.get("PREFECT_HOME", "~/.prefect")).expanduser()
    return f"a temporary local server over {home / 'prefect.db'} (started by the run, not by --dry-run)"


def _print_result(summary: dict[str, Any], run_id: str | None, api: str | None) -> None:
    table = Table(title=f"iteration {summary['iteration']} of {summary['config']}: "
                        f"{summary['wall_s']:.1f} s ({summary['inside_s']:.1f} s in the phases)")
    for col in ("phase", "where", "state", "seconds"):
        table.add_column(col)
    for phase, info in summary["phases"].items():
        table.add_row(phase, info["where"], info["state"], f"{info.get('wall_s', 0):.2f}")
    console.print(table)
    if api and run_id:
        console.print(f"run: {api.removesuffix('/api')}/runs/flow-run/{run_id}")


def _see_results(ctx: Any, data: Any, api: str | None) -> None:
    lines = [f"games: {data.game_db_path(ctx.board, ctx.players)}  (`rift games stats`)",
             f"summary: `prefect artifact inspect iteration-{ctx.config.replace('_', '-')}`"]
    if not api:
        lines.append("runs and artifacts are kept in the local Prefect database: `rift up`, then open "
                     "http://127.0.0.1:4200/runs")
    console.print("\n".join(lines))


def _resume_command() -> str:
    """The command line this process was started with: re-running it resumes a stopped iteration."""
    return shlex.join(["rift", *sys.argv[1:]])


def _stopped(stop: StopSignals) -> NoReturn:
    """After a stop signal (the temporary server is already stopped, Prefect's workers drained): worker
    processes gone, one line that says what happened and how to resume, exit 128 + signal at once.
    The interpreter's own teardown is skipped: nothing is left for it to do, and on a busy machine
    it took longer than everything before it (measured: 18 s collecting garbage after a 2 s stop)."""
    stop_children()
    try:  # after SIGHUP the terminal may be gone
        err.print(f"[yellow]stopped by {signal_name(stop.signum or 0)}[/]: the phase in progress was abandoned, "
                  f"finished phases are kept; resume with the same command: {escape(_resume_command())}")
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:
        pass
    os._exit(stop.leave())


def _run(board: str, players: int, profile: str, number: int | None, phase: list[str] | None, iterations: int,
         data_dir: Path | None, config: Path | None, pools: Path | None, local: bool, engine: str | None,
         stop: StopSignals, api: str | None) -> None:
    """Run the iterations against the API this command uses: a temporary server when none is set,
    stopped on the way out however that goes (a stop signal raises `Stopped` in here)."""
    from prefect.settings import PREFECT_HOME, PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS

    from flows.iteration import iteration
    timeout = float(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value())
    home = Path(PREFECT_HOME.value())
    with prefect_api(timeout, home / "rift-server.log") as server:
        if server is not None:
            stop.on_force(server.kill)
            console.print(f"temporary Prefect server on {server.url.removesuffix('/api')} over "
                          f"{home / 'prefect.db'} (log {server.log})")
        url = server.url if server is not None else str(api)
        alive = (lambda: server.proc is not None and server.proc.poll() is None) if server is not None else None
        def gone(message: str) -> None:  # after a stop signal the stop's own exit is under way
            if not stop.requested:
                _server_gone(message)
        with ServerWatch(url, gone, alive=alive,
                         what="temporary Prefect server" if server is not None else "Prefect server") as watch:
            for _ in range(iterations):
                try:
                    state = iteration(board, players, profile, number, phases=phase,
                                      data_dir=str(data_dir) if data_dir else None,
                                      pipeline_config=str(config) if config else None,
                                      pools_config=str(pools) if pools else None, local=local,
                                      selfplay_engine=engine, return_state=True)
                except Exception:
                    watch.check_now()  # a dead server is the cause to name, not the client's traceback
                    raise
                if stop.requested:  # a stop that surfaced as a failed phase (e.g. its workers got the signal)
                    return
                if not state.is_completed():
                    fail(f"iteration failed: {state.message}")
                _print_result(state.result(), str(state.state_details.flow_run_id), api)


def _server_gone(message: str) -> NoReturn:
    """The Prefect server stopped answering mid-run (cli/guards.ServerWatch): say so, naming it, stop the
    worker processes and exit at once; Prefect's client would otherwise retry it for minutes."""
    try:
        err.print(f"[red]error:[/] {escape(message)}")
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        stop_children()
        os._exit(1)


def iterate(
    board: Board = "hex8",
    players: Players = 2,
    profile: Annotated[str, typer.Option(help="Profile of config/pipeline.yaml (tiny: a quick check).")] = "default",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan and what is cached; run nothing.")]
    = False,
    phase: Annotated[list[str] | None, typer.Option("--phase", help="Run only this phase (repeatable).")] = None,
    iterations: Annotated[int, typer.Option(min=1, help="Iterations to run one after the other.")] = 1,
    number: Annotated[int | None, typer.Option("--iteration", min=1,
                                               help="Iteration number (default: the next one not completed).")]
    = None,
    data_dir: DataDir = None,
    config: Annotated[Path | None, typer.Option(help="Pipeline settings (default config/pipeline.yaml).")] = None,
    pools: Annotated[Path | None, typer.Option(help="Work pools and placement (default config/pools.yaml).")]
    = None,
    local: Annotated[bool, typer.Option("--local", help="Ignore pool placement: run every phase here.")] = False,
    engine: Annotated[str | None, typer.Option(
        "--engine", help="Selfplay engine: gpu (the batched engine, engine/batched), cpu (the reference engine), "
                         "auto (gpu when CUDA is present and the mix allows). Default: the profile's.")] = None,
) -> None:
    """Run the improvement loop for one board configuration, by default in this process against a
    local Prefect (SQLite) and the local data folder."""
    use_project_home()
    if number is not None and iterations > 1:
        fail("--iteration names one iteration; leave it out with --iterations")
    _check_engine(engine)
    with StopSignals() as stop:  # from here on a stop signal ends the command cleanly, whatever it is doing
        try:
            plan, ctx, data = _plan(board, players, profile, number, phase, data_dir, config, pools, local, engine)
            if dry_run:
                _print_plan(plan, data)
            for problem in plan.problems:
                (err.print if dry_run else fail)(f"[yellow]cannot run:[/] {problem}" if dry_run else problem)
            if dry_run:
                return
            api = configured_api()  # before a temporary server is started: links only to a server that stays
            if api and probe(api, timeout=60) == "refused":  # a slow answer is not a dead server
                source = "PREFECT_API_URL" if os.environ.get("PREFECT_API_URL") else "the active Prefect profile"
                fail(f"the Prefect server {api} (from {source}) does not answer: start it (`rift up`), or run "
                      "on a temporary local server (`prefect profile use default`, or unset PREFECT_API_URL)")
            try:
                lock = config_lock(data.data_dir, ctx.config, holder=_resume_command())
                lock.__enter__()
            except ConfigLocked as exc:
                fail(str(exc))
            try:
                _run(board, players, profile, number, phase, iterations, data_dir, config, pools, local, engine,
                     stop, api)
            finally:
                lock.__exit__(None, None, None)
            if not stop.requested:
                _see_results(ctx, data, api)
        except BaseException:  # Stopped, or whatever else the stop interrupted (a phase's error, the exit)
            if not stop.requested:
                raise
        if stop.requested:
            _stopped(stop)


def register(app: typer.Typer) -> None:
    app.command("iterate")(iterate)
