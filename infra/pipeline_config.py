"""The improvement loop's settings: `config/pipeline.yaml` and `config/pools.yaml`, validated once.

A flow loads both files at its start and hands typed, frozen settings down to
the tasks, so a typo fails the run before any game is played, with a message
naming the file and the key, instead of as a KeyError deep inside a phase.

Profiles (`tiny` for tests, `default` for real runs) may `extends:` another;
their bodies deep-merge, but per-config overrides (`configs: {hex8_2p: ...}`, or
a bare board name for every player count) belong to the profile that declares
them, so `tiny` is not made big again by `default`'s per-board game counts.

No Prefect in here: the CLI's dry run and the bench read the same models.
"""
from __future__ import annotations

import copy
import hashlib
import json
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from infra.data_config import BOARD_TYPES, config_key
from infra.loop_config import ClosedLoopSettings

PIPELINE_ENV = "RIFT_PIPELINE_CONFIG"
POOLS_ENV = "RIFT_POOLS_CONFIG"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
PHASES = ("selfplay", "sync", "cmaes", "train", "profile_sync", "evaluate", "gate", "monitor")
# Phases whose whole job is reading and writing the coordinator's stores: they run where the iteration
# runs. The others travel through the data plane (tasks/placed.py) and can be placed on any pool.
COORDINATOR_ONLY = {
    "sync": "it merges games into the coordinator's game store",
    "cmaes": "it tunes against and writes the coordinator's profile history",
    "profile_sync": "it writes the coordinator's best profiles",
    "gate": "it promotes models in the coordinator's registry",
}
PLACEABLE = tuple(p for p in PHASES if p not in COORDINATOR_ONLY)


