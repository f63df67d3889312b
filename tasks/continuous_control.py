"""Continuous mode's switch and its runs on the Prefect server: on, off, training on new data, drain.

- **The switch** is a Prefect variable per board, `rift-continuous-<board>` ("on"/"off"). A selfplay
  loop reads it before every batch and before it asks for a training, so `rift continuous off` stops
  new work at the source, on every machine, without a redeploy. No variable (a loop started by hand,
  a test): on.
- **Training on new data.** After each batch the selfplay loop asks for a training when the games
  stored since the last training (tasks/ledger.py) reach `train_every` and no `continuous-train` run
  of the config is alive (scheduled, pending or running): at most one training per config is queued,
  and every run it starts has at least `train_every` games to learn from. The check and the creation
  happen under the ledger's lock, so two loops on one data folder never queue two.
- **Drain** (`rift continuous off`): switch off, evaluation triggers paused, queued runs cancelled,
  runs in flight waited for (`wait`) or cancelled (`now`), then candidates left unrated are evaluated
  (`wait`; with `now` the next `on` does it) and the server is watched until no continuous run of the
  boards is alive and none was created for a quiet interval.
"""
from __future__ import annotations

import logging
import time
from datetime import datetime, timezone
from typing import Any

from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import StateType

from infra.data_config import DataConfig, config_key
from tasks.ledger import locked_ledger, untrained

log = logging.getLogger(__name__)

CONTINUOUS_FLOWS = ("continuous-selfplay", "continuous-train", "continuous-evaluate")
LIVE = (StateType.SCHEDULED, StateType.PENDING, StateType.RUNNING, StateType.PAUSED, StateType.CANCELLING)
NOT_STARTED = (StateType.SCHEDULED, StateType.PAUSED)


def switch_name(board: str) -> str:
    return f"rift-continuous-{board}"


def continuous_enabled(board: str) -> bool:
    """Whether continuous mode is on for `board` (no variable: on, e.g. a loop started by hand)."""
    from prefect.variables import Variable
    return Variable.get(switch_name(board), default="on") != "off"


def set_switch(board: str, on: bool) -> None:
    from prefect.variables import Variable
    Variable.set(switch_name(board), "on" if on else "off", overwrite=True)


def continuous_runs(boards: list[str], flows: tuple[str, ...] = CONTINUOUS_FLOWS,
                    states: tuple[StateType, ...] | None = LIVE) -> list[Any]:
    """Flow runs of the continuous deployments of `boards` (in `states`; None: any), oldest first."""
    from prefect.client.schemas.filters import (DeploymentFilter, DeploymentFilterName, FlowFilter, FlowFilterName,
                                                FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType)
    from prefect.client.schemas.sorting import FlowRunSort
    run_filter = FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=list(states)))) \
        if states else None
    out: list[Any] = []
    with get_client(sync_client=True) as client:
        while True:
            page = client.read_flow_runs(
                flow_filter=FlowFilter(name=FlowFilterName(any_=list(flows))),
                deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=boards)),
                flow_run_filter=run_filter, sort=FlowRunSort.EXPECTED_START_TIME_ASC, limit=200, offset=len(out))
            out += page
            if len(page) < 200:
                return out


def flow_name_of(run: Any) -> str:
    """continuous-train etc. from a run of ours (runs do not carry their flow's name, but our deployments'
    tags name the chain)."""
    for flow, tag in (("continuous-selfplay", "selfplay"), ("continuous-train", "train"),
                      ("continuous-evaluate", "evaluate")):
        if tag in (run.tags or []):
            return flow
    return "continuous-?"


def request_training(data: DataConfig, board: str, players: int, profile: str, train_every: int,
                     new: int | None = None, **params: Any) -> str | None:
    """Queue one `continuous-train/<board>` run when `train_every` games arrived since the last training
    (`new`: the caller's own count, for a loop that publishes to a trainer elsewhere) and no training of
    the config is alive; returns the new run's name, else None. `params`: more of the run's parameters
    (the loop's data_dir and pipeline_config when it has them)."""
    from prefect.deployments import run_deployment
    from prefect.exceptions import ObjectNotFound
    config = config_key(board, players)
    with locked_ledger(data, config) as ledger:
        new = untrained(data, board, players)[2] if new is None else new
        if new < train_every or not continuous_enabled(board):
            return None
        alive = [r for r in continuous_runs([board], ("continuous-train",))
                 if int(r.parameters.get("players", 2)) == players]
        if alive:
            return None
        try:
            run = run_deployment(f"continuous-train/{board}", timeout=0, as_subflow=False,
                                 parameters={"players": players, "profile": profile, "min_games": train_every,
                                             **{k: v for k, v in params.items() if v is not None}})
        except ObjectNotFound:
            log.warning("deployment continuous-train/%s not found: deploy prefect.yaml (`rift up`) for training "
                        "to start on new data", board)
            return None
        ledger["requested"] = {"run": str(run.id), "games": new}
    log.info("%d new games of %s (train_every %d): training %s queued", new, config, train_every, run.name)
    return run.name


def cancel_runs(runs: list[Any]) -> list[str]:
    """Cancel runs: one not started ends at once, a started one is Cancelling (its worker stops it)."""
    from prefect.states import Cancelled, Cancelling
    names = []
    with get_client(sync_client=True) as client:
        for run in runs:
            started = run.state is not None and run.state.type not in NOT_STARTED
            client.set_flow_run_state(run.id, Cancelling() if started else Cancelled(), force=True)
            names.append(run.name)
    return names


