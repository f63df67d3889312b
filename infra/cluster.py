"""Cluster control: status, Prefect workers, code updates and selfplay on the fleet.

Each operation is one shell script per host sent through `SSHRunner.run_many`,
so it inherits the deadline, retries, breakers and failure log; each returns a
result per host so one dead node never hides the others' outcomes. Long-lived
processes (workers, selfplay) are started detached with `nohup` and a pid file
in the host's data folder, which is how `stop` and the health probe find them.
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from pydantic import ValidationError

from infra.breaker import BreakerState
from infra.health import HealthReport, Snapshot, evaluate, worker_pid_file
from infra.hosts import Fleet, Host, HostState, Role
from infra.ssh import CommandResult, SSHRunner

STATUS_TIMEOUT_S = 20.0
SELFPLAY_ROLES = (Role.SELFPLAY, Role.MIXED)
SEED_STRIDE = 1_000_003  # hosts' seeds far apart so their games never share a seed


@dataclass
class HostStatus:
    """One row of `rift cluster status`."""

    host: Host
    breaker: BreakerState
    health: HealthReport
    reachable: bool | None = None  # None: not contacted (disabled, or breaker open)
    snapshot: Snapshot | None = None
    error: str = ""
    breaker_failures: int = 0

    def as_row(self) -> dict[str, Any]:
        """Flat, JSON-ready row (also what a monitor task publishes as a table artifact)."""
        s = self.snapshot
        return {
            "host": self.host.name,
            "pool": self.host.work_pool,
            "role": self.host.role.value,
            "status": self.host.status.value,
            "reachable": self.reachable,
            "breaker": self.breaker.value,
            "breaker_failures": self.breaker_failures,
            "health": self.health.status.value,
            "reason": self.health.reason,
            "cpu_pct": s.cpu_pct if s else None,
            "mem_pct": s.mem_pct if s else None,
            "disk_pct": s.disk_pct if s else None,
            "disk_free_gb": round(s.disk_free_gb, 2) if s else None,
            "gpus": [g.model_dump() for g in s.gpus] if s else [],
            "gpu_note": s.gpu_note if s else "",
            "worker_running": s.worker.running if s else None,
            "worker_pid": s.worker.pid if s else None,
            "games": s.games if s else {},
            "games_total": s.games_total if s else None,
            "error": self.error,
        }


@dataclass
class ActionResult:
    """Outcome of a control command on one host."""

    host: str
    ok: bool
    message: str
    skipped: bool = False
    details: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_command(cls, res: CommandResult, **details: Any) -> "ActionResult":
        lines = [ln for ln in res.stdout.strip().splitlines() if ln.strip()]
        if res.ok:
            message = lines[-1] if lines else "ok"
        elif res.reached:
            tail = (res.stderr.strip() or res.stdout.strip()).splitlines()[-3:]
            message = f"exit {res.exit_code}: " + " | ".join(tail)
        else:
            message = res.error
        return cls(host=res.host, ok=res.ok, message=message, skipped=res.skipped, details=details)


def _q(value: str | int | float) -> str:
    return shlex.quote(str(value))


def spawn_script(command: str, pid_file: str, log_file: str, settle_s: float = 1.0) -> str:
    """Shell that starts `command` detached unless its pid file names a live process,
    then checks it survived its first `settle_s` seconds (showing its log if not)."""
    pid, log = _q(pid_file), _q(log_file)
    return (
        f"mkdir -p $(dirname {pid}) $(dirname {log}) && "
        f"if [ -f {pid} ] && kill -0 $(cat {pid}) 2>/dev/null; then echo \"already running: pid $(cat {pid})\"; "
        f"else nohup {command} > {log} 2>&1 < /dev/null & p=$!; echo $p > {pid}; sleep {settle_s:g}; "
        f"if kill -0 $p 2>/dev/null; then echo \"started: pid $p\"; "
        f"else echo \"exited at once; last lines of {log_file}:\" >&2; tail -n 20 {log} >&2; rm -f {pid}; exit 1; fi; fi"
    )


def stop_script(pid_file: str, grace_s: float = 10.0) -> str:
    """Shell that stops the process in `pid_file`: TERM, wait up to `grace_s`, then KILL."""
    pid = _q(pid_file)
    steps = max(1, int(grace_s * 10))
    return (  # a zombie (exited, not yet reaped) counts as stopped
        "alive() { kill -0 $1 2>/dev/null && ! ps -o stat= -p $1 2>/dev/null | grep -q Z; }; "
        f"if [ ! -f {pid} ]; then echo 'not running'; exit 0; fi; p=$(cat {pid}); "
        f"if ! alive $p; then rm -f {pid}; echo \"not running (stale pid $p)\"; exit 0; fi; "
        f"kill $p; i=0; while alive $p && [ $i -lt {steps} ]; do sleep 0.1; i=$((i+1)); done; "
        f"if alive $p; then kill -9 $p; echo \"killed: pid $p\"; else echo \"stopped: pid $p\"; fi; "
        f"rm -f {pid}"
    )


class SelfplayConfigError(ValueError):
    """A selfplay request no host could run (board, players, games, engine): found locally,
    before any host is contacted."""


def check_engine_spec(engine: str) -> None:
    """The `--engine` spec names a player `rift selfplay` can build, with parameters it takes.

    Built here for the search engines (cheap, no files); a neural spec needs `model=`, whose
    path is on each host and checked there.
    """
    from engine.players import ENGINES, parse_spec
    from engine.players.ladder import TIERS, load_ladder

    try:
        name, params = parse_spec(engine)
    except ValueError as exc:
        raise SelfplayConfigError(f"--engine {engine!r}: {exc}") from None
    available = f"{', '.join(ENGINES)}, neural:model=PATH, or a ladder tier {TIERS[0]}..{TIERS[-1]}"
    if name.upper() in TIERS:
        tier = load_ladder().tiers[name.upper()]
        if tier.neural:
            return
        name, params = tier.engine, {**tier.params, **params}
    if name == "neural":
        if not params.get("model"):
            raise SelfplayConfigError(f"--engine {engine!r}: a neural player needs model=PATH (a model file on each host)")
        return
    cls = ENGINES.get(name)
    if cls is None:
        raise SelfplayConfigError(f"unknown engine {engine!r}: available engines are {available}")
    try:
        cls(0, **params)
    except (TypeError, ValueError) as exc:
        raise SelfplayConfigError(f"--engine {engine!r}: {exc}") from None


def check_selfplay_config(board: str, players: int, games: int, engine: str) -> None:
    """Raise SelfplayConfigError naming the bad value and the accepted ones."""
    from engine.geometry import BOARD_TYPES

    if board not in BOARD_TYPES:
        raise SelfplayConfigError(f"unknown board {board!r}: choose one of {', '.join(BOARD_TYPES)}")
    if players not in (2, 3, 4):
        raise SelfplayConfigError(f"players must be 2, 3 or 4, got {players!r}")
    if games < 1:
        raise SelfplayConfigError(f"games must be at least 1, got {games!r}")
    check_engine_spec(engine)


@dataclass
class SelfplayJob:
    """Selfplay planned for one host: its share of the games, its seed, its command line."""

    host: Host
    games: int
    seed: int
    command: str
    pid_file: str


class Cluster:
    """The fleet as one thing to look at and steer."""

    def __init__(self, fleet: Fleet, runner: SSHRunner | None = None) -> None:
        self.fleet = fleet
        self.runner = runner or SSHRunner(fleet)
        self.breakers = self.runner.breakers

    # -- helpers -------------------------------------------------------------
    def _in_project(self, host: Host, script: str) -> str:
        return f"{host.shell_prefix()} && {script}"

    def _each(
        self, hosts: list[Host], script: Callable[[Host], str], timeout: float | None, **details: Any
    ) -> list[ActionResult]:
        results = self.runner.run_many(hosts, lambda h: self._in_project(h, script(h)), timeout=timeout)
        return [ActionResult.from_command(res, **details) for res in results.values()]

    @staticmethod
    def python(host: Host) -> str:
        return "python" if host.venv else "python3"

    # -- status --------------------------------------------------------------
    def probe_command(self, host: Host) -> str:
        """`python -m infra.probe` in the host's project and virtualenv."""
        api = self.fleet.settings.prefect_api_url
        return self._in_project(
            host,
            f"{self.python(host)} -m infra.probe --data-dir {_q(host.data_path)} --pool {_q(host.work_pool)}"
            + (f" --prefect-url {_q(api)}" if api else ""),
        )

    def status(self, names: list[str] | None = None, timeout: float | None = None) -> list[HostStatus]:
        """Probe every host in parallel; unreachable, skipped and disabled hosts get rows too."""
        hosts = self.fleet.select(names, include_disabled=True)
        active = [h for h in hosts if h.status is not HostState.DISABLED]
        results = self.runner.run_many(active, self.probe_command, timeout=timeout or STATUS_TIMEOUT_S)
        return [self._status_row(host, results.get(host.name)) for host in hosts]

    def _status_row(self, host: Host, res: CommandResult | None) -> HostStatus:
        rec = self.breakers.record(host.name)
        row = HostStatus(
            host=host,
            breaker=self.breakers.state(host.name),
            breaker_failures=rec.failures,
            health=HealthReport.unreachable("disabled in hosts file"),
        )
        if res is None:
            return row
        if res.skipped:
            row.error = res.error
            row.health = HealthReport.unreachable(f"skipped: breaker open ({rec.last_error or 'recent failures'})")
            return row
        row.reachable = res.reached
        if not res.reached:
            row.error = res.error
            row.health = HealthReport.unreachable(f"unreachable: {res.error}")
            return row
        try:
            row.snapshot = Snapshot.model_validate_json(res.stdout.strip().splitlines()[-1])
        except (ValidationError, IndexError, ValueError):
            detail = (res.stderr.strip() or res.stdout.strip() or "no output").splitlines()[-1][:300]
            row.error = f"probe failed (exit {res.exit_code}): {detail}"
            row.health = HealthReport.unreachable(row.error)
            return row
        row.health = evaluate(row.snapshot, self.fleet.settings.health)
        return row

    # -- workers ---------------------------------------------------------------
    def _worker_files(self, host: Host) -> tuple[str, str]:
        pid = worker_pid_file(host.data_path, host.work_pool)
        return pid, pid[: -len(".pid")] + ".log"

    def start_workers(self, names: list[str] | None = None, timeout: float | None = 60.0) -> list[ActionResult]:
        """Start the Prefect worker of each host's pool (no-op where one is running)."""
        def script(h: Host) -> str:
            pid, log = self._worker_files(h)
            command = self.fleet.settings.worker_command.format(pool=_q(h.work_pool), host=_q(h.name),
                                                               data=_q(h.data_path))
            return spawn_script(command, pid, log)

        return self._each(self.fleet.select(names), script, timeout)

    def stop_workers(self, names: list[str] | None = None, timeout: float | None = 60.0) -> list[ActionResult]:
        """Stop the worker started by `start_workers` on each host."""
        return self._each(self.fleet.select(names), lambda h: stop_script(self._worker_files(h)[0]), timeout)

    # -- code --------------------------------------------------------------------
    def update_code(
        self, names: list[str] | None = None, stash: bool = False, timeout: float | None = 120.0
    ) -> list[ActionResult]:
        """`git pull --ff-only` in each host's project, stashing local changes first if asked."""
        stash_part = (
            'if [ -n "$(git status --porcelain)" ]; then '
            'git stash push --include-untracked -q -m "rift cluster update-code" && echo stashed local changes; fi && '
            if stash else ""
        )
        script = (
            f"before=$(git rev-parse --short HEAD) && {stash_part}git pull --ff-only -q && "
            'after=$(git rev-parse --short HEAD) && '
            'if [ "$before" = "$after" ]; then echo "up to date at $after"; else echo "updated $before -> $after"; fi'
        )
        return self._each(self.fleet.select(names), lambda h: script, timeout, stash=stash)

    # -- selfplay ----------------------------------------------------------------
    def eligible_for_selfplay(
        self,
        roles: Iterable[Role] = SELFPLAY_ROLES,
        min_memory_gb: float = 0.0,
        require_gpu: bool = False,
        min_vram_gb: float = 0.0,
        names: list[str] | None = None,
    ) -> list[Host]:
        """Active hosts of a selfplay role with enough memory (and a GPU if asked), breaker not open."""
        roles = set(roles)
        return [
            h for h in self.fleet.select(names)
            if h.status is HostState.ACTIVE
            and h.role in roles
            and h.memory_gb >= min_memory_gb
            and (h.has_gpu or not require_gpu)
            and h.vram_gb >= min_vram_gb
            and self.breakers.state(h.name) is not BreakerState.OPEN
        ]

    @staticmethod
    def split_games(games: int, n_hosts: int) -> list[int]:
        """`games` shared as evenly as possible; the first hosts take the remainder."""
        base, extra = divmod(games, n_hosts)
        return [base + (1 if i < extra else 0) for i in range(n_hosts)]

    def _selfplay_pid(self, host: Host, board: str, players: int) -> str:
        return f"{host.data_path}/cluster/selfplay-{board}_{players}p.pid"

    def plan_selfplay(
        self,
        board: str,
        games: int,
        players: int = 2,
        engine: str = "heuristic",
        seed: int = 1,
        out: str | None = None,
        hosts: list[Host] | None = None,
    ) -> list[SelfplayJob]:
        """Share `games` across `hosts` (default: the eligible ones), a distinct seed each.

        Raises SelfplayConfigError for a board, player count or engine no host could run.
        """
        check_selfplay_config(board, players, games, engine)
        hosts = self.eligible_for_selfplay() if hosts is None else hosts
        jobs = []
        for i, (host, share) in enumerate(zip(hosts, self.split_games(games, len(hosts)) if hosts else [])):
            if share == 0:
                continue
            out_dir = f"{out}/{host.name}" if out else f"{host.data_path}/selfplay/{board}_{players}p/{host.name}"
            host_seed = seed + i * SEED_STRIDE
            command = self.fleet.settings.selfplay_command.format(
                board=_q(board), players=int(players), games=share, engine=_q(engine),
                seed=host_seed, out=_q(out_dir), host=_q(host.name),
            )
            jobs.append(SelfplayJob(host, share, host_seed, command, self._selfplay_pid(host, board, players)))
        return jobs

    def start_selfplay(self, jobs: list[SelfplayJob], timeout: float | None = 60.0) -> list[ActionResult]:
        """Start each planned job detached on its host (no-op where that config already runs)."""
        by_host = {job.host.name: job for job in jobs}

        def script(h: Host) -> str:
            job = by_host[h.name]
            return spawn_script(job.command, job.pid_file, job.pid_file[: -len(".pid")] + ".log")

        results = self._each([job.host for job in jobs], script, timeout)
        for r in results:
            r.details = {"games": by_host[r.host].games, "seed": by_host[r.host].seed}
        return results

    def stop_selfplay(
        self, board: str, players: int = 2, names: list[str] | None = None, timeout: float | None = 60.0
    ) -> list[ActionResult]:
        """Stop selfplay for a config wherever `start_selfplay` left a pid file."""
        return self._each(self.fleet.select(names), lambda h: stop_script(self._selfplay_pid(h, board, players)), timeout)
