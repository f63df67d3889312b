"""What is in the game stores, as tables: per config, per engine, per source host.

Answers the questions that would have caught the lost-games incidents early:
how many games each configuration really has, where they came from, how many
duplicates were refused, how often games hit the move cap, and whether seat
order is skewing results.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from infra.data_config import DataConfig
from infra.errors import CorruptDataError
from infra.gamestore import GameStore


@dataclass
class GameStats:
    configs: pd.DataFrame
    engines: pd.DataFrame
    hosts: pd.DataFrame
    errors: list[CorruptDataError] = field(default_factory=list)


def _load(db: Path) -> tuple[pd.DataFrame, int]:
    with GameStore(db, source_host="", read_only=True) as store:
        rows = store.summary_rows()
        duplicates = store.counter("duplicates_refused")
    frame = pd.DataFrame(rows, columns=["id", "engines", "winner", "length", "hit_cap", "source_host", "outcome"])
    frame.insert(0, "config", db.stem)
    return frame, duplicates


def game_stats(cfg: DataConfig) -> GameStats:
    """Read every `<config>.db` under the games folder; damaged ones are reported, not fatal."""
    frames, dupes, errors = [], {}, []
    for db in sorted(cfg.games_dir.glob("*.db")):
        try:
            frame, dupes[db.stem] = _load(db)
        except CorruptDataError as exc:
            errors.append(exc)
            continue
        frames.append(frame)
    games = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["config", "id", "engines", "winner", "length", "hit_cap", "source_host", "outcome"])
    return GameStats(_per_config(games, dupes), _per_engine(games), _per_host(games), errors)


def _per_config(games: pd.DataFrame, dupes: dict[str, int]) -> pd.DataFrame:
    rows = []
    for config, g in games.groupby("config", sort=True):
        row = {"config": config, "games": len(g), "dup_refused": dupes.get(config, 0),
               "cap_rate": float(g["hit_cap"].mean()), "mean_len": float(g["length"].mean())}
        players = int(str(config).split("_")[-1].rstrip("p"))
        for seat in range(1, players + 1):
            row[f"p{seat}_win"] = float((g["winner"] == seat).mean())
        row["no_winner"] = float(g["winner"].isna().mean())
        rows.append(row)
    for config, n in dupes.items():  # a store whose every game was refused still has a count
        if config not in set(games["config"]):
            rows.append({"config": config, "games": 0, "dup_refused": n})
    return pd.DataFrame(rows)


def _per_engine(games: pd.DataFrame) -> pd.DataFrame:
    if games.empty:
        return pd.DataFrame(columns=["engine", "seats_played", "wins", "win_rate"])
    seats = games.assign(engine=games["engines"].map(json.loads)).explode("engine")
    seats["seat"] = seats.groupby(level=0).cumcount() + 1
    seats["won"] = seats["winner"] == seats["seat"]
    table = seats.groupby("engine").agg(seats_played=("won", "size"), wins=("won", "sum")).reset_index()
    table["win_rate"] = table["wins"] / table["seats_played"]
    return table.sort_values("seats_played", ascending=False, ignore_index=True)


def _per_host(games: pd.DataFrame) -> pd.DataFrame:
    if games.empty:
        return pd.DataFrame(columns=["source_host", "games", "configs"])
    table = games.groupby("source_host").agg(games=("id", "size"), configs=("config", "nunique")).reset_index()
    return table.sort_values("games", ascending=False, ignore_index=True)