def unrated_candidates(data: DataConfig, boards: list[str]) -> list[dict[str, Any]]:
    """Models of `boards` still `candidate`: registered and never evaluated and gated."""
    from infra.registry import ModelRegistry
    if not data.registry_path.exists():
        return []
    with ModelRegistry(data.registry_path) as reg:
        frame = reg.models_frame(status="candidate")
    frame = frame[frame["config"].str.split("_").str[0].isin(boards)] if len(frame) else frame
    return [{"model": row["id"], "config": row["config"], "iteration": int(row["iteration"])}
            for _, row in frame.iterrows()]


def evaluate_candidates(data: DataConfig, boards: list[str], wait_s: float | None) -> list[Any]:
    """A `continuous-evaluate/<board>` run per unrated candidate (profile: the ledger's, of its training);
    waited for when `wait_s` is given. Returns the runs."""
    from prefect.deployments import run_deployment

    from tasks.ledger import read_ledger
    runs = []
    for cand in unrated_candidates(data, boards):
        board, players = cand["config"].rsplit("_", 1)
        profile = read_ledger(data, cand["config"]).get("profile", "default")
        runs.append(run_deployment(f"continuous-evaluate/{board}", timeout=0, as_subflow=False, parameters={
            "board": board, "model": cand["model"], "iteration": cand["iteration"],
            "players": int(players.rstrip("p")), "profile": profile}))
    if wait_s is not None:
        wait_final([r.id for r in runs], wait_s)
    return runs


def wait_final(run_ids: list[Any], timeout_s: float) -> None:
    """Wait until every run is in a final state; TimeoutError names the ones that are not."""
    deadline = time.monotonic() + timeout_s
    with get_client(sync_client=True) as client:
        while True:
            pending = [r for r in (client.read_flow_run(i) for i in run_ids) if not (r.state and r.state.is_final())]
            if not pending:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(", ".join(f"{r.name} ({r.state.name if r.state else '?'})" for r in pending))
            time.sleep(2)


def recover_games(data: DataConfig, boards: list[str]) -> int:
    """Store the games journaled by selfplay batches that were killed (a writer opened on the config
    replays the journals no live writer holds); returns how many were new to the store."""
    from infra.gamewriter import GameWriter
    added = 0
    for board in boards:
        for players in (2, 3, 4):
            folder = data.journal_dir(board, players)
            if folder.exists() and any(folder.iterdir()):
                with GameWriter(data, board, players) as writer:
                    added += writer.replayed.inserted
    return added


def server_error(exc: BaseException | None) -> int | None:
    """The 5xx status behind `exc` (it, or an error in its cause chain, carries an HTTP response), else
    None: Prefect wraps some of them (a concurrency slot's 503 is a ConcurrencySlotAcquisitionError)."""
    while exc is not None:
        status = getattr(getattr(exc, "response", None), "status_code", None)
        if isinstance(status, int) and status >= 500:
            return status
        exc = exc.__cause__ or exc.__context__
    return None


def persist(call: Any, what: str, timeout_s: float = 300, pause_s: float = 3) -> Any:
    """`call()`, tried again while the server answers 5xx (SQLite locked under load answers 503 even after
    the client's own retries: seen in bench/soak.py); the last error names `what` and the fix."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return call()
        except Exception as exc:
            status = server_error(exc)
            if status is None:
                raise
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what}: the Prefect server kept failing ({status}) for "
                                   f"{timeout_s:.0f} s; run the command again (it resumes), and on a loaded "
                                   "server consider `rift up --database postgres` (docs/fleet.md)") from exc
            log.warning("%s: server error %s, trying again", what, status)
            time.sleep(pause_s)


def drain(data: DataConfig, boards: list[str], now: bool, timeout_s: float = 3600,
          quiet_s: float = 10) -> dict[str, Any]:
    """Continuous mode off for `boards`, drained (see the module's docstring); returns what was done."""
    from tasks.limits import set_continuous_triggers
    started = datetime.now(timezone.utc)
    deadline = time.monotonic() + timeout_s
    for board in boards:
        persist(lambda b=board: set_switch(b, False), f"switching continuous mode off for {board}")
    triggers = persist(lambda: set_continuous_triggers(boards, False), "pausing the evaluation triggers")
    report: dict[str, Any] = {"triggers": triggers, "cancelled": [], "waited": [], "evaluated": []}

    def settle() -> None:
        """Cancel what has not started (all with `now`), wait for the rest, until nothing is alive."""
        while alive := persist(lambda: continuous_runs(boards), "reading the continuous runs"):
            doomed = alive if now else [r for r in alive if r.state.type in NOT_STARTED and
                                        flow_name_of(r) != "continuous-evaluate"]
            fresh = [r for r in doomed if r.state.type != StateType.CANCELLING]
            report["cancelled"] += persist(lambda: cancel_runs(fresh), "cancelling queued runs")
            report["waited"] += [r.name for r in alive if r not in doomed and r.name not in report["waited"]]
            if time.monotonic() > deadline:
                raise TimeoutError("continuous runs still alive: " + ", ".join(
                    f"{r.name} ({flow_name_of(r)}, {r.state.name})" for r in alive))
            time.sleep(2)

    settle()
    report["recovered_games"] = recover_games(data, boards)
    if not now:
        report["evaluated"] = [r.name for r in evaluate_candidates(data, boards, deadline - time.monotonic())]
    while True:  # nothing alive, and nothing new for `quiet_s` (firings already on their way, if any)
        settle()
        time.sleep(quiet_s)
        if not persist(lambda: continuous_runs(boards), "reading the continuous runs"):
            break
    report["created_since"] = len([r for r in continuous_runs(boards, states=None) if r.created >= started])
    report["unrated"] = unrated_candidates(data, boards)
    return report
