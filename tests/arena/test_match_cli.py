"""`rift match` prints its tables and verdict and exits 0; bad requests exit non-zero."""
from __future__ import annotations

import pytest
from typer.testing import CliRunner

import engine.arena
from cli.main import app

from .tiny import tiny_factory


@pytest.fixture(autouse=True)
def tiny_players(monkeypatch):
    """The CLI builds players through make_player: let it know the tiny test players too
    (forked workers inherit the patch)."""
    monkeypatch.setattr(engine.arena, "make_player", tiny_factory)


def test_two_player_match_prints_score_ci_elo_seats_and_sprt():
    out = CliRunner().invoke(app, ["match", "--a", "greedy", "--b", "random", "--games", "10",
                                   "--workers", "2", "--seed", "1", "--sprt", "0,100"])
    assert out.exit_code == 0, out.output
    for text in ("match square8 2p", "greedy", "random", "wins", "draws", "score 95% CI",
                 "Elo vs other", "Elo 95% CI", "seat 2 games", "seat win rates", "SPRT greedy vs random"):
        assert text in out.output, text


def test_four_player_match_rates_with_openskill():
    out = CliRunner().invoke(app, ["match", "--board", "hex8", "--players", "4", "--a", "greedy",
                                   "--b", "random", "--c", "first", "--d", "random", "--games", "4"])
    assert out.exit_code == 0, out.output
    assert "openskill μ±σ" in out.output and "random (d)" in out.output and "seat 4 games" in out.output


@pytest.mark.parametrize("args, message", [
    (["--a", "random", "--b", "nonsense"], "unknown engine"),
    (["--players", "3", "--a", "random", "--b", "random"], "needs exactly 3"),
    (["--a", "random", "--b", "random", "--sprt", "70,0"], "elo1 > elo0"),
    (["--board", "square9", "--a", "random", "--b", "random"], "unknown board"),
])
def test_bad_requests_exit_nonzero_with_a_reason(args, message):
    out = CliRunner().invoke(app, ["match", "--games", "2", *args])
    assert out.exit_code != 0 and message in out.output, out.output

