"""What every phase task shares: its context, cache key, retries, error message, events and faults.

A phase task is a thin `@task` over a plain function of the library. This module
is the seam where Prefect's retries and caching meet it:

- `PhaseContext` is the one small, JSON-able input of every phase: the board
  configuration, profile and its resolved settings, iteration, data folder.
- `phase_key` names the task, the config, the iteration, the settings hash, the
  code version, the data folder and the upstream artifact ids. Prefect's bare
  `INPUTS` policy would let two tasks called with equal arguments share a cache
  entry (see shared/PREFECT.md); a key that names the phase cannot collide, and
  the same key computed by `rift iterate --dry-run` says what is cached.
- `run_phase` times the library call (for the overhead bench), applies injected
  faults, and turns any exception into a `PhaseError` naming the phase and cause,
  which is what a run that keeps failing ends with.
"""
from __future__ import annotations

import functools
import hashlib
import logging
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from prefect import task
from prefect.context import FlowRunContext, TaskRunContext
from prefect.tasks import exponential_backoff
from pydantic import BaseModel, ConfigDict

from infra.data_config import DataConfig, config_key, load_data_config
from infra.pipeline_config import Profile, RetrySettings

log = logging.getLogger(__name__)

FAULTS_ENV = "RIFT_FAULTS"  # e.g. "sync=fail" or "train=hang": chaos drills and the resume tests
CODE_VERSION_ENV = "RIFT_CODE_VERSION"
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class PhaseContext(BaseModel):
    """Everything a phase needs to know, small enough to travel as a deployment parameter."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    board: str
    players: int
    profile: str
    iteration: int
    settings: Profile
    mix: dict[str, float]
    data_dir: str | None = None  # None: the worker's own (RIFT_DATA_DIR or ./data)
    placed: bool = False  # running on a work pool for a coordinator elsewhere: publish outputs
    flow_run: str | None = None
    # continuous mode (flows/continuous.py): phases run as independent chains, not one iteration
    mode: Literal["iteration", "continuous"] = "iteration"  # events carry it as the label `rift.mode`
    batch: int | None = None  # continuous selfplay: the batch number (seeds, game ids, cache key)
    rows: tuple[int, int] | None = None  # continuous train: the game store's rowids (after, upto] to learn from
    # a placed phase's inputs (infra/dataplane.py, tasks/handoff.py): role -> artifact key, fetched into the
    # worker's cache before the phase runs; refs: role -> id the coordinator chose (parent, candidate, best)
    inputs: dict[str, str] = {}
    refs: dict[str, str | None] = {}

    @property
    def config(self) -> str:
        return config_key(self.board, self.players)

    @property
    def config_hash(self) -> str:
        blob = f"{self.settings.digest()}|{sorted(self.mix.items())}".encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def data(self) -> DataConfig:
        return load_data_config(data_dir=self.data_dir)

    def describe(self) -> str:
        extra = f" batch {self.batch}" if self.batch is not None else ""
        extra += f" games ({self.rows[0]}, {self.rows[1]}]" if self.rows else ""
        return f"{self.config} iteration {self.iteration}{extra} (profile {self.profile})"

    @property
    def handed(self) -> bool:
        """The coordinator chose this phase's inputs (tasks/placed.py): use them, not this host's stores."""
        return bool(self.inputs or self.refs)

    def input_path(self, role: str) -> Path | None:
        """This host's cached copy of the input `role` (fetched by flows/phase.py), None if not given."""
        from infra.dataplane import cache_path
        key = self.inputs.get(role)
        return cache_path(self.data().data_dir, key) if key else None

    def inputs_under(self, prefix: str) -> dict[str, Path]:
        """Inputs whose role starts with `prefix/`: {the rest of the role: cached copy}."""
        return {role[len(prefix) + 1:]: self.input_path(role) for role in self.inputs if role.startswith(prefix + "/")}

    @property
    def stream(self) -> str:
        """What, beside the iteration, makes this run's work distinct: '' for a plain iteration."""
        parts = [f"b{self.batch}" if self.batch is not None else "",
                 f"r{self.rows[0]}-{self.rows[1]}" if self.rows else ""]
        return "".join(f"-{p}" for p in parts if p)


class PhaseError(RuntimeError):
    """A phase failed; the message names the phase, the configuration and the cause."""

    def __init__(self, phase: str, ctx: PhaseContext, cause: BaseException, attempt: int | None = None) -> None:
        self.phase, self.cause = phase, cause
        tried = f" (attempt {attempt})" if attempt else ""
        super().__init__(f"phase '{phase}' failed for {ctx.describe()}{tried}: {type(cause).__name__}: {cause}")


class PermanentPhaseError(PhaseError):
    """A failure that retrying cannot fix (bad settings, an engine missing from this build)."""


class InjectedFault(RuntimeError):
    """Raised by `RIFT_FAULTS=<phase>=fail`."""


