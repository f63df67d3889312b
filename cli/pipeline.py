"""`rift iterate` and `rift up`: the improvement loop from a shell.

`rift iterate` runs iterations on the embedded default: with no PREFECT_API_URL,
it starts a temporary local Prefect server over the SQLite database in PREFECT_HOME
(itself, in a session of its own: cli/prefect_server.py), data goes to the local
data folder, and everything runs in this process unless config/pools.yaml places a
phase on a pool. `--dry-run` prints the plan and what is cached without running
anything. Ctrl-C, SIGTERM or SIGHUP stop it cleanly: the phase in progress is
abandoned, server and worker processes are stopped, one line says how to resume (the
same command), and the exit status is 128 + the signal (cli/stopping.py).

`rift up` starts a Prefect server, creates the work pools and limits, deploys
prefect.yaml and runs a worker for the local pool, so iterations can be started
from the UI or `prefect deployment run`.
`rift up --continuous` (or `rift continuous on` against a running server) also
turns on continuous mode (flows/continuous.py): the training and evaluation
triggers of the boards named, and a selfplay loop per board; `rift continuous
off` turns the triggers off and cancels the selfplay loops.

Prefect is imported inside the commands: other `rift` commands stay fast.
"""
from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from cli.prefect_server import healthy as _healthy
from cli.prefect_server import prefect_api
from cli.stopping import StopSignals, signal_name, stop_children

console = Console()
err = Console(stderr=True, soft_wrap=True)
PROJECT_ROOT = Path(__file__).resolve().parent.parent
PREFECT_DEFAULTS = {  # shared/PREFECT.md: the temporary server needs ~25 s here, more than Prefect's 20 s
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
}

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
        _fail(f"--engine {engine!r}: choose {', '.join(choices)}")


def _prefect_env() -> None:
    for key, value in PREFECT_DEFAULTS.items():
        os.environ.setdefault(key, value)


def _fail(message: str) -> None:
    err.print(f"[red]error:[/] {message}")
    raise typer.Exit(2)


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
        _fail(str(exc))
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


def _api_url() -> str | None:
    """The Prefect API this process talks to (environment or profile); None: a temporary local server."""
    from prefect.settings import PREFECT_API_URL
    return PREFECT_API_URL.value() or None


def _where_prefect() -> str:
    url = _api_url()
    if url:
        return f"server {url}"
    home = Path(os.environ.get("PREFECT_HOME", "~/.prefect")).expanduser()
    return f"temporary local server over {home / 'prefect.db'}"


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
        for _ in range(iterations):
            state = iteration(board, players, profile, number, phases=phase,
                              data_dir=str(data_dir) if data_dir else None,
                              pipeline_config=str(config) if config else None,
                              pools_config=str(pools) if pools else None, local=local, selfplay_engine=engine,
                              return_state=True)
            if stop.requested:  # a stop that surfaced as a failed phase (e.g. its workers got the signal)
                return
            if not state.is_completed():
                _fail(f"iteration failed: {state.message}")
            _print_result(state.result(), str(state.state_details.flow_run_id), api)


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
    _prefect_env()
    if number is not None and iterations > 1:
        _fail("--iteration names one iteration; leave it out with --iterations")
    _check_engine(engine)
    with StopSignals() as stop:  # from here on a stop signal ends the command cleanly, whatever it is doing
        try:
            plan, ctx, data = _plan(board, players, profile, number, phase, data_dir, config, pools, local, engine)
            if dry_run:
                _print_plan(plan, data)
            for problem in plan.problems:
                (err.print if dry_run else _fail)(f"[yellow]cannot run:[/] {problem}" if dry_run else problem)
            if dry_run:
                return
            api = _api_url()  # before a temporary server is started: links only to a server that stays
            _run(board, players, profile, number, phase, iterations, data_dir, config, pools, local, engine, stop,
                 api)
            if not stop.requested:
                _see_results(ctx, data, api)
        except BaseException:  # Stopped, or whatever else the stop interrupted (a phase's error, the exit)
            if not stop.requested:
                raise
        if stop.requested:
            _stopped(stop)


