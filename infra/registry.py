"""Model registry: every trained model, where it came from, how it rated, which one is best.

Stored in SQLite beside the games (`data/registry.db`) so it survives crashes
the same way. Model paths inside the data folder are stored relative to it (the
registry's own folder) and returned absolute, so a moved or restored data folder
keeps working; an absolute path written by an older version is re-rooted at the
data folder when the file is no longer where it says. A model is registered as a candidate by training, made active by
the gate, and deprecated with a reason; ratings are appended per match so the
history of each model's strength stays queryable. Report tables come back as
pandas DataFrames.
"""
from __future__ import annotations

import json
import sqlite3
import uuid
from enum import StrEnum
from pathlib import Path
from typing import Any

import pandas as pd

from infra.data_config import config_key
from infra.records import utc_now_iso
from infra.sqlite_files import SqliteFile, connect, guard

SCHEMA = """
CREATE TABLE IF NOT EXISTS models (
    id TEXT PRIMARY KEY,
    config TEXT NOT NULL,
    board_type TEXT NOT NULL,
    num_players INTEGER NOT NULL,
    path TEXT,
    artifact_key TEXT,
    parent_id TEXT REFERENCES models(id),
    iteration INTEGER NOT NULL DEFAULT 0,
    metrics TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL,
    status_reason TEXT,
    tier TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS models_config ON models(config, status);
CREATE TABLE IF NOT EXISTS ratings (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    model_id TEXT NOT NULL REFERENCES models(id),
    rating REAL NOT NULL,
    uncertainty REAL,
    opponent_id TEXT,
    games INTEGER NOT NULL DEFAULT 0,
    score REAL,
    match_id TEXT,
    recorded_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ratings_model ON ratings(model_id, seq);
"""

_LATEST = ("(SELECT rating FROM ratings r WHERE r.model_id = m.id ORDER BY seq DESC LIMIT 1)")


class ModelStatus(StrEnum):
    CANDIDATE = "candidate"
    ACTIVE = "active"
    DEPRECATED = "deprecated"


