"""Settings of the data layer, validated once and passed in.

Every knob of the game store, shards, registry and artifact storage lives here so
that nothing deep in the code reads the environment: a process builds one
`DataConfig` at its edge (CLI, flow, bench) and hands it down. Values come, in
order of precedence, from explicit arguments, `RIFT_*` environment variables, the
`data:` section of a YAML file, then the defaults below.

Secrets are never part of this object: S3 credentials live in the Prefect block
named by `storage_block` (or the standard AWS environment variables).
"""
from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

BOARD_TYPES = ("square8", "square19", "hex8", "hexagonal")


class DataConfig(BaseSettings):
    """Where durable data lives and how eagerly it is flushed and uploaded."""

    model_config = SettingsConfigDict(env_prefix="RIFT_", extra="forbid", frozen=True)

    data_dir: Path = Field(Path("data"), description="Root of games/, shards/, registry.db, artifacts/.")
    flush_batch_size: int = Field(100, ge=1, description="Games per database flush.")
    flush_interval_s: float = Field(5.0, gt=0, description="Longest a journaled game waits for its flush.")
    busy_timeout_s: float = Field(30.0, gt=0, description="How long to wait for another process's write lock.")
    journal_rotate_bytes: int = Field(8 << 20, ge=1, description="Start a new journal file past this size.")
    storage_block: str | None = Field(
        None, description="Prefect block document, e.g. 's3-bucket/rift-artifacts'; None = local folder."
    )
    upload_workers: int = Field(4, ge=1, le=64)
    upload_retries: int = Field(6, ge=0, description="Retries after the first attempt of one upload.")
    upload_backoff_s: float = Field(0.5, ge=0, description="First retry delay; doubles each retry.")
    upload_backoff_max_s: float = Field(30.0, ge=0)
    source_host: str = Field(default_factory=socket.gethostname)

    @field_validator("storage_block")
    @classmethod
    def _block_slug(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if "/" not in value:
            raise ValueError("storage_block must be '<block-type-slug>/<name>', e.g. 's3-bucket/rift-artifacts'")
        return value

    @property
    def games_dir(self) -> Path:
        return self.data_dir / "games"

    @property
    def shards_dir(self) -> Path:
        return self.data_dir / "shards"

    @property
    def registry_path(self) -> Path:
        return self.data_dir / "registry.db"

    @property
    def artifacts_dir(self) -> Path:
        return self.data_dir / "artifacts"

    @property
    def outbox_dir(self) -> Path:
        return self.data_dir / "outbox"

    def game_db_path(self, board_type: str, num_players: int) -> Path:
        return self.games_dir / f"{config_key(board_type, num_players)}.db"

    def journal_dir(self, board_type: str, num_players: int) -> Path:
        return self.games_dir / "journal" / config_key(board_type, num_players)


def config_key(board_type: str, num_players: int) -> str:
    """The name of a board configuration, e.g. 'square8_2p'."""
    if board_type not in BOARD_TYPES:
        raise ValueError(f"unknown board type {board_type!r}; expected one of {', '.join(BOARD_TYPES)}")
    if not 2 <= int(num_players) <= 4:
        raise ValueError(f"num_players must be 2..4, got {num_players}")
    return f"{board_type}_{int(num_players)}p"


def load_data_config(path: Path | None = None, **overrides: Any) -> DataConfig:
    """Build the config from a YAML file's `data:` section, the environment and overrides.

    Environment variables (`RIFT_DATA_DIR`, `RIFT_FLUSH_BATCH_SIZE`, ...) win over
    the file; keyword overrides (e.g. from CLI flags) win over both.
    """
    file_values: dict[str, Any] = {}
    if path is not None:
        loaded = yaml.safe_load(Path(path).read_text()) or {}
        file_values = dict(loaded.get("data", loaded))
    explicit = {k: v for k, v in overrides.items() if v is not None}
    # pydantic-settings ranks init kwargs above the environment; put the environment above the file by hand.
    env_cfg = DataConfig()
    env_set = {k: getattr(env_cfg, k) for k in env_cfg.model_fields_set}
    return DataConfig(**{**file_values, **env_set, **explicit})
