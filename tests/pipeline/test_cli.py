"""`rift iterate`: the plan (dry run), a tiny iteration, the plan again showing what is cached."""
from __future__ import annotations

from typer.testing import CliRunner

from cli.main import app

runner = CliRunner()


def rift(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_dry_run_then_run_then_cached_plan(prefect_api, tmp_path):
    data = str(tmp_path / "data")
    common = ("--board", "hex8", "--players", "2", "--profile", "tiny", "--data-dir", data)
    plan = rift("iterate", *common, "--dry-run")
    assert "iteration 1 of hex8_2p (profile tiny)" in plan
    assert "train: not in this build" in plan and not (tmp_path / "data" / "games").exists()
    out = rift("iterate", *common)
    assert "iteration 1 of hex8_2p" in out and "Completed" in out and "rift games stats" in out
    again = rift("iterate", *common, "--dry-run", "--iteration", "1")
    rows = {line.split("│")[1].strip(): line for line in again.splitlines() if line.count("│") > 3}
    assert "yes: skipped" in rows["selfplay"] and "yes: skipped" in rows["monitor"]
    assert "iteration 2 of hex8_2p" in rift("iterate", *common, "--dry-run")


def test_errors_are_one_line_and_exit_2(tmp_path):
    result = runner.invoke(app, ["iterate", "--profile", "huge", "--data-dir", str(tmp_path), "--dry-run"])
    assert result.exit_code == 2 and "no profile 'huge'" in result.output
    result = runner.invoke(app, ["iterate", "--phase", "dance", "--profile", "tiny", "--dry-run"])
    assert result.exit_code == 2 and "unknown phase(s) dance" in result.output


def test_a_mix_with_engines_missing_from_the_build_is_refused_before_running(tmp_path, monkeypatch):
    monkeypatch.setattr("tasks.selfplay.make_player", _no_such_engine)
    result = runner.invoke(app, ["iterate", "--profile", "tiny", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2 and "engine 'random' of mix 'random-only' is not available" in result.output
    assert not (tmp_path / "games").exists()


def _no_such_engine(engine: str, seed: int | None = None):
    raise ValueError(f"unknown engine {engine!r}")
