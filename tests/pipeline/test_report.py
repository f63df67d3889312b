"""`rift report`: plots from the stores; missing data is named, not drawn empty."""
from __future__ import annotations

from typer.testing import CliRunner

from cli.main import app
from cli.report import make_report
from infra.registry import ModelRegistry
from tasks.selfplay import play_and_store


def test_report_from_games_and_registry(make_ctx, tmp_path):
    data_dir = tmp_path / "data"
    for i in (1, 2):
        play_and_store(make_ctx(data_dir=data_dir, iteration=i))
    ctx = make_ctx(data_dir=data_dir)
    empty = make_report(ctx.data(), "hex8", 2, tmp_path / "r0")
    assert empty["learning_curve"].startswith("no rated models") and empty["losses"].startswith("no training")
    assert empty["seats"] == "seats.png" and (tmp_path / "r0" / "throughput.png").stat().st_size > 1000
    with ModelRegistry(data_dir / "registry.db") as reg:
        for i in (1, 2):
            mid = reg.register("hex8", 2, path=f"m{i}.pt", iteration=i, metrics={"value_loss": 1.0 / i})
            reg.record_rating(mid, 1500 + 40 * i, uncertainty=30)
    made = make_report(ctx.data(), "hex8", 2, tmp_path / "r1")
    assert made["learning_curve"] == "learning_curve.png" and made["losses"] == "losses.png"
    page = (tmp_path / "r1" / "index.html").read_text()
    assert page.count("<img") == 4 and "12 games, 2 models" in page
    result = CliRunner().invoke(app, ["report", "--board", "hex8", "--players", "2", "--data-dir", str(data_dir),
                                      "--out", str(tmp_path / "r2")])
    assert result.exit_code == 0 and (tmp_path / "r2" / "index.html").exists()