@functools.cache
def code_version() -> str:
    """$RIFT_CODE_VERSION, else the git commit of the project, else the package version."""
    if os.environ.get(CODE_VERSION_ENV):
        return os.environ[CODE_VERSION_ENV]
    try:
        out = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=PROJECT_ROOT, capture_output=True,
                             text=True, timeout=5)
        if out.returncode == 0 and out.stdout.strip():
            return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("ringrift-pipeline")
    except PackageNotFoundError:
        return "dev"


def short_hash(*parts: Any) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:12]


def phase_key(phase: str, ctx: PhaseContext, upstream: list[str]) -> str:
    """The cache key of one phase run: task name, config, iteration, settings, code, data folder, upstream."""
    data_dir = str(ctx.data().data_dir.resolve())
    handed = [f"{k}={v}" for k, v in sorted({**ctx.inputs, **ctx.refs}.items())]  # content keys and ids
    return (f"rift-{phase}-{ctx.config}-i{ctx.iteration}{ctx.stream}-{ctx.config_hash}-"
            f"{short_hash(code_version(), data_dir, *upstream, *handed)}")


def _cache_key_fn(phase: str) -> Callable[[Any, dict[str, Any]], str]:
    def key(_context: Any, parameters: dict[str, Any]) -> str:
        ctx = parameters["ctx"]
        ctx = ctx if isinstance(ctx, PhaseContext) else PhaseContext.model_validate(ctx)
        return phase_key(phase, ctx, list(parameters.get("upstream") or []))
    return key


def _retry_unless_permanent(_task: Any, _task_run: Any, state: Any) -> bool:
    try:
        state.result()
    except PermanentPhaseError:
        return False
    except Exception:
        return True
    return True


def retry_options(retries: RetrySettings) -> dict[str, Any]:
    """`Task.with_options` arguments for the profile's retries: exponential backoff with jitter."""
    return {"retries": retries.count, "retry_delay_seconds": exponential_backoff(retries.backoff_s),
            "retry_jitter_factor": retries.jitter}


def phase_task(phase: str) -> Callable[[Callable[..., dict[str, Any]]], Any]:
    """The `@task` of one phase: named, keyed by `phase_key`, results persisted, retried by default
    (the flow narrows retries to the profile's with `retry_options`)."""
    return task(name=phase, task_run_name=f"{phase} {{ctx.board}} {{ctx.players}}p i{{ctx.iteration}}{{ctx.stream}}",
                cache_key_fn=_cache_key_fn(phase), persist_result=True, retry_condition_fn=_retry_unless_permanent,
                **retry_options(RetrySettings()))


def in_prefect_run() -> bool:
    """True inside a flow or task run: artifacts and events need one (outside, they would start a server)."""
    return FlowRunContext.get() is not None or TaskRunContext.get() is not None


def attempt_number() -> int | None:
    ctx = TaskRunContext.get()
    return ctx.task_run.run_count if ctx else None


def inject_fault(phase: str) -> None:
    """Apply `RIFT_FAULTS` (comma-separated `<phase>=fail|hang`) to this phase, if it names it."""
    for item in filter(None, (os.environ.get(FAULTS_ENV) or "").split(",")):
        name, _, mode = item.partition("=")
        if name.strip() != phase:
            continue
        if mode.strip() == "hang":
            log.warning("phase %s: injected fault 'hang' (sleeping until killed)", phase)
            time.sleep(24 * 3600)
        raise InjectedFault(f"injected fault in phase {phase} ({FAULTS_ENV}={item})")


def run_phase(phase: str, ctx: PhaseContext, body: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run the library part of a phase: faults first, then the body, timed; errors name the phase."""
    started = time.perf_counter()
    try:
        inject_fault(phase)
        result = body()
    except PhaseError:
        raise
    except (ValueError, LookupError) as exc:
        raise PermanentPhaseError(phase, ctx, exc, attempt_number()) from exc
    except Exception as exc:
        raise PhaseError(phase, ctx, exc, attempt_number()) from exc
    return {"phase": phase, **result, "seconds": round(time.perf_counter() - started, 4)}


def emit(event: str, ctx: PhaseContext, payload: dict[str, Any]) -> None:
    """Emit `rift.<event>` about this board configuration (drives deployment triggers).

    The resource carries the board, players, profile and mode as labels, so a trigger can match
    one board and continuous runs only, and pass the players and profile on to the run it starts."""
    if not in_prefect_run():
        return
    from prefect.events import emit_event
    emit_event(event=f"rift.{event}",
               resource={"prefect.resource.id": f"rift.config.{ctx.config}", "rift.board": ctx.board,
                         "rift.players": str(ctx.players), "rift.profile": ctx.profile, "rift.mode": ctx.mode},
               payload={"iteration": ctx.iteration, **payload})


def artifact_key(*parts: str) -> str:
    """Prefect artifact keys allow lowercase letters, digits and dashes only."""
    raw = "-".join(parts).lower()
    return "".join(c if c.isalnum() else "-" for c in raw)
