"""The pipeline's plots as PNG bytes: learning curve, training losses, selfplay throughput, seat win
rates and move-cap rate. `rift report` writes them to files; the iteration flow publishes them as
Prefect artifacts (viewer.publish), so both show the same pictures.

Inputs are the frames cli/report.py reads from the stores. Axes are chosen for the data's size:
with one iteration the x axis is that one integer with half an iteration either side, rates run
0..1, losses and games per hour start at 0, and an Elo value with no spread gets a ±50 Elo window
(never matplotlib's default ±5 % around a single point); hundreds of points get smaller markers.
"""
from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import pandas as pd

PROMOTED_REASON = "superseded by"  # tasks/gate.py: a promoted model later replaced by a better one
ELO_PAD = 50.0
TITLES = {"learning_curve": "Learning curve", "losses": "Training losses", "throughput": "Selfplay throughput",
          "seats": "Seat win rates and move-cap rate"}


def _figure(draw: Callable[[Any], None], title: str, panels: int = 1) -> bytes:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, panels, figsize=(11.5 if panels > 1 else 7.5, 4.2 if panels > 1 else 3.8),
                             squeeze=False)
    draw(axes[0] if panels > 1 else axes[0][0])
    fig.suptitle(title, fontsize=11)
    for ax in axes[0]:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def marker_size(n: int) -> float:
    return 6.0 if n <= 30 else 3.0 if n <= 150 else 1.5


def integer_axis(ax: Any, values: Any, label: str) -> None:
    """An iteration axis: integer ticks; one value gets half an iteration either side."""
    from matplotlib.ticker import FixedLocator, MaxNLocator
    vals = [int(v) for v in values]
    lo, hi = (min(vals), max(vals)) if vals else (0, 1)
    if hi - lo < 8:  # a few iterations: one tick each (MaxNLocator falls back to fractions below two ticks)
        ax.set_xlim(lo - 0.5, hi + 0.5)
        ax.xaxis.set_major_locator(FixedLocator(list(range(lo, hi + 1))))
    else:
        ax.set_xlim(lo - (hi - lo) * 0.03, hi + (hi - lo) * 0.03)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=10))
    ax.set_xlabel(label)


def span_axis(ax: Any, lows: list[float], highs: list[float], pad: float, floor: float | None = None) -> None:
    """y limits that cover the data (with error bars) and are never narrower than 2 * pad."""
    if not lows:
        return
    lo, hi = min(lows), max(highs)
    mid, half = (lo + hi) / 2, max((hi - lo) / 2 * 1.1, pad)
    bottom = mid - half if floor is None else max(floor, mid - half)
    ax.set_ylim(bottom, max(mid + half, bottom + 2 * pad))


def promoted(models: pd.DataFrame) -> pd.Series:
    reason = models["status_reason"].fillna("") if "status_reason" in models else pd.Series("", index=models.index)
    return (models["status"] == "active") | reason.str.startswith(PROMOTED_REASON)


def learning_frame(ratings: pd.DataFrame, models: pd.DataFrame, start: pd.Timestamp | None = None) -> pd.DataFrame:
    """One row per rated model: iteration, hours (since `start`, else the first model), latest Elo and
    its 95% half-width (the registry's `uncertainty`), promoted or not."""
    if ratings.empty or models.empty:
        return pd.DataFrame(columns=["model", "iteration", "hours", "elo", "ci95", "promoted"])
    last = ratings.sort_values("seq").groupby("model_id", as_index=False)[["rating", "uncertainty"]].last()
    frame = last.merge(models.assign(promoted=promoted(models))[["id", "iteration", "created_at", "promoted"]],
                       left_on="model_id", right_on="id")
    made = pd.to_datetime(frame["created_at"], utc=True, format="ISO8601")
    origin = start if start is not None else pd.to_datetime(models["created_at"], utc=True, format="ISO8601").min()
    return pd.DataFrame({"model": frame["model_id"], "iteration": frame["iteration"].astype(int),
                         "hours": (made - origin).dt.total_seconds() / 3600.0, "elo": frame["rating"].astype(float),
                         "ci95": frame["uncertainty"].fillna(0.0).astype(float),
                         "promoted": frame["promoted"].astype(bool)}).sort_values("iteration")