class PipelineConfigError(ValueError):
    """A configuration file is missing, unreadable or invalid; the message names file and key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RetrySettings(_Strict):
    """Task retries: `count` retries after the first try, delays backoff_s * 2**k, randomised by jitter."""

    count: int = Field(3, ge=0, le=20)
    backoff_s: float = Field(10.0, ge=0)
    jitter: float = Field(0.5, ge=0, le=1)


class SelfplaySettings(_Strict):
    games: int = Field(gt=0)
    mix: str = Field(description="Name of an entry of `engine_mixes`.")
    processes: int = Field(0, ge=0, description="Worker processes; 0 = the cores this process may use.")
    seed: int = 1
    move_cap: int | None = Field(None, ge=1)
    progress_every: int = Field(25, ge=1, description="Games between progress-artifact updates.")
    host_slots: int = Field(0, ge=0, description="Selfplay runs allowed at once per host (0 = no limit).")
    engine: Literal["auto", "cpu", "gpu"] = Field(
        "auto", description="auto: the batched engine (engine/batched) when CUDA is present and the mix is one "
                            "batched player (random-only, heuristic-only); cpu: the reference engine in a process "
                            "pool; gpu: the batched engine always (CPU tensors without CUDA).")
    gpu_batch: int = Field(4096, gt=0, description="Games the batched engine plays at once.")


class SyncSettings(_Strict):
    sources: list[str] = Field(default_factory=list, description="Extra folders or .db files to ingest.")
    artifact_prefix: str = "sync"
    shards: bool = True


class CmaesSettings(_Strict):
    """CMA-ES over the heuristic weights (tasks/tuning.py). Every score is measured against one fixed
    `reference`, so fitnesses of different iterations and hosts compare; the tuned profile's score
    is the confirmation match's (`confirm_games` on fresh seeds), never the tuning's best sample."""

    population: int = Field(gt=1)
    generations: int = Field(gt=0)
    games_per_candidate: int = Field(gt=0, description="Rounded up to a multiple of the players (seat rotation).")
    sigma0: float = Field(0.25, gt=0)
    reference: str = Field("default", min_length=1,
                           description="The fixed opponent: 'default' (the repository's untuned profile of "
                                       "the config) or the path of a profile file.")
    confirm_games: int = Field(200, gt=0, description="Games of the re-evaluation of the winner on fresh seeds.")
    opening_plies: int = Field(4, ge=0, description="Random plies opening each block of seat-rotated games.")
    remeasure: bool = Field(True, description="profile_sync re-measures a profile measured against another "
                                              "reference (False: refuses it, naming both references).")


class TrainSettings(_Strict):
    window_samples: int = Field(gt=0)
    epochs: int = Field(gt=0)
    batch_size: int = Field(gt=0)
    lr: float = Field(gt=0)
    blocks: int = Field(gt=0)
    channels: int = Field(gt=0)
    from_scratch: bool = False
    threads: int = Field(0, ge=0, description="torch CPU threads while training; 0 = torch's default.")


class EvaluateSettings(_Strict):
    games: int = Field(gt=0)
    baselines: list[str] = Field(default_factory=list)


class SprtSettings(_Strict):
    elo0: float = 0.0
    elo1: float = 35.0
    alpha: float = Field(0.05, gt=0, lt=0.5)
    beta: float = Field(0.05, gt=0, lt=0.5)

    @model_validator(mode="after")
    def _bounds(self) -> SprtSettings:  # engine.ratings.Sprt would refuse it mid-gate otherwise
        if not self.elo1 > self.elo0:
            raise ValueError(f"needs elo1 > elo0 (got elo0 {self.elo0:g}, elo1 {self.elo1:g})")
        return self


class GateSettings(_Strict):
    win_rate: float = Field(0.55, gt=0, lt=1)
    min_games: int = Field(10, gt=0)
    sprt: SprtSettings = SprtSettings()
    tiers: list[str] = Field(default_factory=lambda: ["D2", "D4", "D6", "D8"])


class MonitorSettings(_Strict):
    fleet: bool = Field(False, description="Also probe the hosts of hosts.yaml over SSH.")
    hosts_file: str | None = None
    cpu_interval_s: float = Field(0.1, ge=0)


class BackupSettings(_Strict):
    include: list[str] = Field(default_factory=lambda: ["games/*.db", "registry.db", "models/**/*",
                                                        "profiles/**/*"])
    prefix: str = "backups/incremental"
    block: str | None = Field(None, description="Saved block for backups (default: the data layer's block).")


class Profile(_Strict):
    """One profile resolved for one board configuration: everything the phases read."""

    retries: RetrySettings = RetrySettings()
    selfplay: SelfplaySettings
    sync: SyncSettings = SyncSettings()
    cmaes: CmaesSettings
    train: TrainSettings
    evaluate: EvaluateSettings
    gate: GateSettings = GateSettings()
    monitor: MonitorSettings = MonitorSettings()
    closed_loop: ClosedLoopSettings | None = Field(
        None, description="Present: the closed loop (infra/loop_config.py); absent: selfplay from the mix.")

    @model_validator(mode="after")
    def _closed_loop_fits(self) -> Profile:
        loop = self.closed_loop
        if loop is None:
            return self
        if self.selfplay.engine == "gpu":
            raise ValueError("selfplay.engine: gpu plays an engine mix on the batched engine; a profile with "
                             "closed_loop plays teacher and net games (use auto or cpu)")
        if loop.train.subset > self.train.window_samples:
            raise ValueError(f"closed_loop.train.subset ({loop.train.subset}) exceeds train.window_samples "
                             f"({self.train.window_samples}): it draws its rows from the window")
        return self

    @property
    def closed(self) -> bool:
        """Whether this profile runs the closed loop."""
        return self.closed_loop is not None

    def digest(self) -> str:
        """A short stable hash of the settings: part of every phase's cache key (an absent closed_loop
        leaves it as it was before the section existed, so open-loop caches stay valid)."""
        body = self.model_dump(mode="json")
        if body.get("closed_loop") is None:
            body.pop("closed_loop", None)
        blob = json.dumps(body, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


class PipelineConfig(_Strict):
    """The whole of `config/pipeline.yaml`; `resolve()` gives one config's `Profile`."""

    source: str = "<pipeline>"
    phases: list[str] = Field(default_factory=lambda: list(PHASES))
    engine_mixes: dict[str, dict[str, float]]
    backup: BackupSettings = BackupSettings()
    profiles: dict[str, dict[str, Any]]

    @model_validator(mode="after")
    def _known(self) -> PipelineConfig:
        unknown = [p for p in self.phases if p not in PHASES]
        if unknown:
            raise ValueError(f"phases: unknown phase(s) {unknown}; known: {', '.join(PHASES)}")
        for name, mix in self.engine_mixes.items():
            if not mix or any(w < 0 for w in mix.values()) or sum(mix.values()) <= 0:
                raise ValueError(f"engine_mixes.{name}: needs engine weights >= 0 with a positive sum")
        return self

    def _body(self, name: str, seen: tuple[str, ...] = ()) -> dict[str, Any]:
        if name not in self.profiles:
            raise PipelineConfigError(f"{self.source}: no profile {name!r} (profiles: {', '.join(self.profiles)})")
        if name in seen:
            raise PipelineConfigError(f"{self.source}: profiles.{name}.extends loops: {' -> '.join(seen + (name,))}")
        raw = {k: v for k, v in self.profiles[name].items() if k not in ("extends", "configs")}
        parent = self.profiles[name].get("extends")
        return _merge(self._body(parent, seen + (name,)), raw) if parent else copy.deepcopy(raw)

    def resolve(self, profile: str, board: str, players: int, selfplay_engine: str | None = None) -> Profile:
        """The settings of `profile` for one board configuration, validated (`selfplay_engine`
        overrides selfplay.engine, as `rift iterate --engine` does)."""
        key = config_key(board, players)
        body = self._body(profile)
        overrides = self.profiles[profile].get("configs") or {}
        where = f"profiles.{profile}"
        for name in (board, key):
            if name in overrides:
                body, where = _merge(body, overrides[name]), f"profiles.{profile}.configs.{name}"
        if selfplay_engine is not None:
            body = _merge(body, {"selfplay": {"engine": selfplay_engine}})
        try:
            resolved = Profile.model_validate(body)
        except ValidationError as exc:
            raise PipelineConfigError(_describe(self.source, where, exc)) from None
        if resolved.selfplay.mix not in self.engine_mixes:
            raise PipelineConfigError(f"{self.source}: {where}.selfplay.mix: unknown mix {resolved.selfplay.mix!r} "
                                      f"(engine_mixes: {', '.join(self.engine_mixes)})")
        return resolved

    def mix(self, resolved: Profile) -> dict[str, float]:
        return dict(self.engine_mixes[resolved.selfplay.mix])


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in (over or {}).items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else copy.deepcopy(v)
    return out


