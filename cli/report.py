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
import json
from pathlib import Path
from typing import Annotated, Any

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


def _plot(out: Path, name: str, title: str, draw: Any) -> str:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator
    fig, ax = plt.subplots(figsize=(7, 3.6))
    draw(ax)
    if ax.get_xlabel() == "iteration":
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / f"{name}.png", dpi=110)
    plt.close(fig)
    return f"{name}.png"


def make_report(data: DataConfig, board: str, players: int, out: Path) -> dict[str, str]:
    """Write the PNGs and index.html into `out`; returns {plot: file or reason it is missing}."""
    out.mkdir(parents=True, exist_ok=True)
    config = config_key(board, players)
    games = game_frame(data, board, players)
    ratings, models = registry_frames(data, board, players)
    made: dict[str, str] = {}

    if ratings.empty:
        made["ratings"] = "no rated models yet (evaluate phase)"
    else:
        def draw_ratings(ax: Any) -> None:
            last = ratings.sort_values("seq").groupby(["model_id", "iteration"], as_index=False).last()
            best = last.groupby("iteration")
            top = best.apply(lambda g: g.loc[g["rating"].idxmax()], include_groups=False).reset_index()
            band = top["uncertainty"].fillna(0) * 1.96
            ax.plot(top["iteration"], top["rating"], marker="o")
            ax.fill_between(top["iteration"], top["rating"] - band, top["rating"] + band, alpha=0.25)
            ax.set_xlabel("iteration")
            ax.set_ylabel("rating (95% band)")
        made["ratings"] = _plot(out, "ratings", f"{config}: best rating per iteration", draw_ratings)

    losses = pd.DataFrame([{"iteration": r["iteration"], **{k: v for k, v in json.loads(r["metrics"]).items()
                                                            if "loss" in k and isinstance(v, (int, float))}}
                           for _, r in models.iterrows()]) if not models.empty else pd.DataFrame()
    if losses.empty or len(losses.columns) < 2:
        made["losses"] = "no training metrics yet (train phase)"
    else:
        def draw_losses(ax: Any) -> None:
            for col in (c for c in losses.columns if c != "iteration"):
                series = losses.groupby("iteration")[col].mean()
                ax.plot(series.index, series.values, marker="o", label=col)
            ax.set_xlabel("iteration")
            ax.legend()
        made["losses"] = _plot(out, "losses", f"{config}: training losses", draw_losses)

    if games.empty:
        made["games_per_hour"] = made["seats"] = "no games yet"
    else:
        def draw_rate(ax: Any) -> None:
            per = games.groupby(["host", pd.Grouper(key="created_at", freq="1h")]).size()
            for host, series in per.groupby(level=0):
                ax.plot(series.index.get_level_values(1), series.values, marker="o", label=str(host))
            ax.set_ylabel("games per hour")
            ax.legend(fontsize=7)
        made["games_per_hour"] = _plot(out, "games_per_hour", f"{config}: games per hour per host", draw_rate)

        def draw_seats(ax: Any) -> None:
            tagged = games.dropna(subset=["iteration"])
            by = tagged.groupby("iteration")
            for seat in range(1, players + 1):
                rate = by["winner"].apply(lambda w, s=seat: float((w == s).mean()))
                ax.plot(rate.index, rate.values, marker="o", label=f"seat {seat} wins")
            cap = by["hit_cap"].mean()
            ax.plot(cap.index, cap.values, marker="x", linestyle="--", label="move-cap rate")
            ax.set_xlabel("iteration")
            ax.set_ylim(0, 1)
            ax.legend(fontsize=7)
        made["seats"] = _plot(out, "seats", f"{config}: seat win rates and move-cap rate", draw_seats)

    items = "".join(f"<h2>{html.escape(k)}</h2>" + (f'<img src="{v}">' if v.endswith(".png")
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
    """Plots of ratings, training losses, games per hour per host, seat win rates and move-cap rate."""
    data = load_data_config(data_dir=data_dir)
    target = out or Path("runs") / "report" / config_key(board, players)
    made = make_report(data, board, players, target)
    for name, result in made.items():
        console.print(f"{name}: {target / result if result.endswith('.png') else result}")
    console.print(f"page: {target / 'index.html'}")


def register(app: typer.Typer) -> None:
    app.command("report")(report)
