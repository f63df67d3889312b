"""`rift continuous on` / `off`: continuous mode (flows/continuous.py) against a running Prefect server.

`on`: candidates a previous run left unrated are sent to evaluation first, then the switch
(a Prefect variable per board) and the evaluation trigger are turned on and one selfplay loop per
board is scheduled; each loop queues a training every `--train-every` new games.

`off` drains (tasks/continuous_control.py): switch off and trigger paused at once, queued runs
cancelled, and then either `--wait` (default): the runs in flight finish (a selfplay loop after its
current batch) and every candidate still unrated is evaluated and gated before the command returns;
or `--now`: every continuous run is cancelled, the games of killed batches are recovered from their
journals, and unrated candidates wait for the next `on`. Either way, when it returns no continuous
run of the boards is alive and none is created afterwards.
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from cli import output
from cli.output import fail

console = output.console()
ALL_BOARDS = ["square8", "square19", "hex8", "hexagonal"]

Boards = Annotated[list[str] | None, typer.Option("--board", help="Board for continuous mode (repeatable; "
                                                                   "default hex8).")]
Players = Annotated[int, typer.Option("--players", min=2, max=4)]
Profile = Annotated[str, typer.Option(help="Profile of config/pipeline.yaml for the selfplay loops.")]
Batches = Annotated[int | None, typer.Option(min=1, help="Stop each selfplay loop after this many batches "
                                                        "(default: run until `rift continuous off`).")]
TrainEvery = Annotated[int | None, typer.Option(
    "--train-every", min=0, help="Queue a training when this many games arrived since the last one "
                                 "(default: two selfplay batches; 0: never).")]
DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Data folder of the trainer (default: "
                                                                  "RIFT_DATA_DIR or ./data): its registry "
                                                                  "names the candidates to evaluate.")]


def _data(data_dir: Path | None) -> Any:
    from infra.data_config import load_data_config
    return load_data_config(data_dir=data_dir) if data_dir else load_data_config()


def start(boards: list[str], players: int, profile: str, batches: int | None, train_every: int | None = None,
          data_dir: Path | None = None) -> None:
    """Evaluate leftover candidates, switch and trigger on, one selfplay loop per board (not waited on)."""
    from prefect.deployments import run_deployment

    from tasks.continuous_control import evaluate_candidates, set_switch
    from tasks.limits import set_continuous_triggers
    try:
        names = set_continuous_triggers(boards, True)
    except ValueError as exc:
        fail(str(exc))
    leftovers = evaluate_candidates(_data(data_dir), boards, wait_s=None)
    if leftovers:
        console.print(f"candidates left unrated, evaluation scheduled: {', '.join(r.name for r in leftovers)}")
    for board in boards:
        set_switch(board, True)
    console.print(f"continuous triggers on: {', '.join(names)}")
    params: dict[str, Any] = {"players": players, "profile": profile} | ({"batches": batches} if batches else {}) \
        | ({"train_every": train_every} if train_every is not None else {})
    for board in boards:
        run = run_deployment(f"continuous-selfplay/{board}", parameters=params, timeout=0, as_subflow=False)
        every = "two batches" if train_every is None else f"{train_every} games"
        console.print(f"selfplay loop {run.name} scheduled (continuous-selfplay/{board}, {players} players, "
                      f"profile {profile}); a training every {every} of new data, evaluation on each new model")


def _need_server() -> None:
    from cli.prefect_home import PROFILE_NAME, configured_api, use_project_home
    use_project_home()
    if not configured_api():
        fail("continuous mode needs a Prefect server: run `rift up --continuous`, then "
              f"`prefect profile use {PROFILE_NAME}` (or set PREFECT_API_URL)")


def continuous_on(board: Boards = None, players: Players = 2, profile: Profile = "default",
                  batches: Batches = None, train_every: TrainEvery = None, data_dir: DataDir = None) -> None:
    """Continuous mode on: leftover candidates evaluated, the evaluation trigger on, a selfplay loop per board."""
    _need_server()
    start(board or ["hex8"], players, profile, batches, train_every, data_dir)


def continuous_off(
    board: Boards = None,
    now: Annotated[bool, typer.Option("--now/--wait", help="--wait (default): runs in flight finish and "
                                      "unrated candidates are evaluated; --now: cancel everything.")] = False,
    timeout: Annotated[float, typer.Option(help="Give up draining after this many seconds.")] = 3600,
    data_dir: DataDir = None,
) -> None:
    """Continuous mode off, drained: nothing alive or created afterwards (see --wait / --now)."""
    _need_server()
    from tasks.continuous_control import drain
    boards = board or ALL_BOARDS
    try:
        report = drain(_data(data_dir), boards, now=now, timeout_s=timeout)
    except (ValueError, RuntimeError) as exc:
        fail(str(exc))
    except TimeoutError as exc:
        fail(f"continuous mode is off but not drained after {timeout:.0f} s: {exc}. Is a worker running for "
              "the local pool (`rift up`)? Run `rift continuous off --now` to cancel them.")
    console.print(f"continuous triggers off: {', '.join(report['triggers']) or 'none'}\n"
                  f"cancelled: {', '.join(report['cancelled']) or 'none'}\n"
                  f"finished in flight: {', '.join(report['waited']) or 'none'}\n"
                  f"games recovered from journals: {report['recovered_games']}\n"
                  f"candidates evaluated: {', '.join(report['evaluated']) or 'none'}")
    if report["unrated"]:
        console.print("left unrated (evaluated by the next `rift continuous on`): "
                      + ", ".join(c["model"] for c in report["unrated"]))
    console.print("drained: no continuous run is alive")


def register(group: typer.Typer) -> None:
    group.command("on")(continuous_on)
    group.command("off")(continuous_off)
