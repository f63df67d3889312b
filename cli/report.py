"""`rift report`: plots of how the loop is doing for one board configuration, as PNGs and one HTML page.

Everything is read from the durable stores, so a report can be made on any machine
holding a copy of the data folder (or a restored backup): ratings with their
uncertainty over iterations and training losses from the model registry; games per
hour per source host, seat win rates and move-cap rate per iteration from the game
store (each game carries the iteration that played it). A plot whose data does
not exist yet (no rated model, no training) is listed as such, not drawn empty.
"""
from __future__ import annotations

import html
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from cli import output
from infra.data_config import DataConfig, config_key, load_data_config

console = output.console()


def game_frame(data: DataConfig, board: str, players: int) -> pd.DataFrame:
    """One row per game: created_at, host, winner, hit_cap, iteration."""
    from infra.gamestore import GameStore
    path = data.game_db_path(board, players)
    cols = ["created_at", "host", "winner", "hit_cap", "iteration"]
    if not path.exists():
        return pd.DataFrame(columns=cols)
    with GameStore(path, data.source_host, read_only=True) as store:
        rows = store.json_rows(["$.metadata.pipeline.iteration"])
    frame = pd.DataFrame(rows, columns=cols)
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True, format="ISO8601")
    return frame


def registry_frames(data: DataConfig, board: str, players: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(ratings joined with their model's iteration, models with their metrics) of the config."""
    if not data.registry_path.exists():
        return pd.DataFrame(), pd.DataFrame()
    from infra.registry import ModelRegistry
    with ModelRegistry(data.registry_path) as reg:
        models = reg.models_frame(board, players)
        ratings = reg.ratings_frame()
    if models.empty:
        return pd.DataFrame(), models
    ratings = ratings.merge(models[["id", "iteration"]], left_on="model_id", right_on="id")
    return ratings, models




def report_data(data: DataConfig, board: str, players: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(games, ratings, models) of one config: what every plot is drawn from."""
    ratings, models = registry_frames(data, board, players)
    return game_frame(data, board, players), ratings, models


def make_report(data: DataConfig, board: str, players: int, out: Path) -> dict[str, str]:
    """Write the PNGs and index.html into `out`; returns {plot: file or reason it is missing}."""
    from viewer.plots import TITLES, make_plots
    out.mkdir(parents=True, exist_ok=True)
    config = config_key(board, players)
    games, ratings, models = report_data(data, board, players)
    made: dict[str, str] = {}
    for name, result in make_plots(config, players, games, ratings, models).items():
        if isinstance(result, bytes):
            (out / f"{name}.png").write_bytes(result)
            made[name] = f"{name}.png"
        else:
            made[name] = result
    items = "".join(f"<h2>{html.escape(TITLES[k])}</h2>" + (f'<img src="{v}" alt="{k}">' if v.endswith(".png")
                                                           else f"<p>{html.escape(v)}</p>") for k, v in made.items())
    (out / "index.html").write_text(f"<!doctype html><title>{config}</title><h1>RingRift pipeline: {config}</h1>"
                                    f"<p>{len(games)} games, {len(models)} models.</p>{items}\n")
    return made


def report(
    board: Annotated[str, typer.Option("--board")] = "hex8",
    players: Annotated[int, typer.Option("--players", min=2, max=4)] = 2,
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="Data folder (default RIFT_DATA_DIR or ./data).")]
    = None,
    out: Annotated[Path | None, typer.Option(help="Output folder (default runs/report/<config>).")] = None,
) -> None:
    """Plots: learning curve (Elo with 95% CI), training losses, selfplay throughput, seat win rates, move-cap rate."""
    data = load_data_config(data_dir=data_dir)
    target = out or Path("runs") / "report" / config_key(board, players)
    made = make_report(data, board, players, target)
    for name, result in made.items():
        console.print(f"{name}: {target / result if result.endswith('.png') else result}")
    console.print(f"page: {target / 'index.html'}")


def register(app: typer.Typer) -> None:
    app.command("report")(report)