def _describe(source: str, where: str, exc: ValidationError) -> str:
    lines = []
    for e in exc.errors():
        loc = ".".join(str(p) for p in e["loc"])
        what = "unknown key" if e["type"] == "extra_forbidden" else e["msg"].removeprefix("Value error, ")
        if not loc:  # a check across keys: its message names them
            lines.append(f"{where + ': ' if where else ''}{what}")
            continue
        path = f"{where}.{loc}" if where else loc
        lines.append(f"{path}: {what}" + ("" if e["type"] in ("missing", "extra_forbidden") else
                                          f" (got {e.get('input')!r})"))
    return f"{source}: invalid settings:\n  " + "\n  ".join(lines)


# -- pools ---------------------------------------------------------------------------------------
class PoolSettings(_Strict):
    type: Literal["process"] = "process"
    description: str = ""
    gpu: str | None = Field(None, description="GPU class of the pool's machines; None = CPU only.")
    concurrency: int = Field(1, ge=1, description="Flow runs at once in the pool (work-pool limit).")
    gpu_slots: int = Field(0, ge=0, description="GPU jobs at once: global concurrency limit 'gpu-<pool>'.")


DEFAULT_PHASE_TIMEOUT_S = 6 * 3600.0  # a placed phase running longer is taken as stuck (host alive, no progress)


