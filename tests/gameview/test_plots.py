"""The pipeline's plots: axes that read well with one point and with hundreds, the learning curve's
data (promoted models, 95% intervals, hours), and PNGs that decode."""
from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from viewer.plots import integer_axis, learning_frame, make_plots, span_axis  # noqa: E402

T0 = pd.Timestamp("2026-12-07T10:00:00Z")


def frames(iterations: int, players: int = 2) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(games, ratings, models) of a run of `iterations` iterations, as cli/report.py reads them."""
    models, ratings, games = [], [], []
    for i in range(1, iterations + 1):
        made = T0 + pd.Timedelta(minutes=20 * i)
        status = "active" if i == iterations else "deprecated"
        reason = f"superseded by m{i + 1} (iteration {i + 1})" if i % 3 else "gate: worse vs m1"
        models.append({"id": f"m{i}", "iteration": i, "status": status, "status_reason": None if i == iterations
                       else reason, "created_at": made.isoformat(),
                       "metrics": json.dumps({"train_policy_loss": 2.0 / i, "train_value_loss": 0.5, "samples": 9})})
        ratings.append({"seq": i, "model_id": f"m{i}", "rating": 10.0 * i, "uncertainty": 40.0})
        for g in range(4):
            games.append({"created_at": made + pd.Timedelta(seconds=g), "host": f"h{g % 2}", "winner": g % players + 1,
                          "hit_cap": g == 0, "iteration": i})
    return pd.DataFrame(games), pd.DataFrame(ratings), pd.DataFrame(models)


@pytest.mark.parametrize("values,ticks", [([1], [1]), ([3, 3], [3]), (list(range(1, 301)), None)])
def test_iteration_axis_has_integer_ticks_for_one_point_and_hundreds(values: list[int], ticks: list[int] | None) -> None:
    fig, ax = plt.subplots()
    ax.plot(values, [1.0] * len(values), "o")
    integer_axis(ax, values, "iteration")
    lo, hi = ax.get_xlim()
    shown = [t for t in ax.get_xticks() if lo <= t <= hi]
    assert all(float(t).is_integer() for t in shown) and 1 <= len(shown) <= 12
    if ticks is not None:
        assert shown == ticks and (lo, hi) == (values[0] - 0.5, values[0] + 0.5)
    else:
        assert lo <= 1 and hi >= 300
    plt.close(fig)


def test_a_single_elo_value_gets_a_readable_window() -> None:
    fig, ax = plt.subplots()
    ax.plot([1], [12.0], "o")
    span_axis(ax, [12.0], [12.0], pad=50.0)
    lo, hi = ax.get_ylim()
    assert hi - lo >= 100 and lo < 12 < hi
    span_axis(ax, [-300.0, 0.0], [900.0, 0.0], pad=50.0)  # a wide range is kept whole
    lo, hi = ax.get_ylim()
    assert lo <= -300 and hi >= 900
    plt.close(fig)


def test_learning_frame_marks_promoted_models_and_hours() -> None:
    games, ratings, models = frames(4)
    points = learning_frame(ratings, models, games["created_at"].min())
    assert list(points["iteration"]) == [1, 2, 3, 4]
    # m3 was refused by its gate; the others were promoted (m4 is the active best)
    assert list(points["promoted"]) == [True, True, False, True]
    assert list(points["ci95"]) == [40.0] * 4  # the registry's uncertainty is already the 95% half-width
    assert points["hours"].tolist() == pytest.approx([0.0, 1 / 3, 2 / 3, 1.0])


@pytest.mark.parametrize("iterations", [1, 200])
def test_every_plot_draws_from_one_iteration_to_hundreds(iterations: int, screenshots: Path) -> None:
    games, ratings, models = frames(iterations)
    made = make_plots("hex8_2p", 2, games, ratings, models)
    assert list(made) == ["learning_curve", "losses", "throughput", "seats"]
    for name, png in made.items():
        assert isinstance(png, bytes) and png.startswith(b"\x89PNG"), (name, png)
        (screenshots / f"plot-{iterations}-{name}.png").write_bytes(png)
        img = plt.imread(screenshots / f"plot-{iterations}-{name}.png")
        assert img.shape[1] >= 700 and img.std() > 0.05  # a drawn picture, not a blank canvas


def test_missing_data_is_named_not_drawn() -> None:
    empty = make_plots("hex8_2p", 2, pd.DataFrame(), pd.DataFrame(), pd.DataFrame())
    assert empty == {"learning_curve": "no rated models yet (evaluate phase)",
                     "losses": "no training metrics yet (train phase)", "throughput": "no games yet",
                     "seats": "no games tagged with an iteration yet"}