class ModelRegistry(SqliteFile):
    """Read and write the models and ratings tables."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.root = self.path.resolve().parent  # the data folder: model paths are relative to it
        self._conn = connect(self.path, SCHEMA, probe="SELECT count(*) FROM models")
        self._conn.row_factory = sqlite3.Row

    def _exec(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        try:
            with self._conn:
                return self._conn.execute(sql, params).fetchall()
        except sqlite3.DatabaseError as exc:
            raise guard(self.path, exc) from exc

    def _frame(self, sql: str, params: tuple[Any, ...] = ()) -> pd.DataFrame:
        try:
            cur = self._conn.execute(sql, params)
            rows = cur.fetchall()
        except sqlite3.DatabaseError as exc:
            raise guard(self.path, exc) from exc
        return pd.DataFrame([tuple(r) for r in rows], columns=[d[0] for d in cur.description])

    def register(self, board_type: str, num_players: int, *, path: str | None = None,
                 artifact_key: str | None = None, parent_id: str | None = None, iteration: int = 0,
                 metrics: dict[str, Any] | None = None, tier: str | None = None,
                 status: ModelStatus = ModelStatus.CANDIDATE, model_id: str | None = None) -> str:
        """Add a model; returns its id. The parent, if given, must already be registered."""
        if path is None and artifact_key is None:
            raise ValueError("a model needs a path or an artifact key")
        if parent_id is not None:
            self.get(parent_id)
        path = self._relative(path)
        model_id = model_id or f"{config_key(board_type, num_players)}-i{iteration}-{uuid.uuid4().hex[:8]}"
        self._exec("INSERT INTO models (id, config, board_type, num_players, path, artifact_key, parent_id, "
                   "iteration, metrics, status, tier, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                   (model_id, config_key(board_type, num_players), board_type, int(num_players), path,
                    artifact_key, parent_id, iteration, json.dumps(metrics or {}), ModelStatus(status).value,
                    tier, utc_now_iso()))
        return model_id

    def get(self, model_id: str) -> dict[str, Any]:
        rows = self._exec(f"SELECT m.*, {_LATEST} AS rating FROM models m WHERE id=?", (model_id,))
        if not rows:
            raise KeyError(f"no model {model_id!r} in {self.path}")
        out = dict(rows[0])
        out["metrics"] = json.loads(out["metrics"])
        out["path"] = self._absolute(out["path"])
        return out

    def _relative(self, path: str | None) -> str | None:
        """A path inside the data folder as stored: relative to it (posix); others unchanged."""
        if path is None:
            return None
        p = Path(path)
        full = (p if p.is_absolute() else Path.cwd() / p).resolve()
        try:
            return full.relative_to(self.root).as_posix()
        except ValueError:
            return str(full)

    def _absolute(self, stored: str | None) -> str | None:
        """The file a stored path names now: relative ones under the data folder; an absolute one
        from before relative paths, missing where it says, re-rooted at its `models/...` part."""
        if stored is None:
            return None
        p = Path(stored)
        if not p.is_absolute():
            return str(self.root / p)
        if not p.exists() and "models" in p.parts:
            cut = len(p.parts) - 1 - p.parts[::-1].index("models")
            moved = self.root.joinpath(*p.parts[cut:])
            if moved.exists():
                return str(moved)
        return stored

    def set_status(self, model_id: str, status: ModelStatus, reason: str | None = None) -> None:
        self.get(model_id)
        status = ModelStatus(status)
        if status is ModelStatus.DEPRECATED and not reason:
            raise ValueError("deprecating a model needs a reason")
        self._exec("UPDATE models SET status=?, status_reason=? WHERE id=?", (status.value, reason, model_id))

    def promote(self, model_id: str) -> None:
        self.set_status(model_id, ModelStatus.ACTIVE)

    def deprecate(self, model_id: str, reason: str) -> None:
        self.set_status(model_id, ModelStatus.DEPRECATED, reason)

    def set_tier(self, model_id: str, tier: str | None) -> None:
        """The ladder tier a model plays at (set by the pipeline's gate)."""
        self.get(model_id)
        self._exec("UPDATE models SET tier=? WHERE id=?", (tier, model_id))

    def update_metrics(self, model_id: str, **metrics: Any) -> None:
        merged = {**self.get(model_id)["metrics"], **metrics}
        self._exec("UPDATE models SET metrics=? WHERE id=?", (json.dumps(merged), model_id))

    def record_rating(self, model_id: str, rating: float, *, uncertainty: float | None = None,
                      opponent_id: str | None = None, games: int = 0, score: float | None = None,
                      match_id: str | None = None) -> None:
        """Append the model's rating after a match (history is kept, the newest counts)."""
        self.get(model_id)
        self._exec("INSERT INTO ratings (model_id, rating, uncertainty, opponent_id, games, score, match_id, "
                   "recorded_at) VALUES (?,?,?,?,?,?,?,?)",
                   (model_id, float(rating), uncertainty, opponent_id, games, score, match_id, utc_now_iso()))

    def best(self, board_type: str, num_players: int) -> dict[str, Any] | None:
        """The active model of a config with the highest current rating (newest if none is rated)."""
        rows = self._exec(f"SELECT id FROM models m WHERE config=? AND status='active' "
                          f"ORDER BY {_LATEST} IS NULL, {_LATEST} DESC, created_at DESC, rowid DESC LIMIT 1",
                          (config_key(board_type, num_players),))
        return self.get(rows[0]["id"]) if rows else None

    def lineage(self, model_id: str) -> list[dict[str, Any]]:
        """The model, its parent, grandparent, ... back to the first model."""
        chain, seen = [], set()
        current: str | None = model_id
        while current is not None and current not in seen:
            seen.add(current)
            model = self.get(current)
            chain.append(model)
            current = model["parent_id"]
        return chain

    def models_frame(self, board_type: str | None = None, num_players: int | None = None,
                     status: str | None = None) -> pd.DataFrame:
        """Models with their current rating, newest first, optionally filtered."""
        where, params = [], []
        if board_type is not None and num_players is not None:
            where.append("config=?")
            params.append(config_key(board_type, num_players))
        elif board_type is not None:
            where.append("board_type=?")
            params.append(board_type)
        if status is not None:
            where.append("status=?")
            params.append(ModelStatus(status).value)
        sql = (f"SELECT id, config, iteration, status, status_reason, tier, parent_id, {_LATEST} AS rating, "
               f"metrics, created_at FROM models m {'WHERE ' + ' AND '.join(where) if where else ''} "
               f"ORDER BY created_at DESC, rowid DESC")
        return self._frame(sql, tuple(params))

    def ratings_frame(self, model_id: str | None = None) -> pd.DataFrame:
        """Rating history, oldest first (one row per recorded match)."""
        sql = ("SELECT seq, model_id, rating, uncertainty, opponent_id, games, score, match_id, recorded_at "
               "FROM ratings" + (" WHERE model_id=?" if model_id else "") + " ORDER BY seq")
        return self._frame(sql, (model_id,) if model_id else ())