class PoolsConfig(_Strict):
    """`config/pools.yaml`: work pools and which phase runs on which (unplaced: in-process)."""

    source: str = "<pools>"
    pools: dict[str, PoolSettings]
    placement: dict[str, str] = Field(default_factory=dict)
    local_pool: str = "local"
    phase_timeout_s: dict[str, float] = Field(default_factory=dict)

    def timeout_for(self, phase: str) -> float:
        """Seconds a placed run of `phase` may run on its host before the iteration cancels it and
        schedules it again (queue time, waiting for a worker, does not count)."""
        return self.phase_timeout_s.get(phase, DEFAULT_PHASE_TIMEOUT_S)

    @model_validator(mode="after")
    def _placed_on_known_pools(self) -> PoolsConfig:
        for phase, seconds in self.phase_timeout_s.items():
            if phase not in PHASES:
                raise ValueError(f"phase_timeout_s.{phase}: unknown phase (known: {', '.join(PHASES)})")
            if not seconds > 0:
                raise ValueError(f"phase_timeout_s.{phase}: needs a number of seconds above 0, got {seconds}")
        for phase, pool in self.placement.items():
            if phase not in PHASES:
                raise ValueError(f"placement.{phase}: unknown phase (known: {', '.join(PHASES)})")
            if pool not in self.pools:
                raise ValueError(f"placement.{phase}: unknown pool {pool!r} (pools: {', '.join(self.pools)})")
            if phase in COORDINATOR_ONLY:
                raise ValueError(f"placement.{phase}: {phase} cannot be placed on pool {pool!r}: "
                                 f"{COORDINATOR_ONLY[phase]}; remove it from placement (it runs in-process)")
        if self.local_pool not in self.pools:
            raise ValueError(f"local_pool: {self.local_pool!r} is not one of the pools")
        return self


# -- loading -------------------------------------------------------------------------------------
def _resolve_path(path: str | os.PathLike[str] | None, env: str, default: str) -> Path:
    if path:
        return Path(path).expanduser()
    if os.environ.get(env):
        return Path(os.environ[env]).expanduser()
    here = Path("config") / default
    return here if here.exists() else PROJECT_ROOT / "config" / default


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise PipelineConfigError(f"configuration file not found: {path}") from None
    except yaml.YAMLError as exc:
        raise PipelineConfigError(f"{path}: not valid YAML: {exc}") from None


def _validate(model: type[BaseModel], data: Any, source: Path) -> Any:
    if not isinstance(data, dict):
        raise PipelineConfigError(f"{source}: expected a mapping at the top level")
    try:
        return model.model_validate({**data, "source": str(source)})
    except ValidationError as exc:
        raise PipelineConfigError(_describe(str(source), "", exc)) from None
    except ValueError as exc:
        raise PipelineConfigError(f"{source}: {exc}") from None


def load_pipeline_config(path: str | os.PathLike[str] | None = None) -> PipelineConfig:
    """Read `config/pipeline.yaml` (or `path`, or $RIFT_PIPELINE_CONFIG); every profile is checked for
    every board configuration it names, so an error in a rarely used override fails now."""
    source = _resolve_path(path, PIPELINE_ENV, "pipeline.yaml")
    cfg: PipelineConfig = _validate(PipelineConfig, _read_yaml(source), source)
    for name, body in cfg.profiles.items():
        if not isinstance(body, dict):
            raise PipelineConfigError(f"{source}: profiles.{name}: expected a mapping")
        targets = [("square8", 2)]
        for key in body.get("configs") or {}:
            board, _, n = str(key).partition("_")
            if board not in BOARD_TYPES or (n and n not in ("2p", "3p", "4p")):
                raise PipelineConfigError(f"{source}: profiles.{name}.configs.{key}: not a board or config "
                                          f"(e.g. 'hex8' or 'hex8_2p')")
            targets.append((board, int(n[0]) if n else 2))
        for board, players in targets:
            cfg.resolve(name, board, players)
    return cfg


def load_pools_config(path: str | os.PathLike[str] | None = None) -> PoolsConfig:
    """Read `config/pools.yaml` (or `path`, or $RIFT_POOLS_CONFIG)."""
    source = _resolve_path(path, POOLS_ENV, "pools.yaml")
    return _validate(PoolsConfig, _read_yaml(source), source)