def plot_learning_curve(points: pd.DataFrame, config: str, anchor: str = "the first baseline") -> bytes:
    """Elo of each promoted model with its 95% interval, against iterations and wall-clock hours; other
    rated models (candidates the gate refused) as grey points. Elo 0 is the fixed anchor."""
    def draw(axes: Any) -> None:
        for ax, x, label in ((axes[0], "iteration", "iteration"), (axes[1], "hours", "wall-clock hours since start")):
            ms = marker_size(len(points))
            rest, best = points[~points["promoted"]], points[points["promoted"]]
            if not rest.empty:
                ax.errorbar(rest[x], rest["elo"], yerr=rest["ci95"], fmt="o", color="0.6", ms=ms * 0.8,
                            capsize=2, label="rated, not promoted")
            if not best.empty:
                ax.errorbar(best[x], best["elo"], yerr=best["ci95"], fmt="-o", color="C0", ms=ms, capsize=3,
                            label="promoted model (95% CI)")
            ax.axhline(0, color="C3", lw=1, ls="--", label=f"anchor: {anchor} = 0 Elo")
            ys = list(points["elo"]) + [0.0]
            span_axis(ax, [e - c for e, c in zip(points["elo"], points["ci95"])] + [0.0],
                      [e + c for e, c in zip(points["elo"], points["ci95"])] + ys, ELO_PAD)
            if x == "iteration":
                integer_axis(ax, points[x], label)
            else:
                lo, hi = float(points[x].min()), float(points[x].max())
                pad = max((hi - lo) * 0.05, 0.25)
                ax.set_xlim(min(0.0, lo) - pad * 0.2, hi + pad)  # the run starts at 0 hours
                ax.set_xlabel(label)
            ax.set_ylabel("Elo vs anchor")
            ax.legend(fontsize=7, loc="best")
    return _figure(draw, f"{config}: learning curve (Elo with 95% CI)", panels=2)


def loss_frame(models: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for _, r in models.iterrows():
        metrics = json.loads(r["metrics"]) if isinstance(r["metrics"], str) else (r["metrics"] or {})
        losses = {k: float(v) for k, v in metrics.items() if "loss" in k and isinstance(v, (int, float))}
        if losses:
            rows.append({"iteration": int(r["iteration"]), **losses})
    return pd.DataFrame(rows)


def plot_losses(losses: pd.DataFrame, config: str) -> bytes:
    def draw(ax: Any) -> None:
        cols = [c for c in losses.columns if c != "iteration"]
        means = losses.groupby("iteration")[cols].mean()
        for col in cols:
            series = means[col].dropna()
            ax.plot(series.index, series.values, marker="o", ms=marker_size(len(series)), label=col)
        integer_axis(ax, means.index, "iteration")
        top = float(means.max().max())
        ax.set_ylim(0, top * 1.15 if top > 0 else 1.0)
        ax.set_ylabel("loss")
        ax.legend(fontsize=7)
    return _figure(draw, f"{config}: training losses")


def plot_throughput(games: pd.DataFrame, config: str) -> bytes:
    """Selfplay games per hour per host (each pool's worker stamps its host on the games it plays)."""
    def draw(ax: Any) -> None:
        from matplotlib.ticker import MaxNLocator
        start = games["created_at"].min().floor("h")
        per = games.groupby(["host", pd.Grouper(key="created_at", freq="1h")]).size()
        top, every = 1, []
        for host, series in per.groupby(level=0):
            hours = [int((t - start).total_seconds() // 3600) for t in series.index.get_level_values(1)]
            ax.plot(hours, series.values, marker="o", ms=marker_size(len(hours)), label=str(host))
            top, every = max(top, int(series.max())), every + hours
        integer_axis(ax, every, f"clock hour since {start:%Y-%m-%d %H:00} UTC")
        ax.set_ylim(0, top * 1.15 + 1)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("games stored in the hour")
        ax.legend(fontsize=7, title="host", title_fontsize=7)
    return _figure(draw, f"{config}: selfplay throughput")


def plot_seats(games: pd.DataFrame, config: str, players: int) -> bytes:
    def draw(ax: Any) -> None:
        tagged = games.dropna(subset=["iteration"]).astype({"iteration": int})
        by = tagged.groupby("iteration")
        for seat in range(1, players + 1):
            rate = by["winner"].apply(lambda w, s=seat: float((w == s).mean()))
            ax.plot(rate.index, rate.values, marker="o", ms=marker_size(len(rate)), label=f"seat {seat} wins")
        cap = by["hit_cap"].mean()
        ax.plot(cap.index, cap.values, marker="x", ms=marker_size(len(cap)), ls="--", color="k",
                label="move-cap rate")
        ax.axhline(1 / players, color="0.5", lw=0.8, ls=":", label=f"even ({1 / players:.0%})")
        integer_axis(ax, cap.index, "iteration")
        ax.set_ylim(0, 1)
        ax.set_ylabel("share of the iteration's games")
        ax.legend(fontsize=7, ncol=2)
    return _figure(draw, f"{config}: seat win rates and move-cap rate")


def make_plots(config: str, players: int, games: pd.DataFrame, ratings: pd.DataFrame,
               models: pd.DataFrame) -> dict[str, bytes | str]:
    """{name: PNG bytes, or the reason the plot has no data yet}, in display order."""
    made: dict[str, bytes | str] = {}
    start = games["created_at"].min() if not games.empty else None
    points = learning_frame(ratings, models, start)
    made["learning_curve"] = (plot_learning_curve(points, config) if not points.empty
                              else "no rated models yet (evaluate phase)")
    losses = loss_frame(models) if not models.empty else pd.DataFrame()
    made["losses"] = plot_losses(losses, config) if len(losses.columns) > 1 else "no training metrics yet (train phase)"
    made["throughput"] = plot_throughput(games, config) if not games.empty else "no games yet"
    tagged = games.dropna(subset=["iteration"]) if not games.empty else games
    made["seats"] = plot_seats(games, config, players) if not tagged.empty else "no games tagged with an iteration yet"
    return made