def _spawn(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
    log.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(args, cwd=PROJECT_ROOT, env=env, stdout=open(log, "ab"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def _stop(procs: list[subprocess.Popen]) -> None:
    for proc in reversed(procs):
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in reversed(procs):
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


Boards = Annotated[list[str] | None, typer.Option("--board", help="Board for continuous mode (repeatable; "
                                                                   "default hex8).")]
Profile = Annotated[str, typer.Option(help="Profile of config/pipeline.yaml for the selfplay loops.")]
Batches = Annotated[int | None, typer.Option(min=1, help="Stop each selfplay loop after this many batches "
                                                        "(default: run until `rift continuous off`).")]


def _continuous_on(boards: list[str], players: int, profile: str, batches: int | None) -> None:
    """Turn the triggers of `boards` on and start one selfplay loop per board (not waited on)."""
    from prefect.deployments import run_deployment

    from tasks.limits import set_continuous_triggers
    try:
        names = set_continuous_triggers(boards, True)
    except ValueError as exc:
        _fail(str(exc))
    console.print(f"continuous triggers on: {', '.join(names)}")
    params: dict[str, Any] = {"players": players, "profile": profile} | ({"batches": batches} if batches else {})
    for board in boards:
        run = run_deployment(f"continuous-selfplay/{board}", parameters=params, timeout=0)
        console.print(f"selfplay loop {run.name} scheduled (continuous-selfplay/{board}, {players} players, "
                      f"profile {profile}); training starts every 2nd batch, evaluation on each new model")


def _need_server() -> None:
    _prefect_env()
    if not _api_url():
        _fail("continuous mode needs a Prefect server: run `rift up --continuous`, or set PREFECT_API_URL")


def continuous_on(board: Boards = None, players: Players = 2, profile: Profile = "default",
                  batches: Batches = None) -> None:
    """Continuous mode on: training and evaluation triggers of the boards, and a selfplay loop each."""
    _need_server()
    _continuous_on(board or ["hex8"], players, profile, batches)


def continuous_off(board: Boards = None) -> None:
    """Continuous mode off: triggers off, selfplay loops cancelled (a running training or evaluation
    finishes)."""
    _need_server()
    from tasks.limits import cancel_continuous_selfplay, set_continuous_triggers
    boards = board or ["square8", "square19", "hex8", "hexagonal"]
    try:
        names = set_continuous_triggers(boards, False)
    except ValueError as exc:
        _fail(str(exc))
    runs = cancel_continuous_selfplay(boards)
    console.print(f"continuous triggers off: {', '.join(names)}\nselfplay loops cancelled: "
                  f"{', '.join(runs) or 'none'}")


def up(
    port: Annotated[int, typer.Option(help="Port of the Prefect server (loopback).")] = 4200,
    pool: Annotated[str, typer.Option(help="Work pool this machine's worker serves.")] = "local",
    deploy: Annotated[bool, typer.Option(help="Register prefect.yaml's deployments.")] = True,
    pools: Annotated[Path | None, typer.Option(help="Work pools (default config/pools.yaml).")] = None,
    logs: Annotated[Path, typer.Option(help="Folder for the server's and worker's logs.")] = Path("data/logs"),
    continuous: Annotated[bool, typer.Option("--continuous", help="Also turn on continuous mode for --board.")]
    = False,
    board: Boards = None,
    players: Players = 2,
    profile: Profile = "default",
    batches: Batches = None,
) -> None:
    """Start a local Prefect server (unless PREFECT_API_URL answers), create the work pools and limits,
    deploy prefect.yaml (continuous triggers off) and run a worker; with --continuous, also turn on
    continuous mode for the boards. Ctrl-C stops what this command started."""
    _prefect_env()
    from infra.pipeline_config import PipelineConfigError, load_pools_config
    try:
        pools_cfg = load_pools_config(pools)
    except PipelineConfigError as exc:
        _fail(str(exc))
    if pool not in pools_cfg.pools:
        _fail(f"pool {pool!r} is not in {pools_cfg.source} (pools: {', '.join(pools_cfg.pools)})")
    api = os.environ.get("PREFECT_API_URL") or f"http://127.0.0.1:{port}/api"
    env = {**os.environ, "PREFECT_API_URL": api}
    bin_dir = Path(sys.executable).parent
    procs: list[subprocess.Popen] = []
    # `kill`, a closed terminal or a service manager stop this command like Ctrl-C does, so the
    # server and worker it started never outlive it.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.default_int_handler)
    try:
        if not _healthy(api):
            if "PREFECT_API_URL" in os.environ:
                _fail(f"PREFECT_API_URL={api} does not answer; unset it to start a local server")
            console.print(f"starting Prefect server on 127.0.0.1:{port} (log {logs / 'server.log'})")
            procs.append(_spawn([str(bin_dir / "prefect"), "server", "start", "--host", "127.0.0.1",
                                 "--port", str(port)], logs / "server.log", env))
            deadline = time.monotonic() + 120
            while not _healthy(api):
                if procs[0].poll() is not None or time.monotonic() > deadline:
                    _fail(f"the Prefect server did not start; see {logs / 'server.log'}")
                time.sleep(0.5)
        from prefect.settings import PREFECT_API_URL, temporary_settings
        from tasks.limits import ensure_pools, ensure_zombie_automation
        with temporary_settings(updates={PREFECT_API_URL: api}):
            made = ensure_pools(pools_cfg)
            ensure_zombie_automation()
        console.print(f"work pools: {', '.join(made)}; runs whose worker dies are marked Crashed after 90 s")
        if deploy:
            out = subprocess.run([str(bin_dir / "prefect"), "--no-prompt", "deploy", "--all"], cwd=PROJECT_ROOT,
                                 env=env, capture_output=True, text=True)
            if out.returncode != 0:
                _fail(f"prefect deploy failed:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
            from flows.deploy_phases import deploy_phases
            with temporary_settings(updates={PREFECT_API_URL: api}):
                phases = deploy_phases(pools_cfg)
            console.print(f"deployed {out.stdout.count('successfully created')} deployments from prefect.yaml and "
                          f"{len(phases)} phase/<phase>-<pool> deployments")
        procs.append(_spawn([str(bin_dir / "prefect"), "worker", "start", "--pool", pool],
                            logs / f"worker-{pool}.log", {"PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "30", **env}))
        if continuous:
            from prefect.settings import PREFECT_API_URL, temporary_settings
            with temporary_settings(updates={PREFECT_API_URL: api}):
                _continuous_on(board or ["hex8"], players, profile, batches)
        console.print(f"worker for pool {pool} running (log {logs / f'worker-{pool}.log'})\n"
                      f"UI: {api.removesuffix('/api')}   try: prefect deployment run iteration/hex8 -p profile=tiny\n"
                      "Ctrl-C stops the worker" + (" and the server" if len(procs) > 1 else ""))
        while all(p.poll() is None for p in procs):
            time.sleep(1)
        _fail("a process stopped unexpectedly; see the logs in " + str(logs))
    except KeyboardInterrupt:
        console.print("stopping")
    finally:
        _stop(procs)


def register(app: typer.Typer) -> None:
    app.command("iterate")(iterate)
    app.command("up")(up)
    group = typer.Typer(help="Continuous mode: selfplay without a barrier, training and evaluation on events.",
                        no_args_is_help=True)
    group.command("on")(continuous_on)
    group.command("off")(continuous_off)
    app.add_typer(group, name="continuous")
