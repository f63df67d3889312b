"""Selfplay: deterministic per seed, records replay through the rules, the CLI writes both files."""
from __future__ import annotations

import json

from typer.testing import CliRunner

from cli.main import app
from engine.records import iter_records, record_outcome, replay
from engine.selfplay import play_games

VOLATILE = ("startedAt", "endedAt", "totalDurationMs", "metadata")


def _stable(rec: dict) -> dict:
    return {k: v for k, v in rec.items() if k not in VOLATILE}


def test_same_seed_same_games_and_records_replay():
    a = [_stable(r) for r in play_games("hex8", 3, 3, seed=11)]
    b = [_stable(r) for r in play_games("hex8", 3, 3, seed=11)]
    c = [_stable(r) for r in play_games("hex8", 3, 3, seed=12)]
    assert a == b
    assert a != c
    for rec in a:
        end = replay(rec)
        assert end.to_json() == rec["finalState"]
        assert end.winner == rec["winner"] and record_outcome(end) == rec["outcome"]


def test_move_cap_ends_the_game_and_is_recorded():
    (rec,) = play_games("square19", 2, 1, seed=3, move_cap=40)
    assert rec["totalMoves"] == 40 and rec["winner"] is None
    assert rec["outcome"] == "move_cap" and rec["metadata"]["hitMoveCap"]


def test_cli_writes_records_and_summary(tmp_path):
    out = tmp_path / "sp"
    result = CliRunner().invoke(app, [
        "selfplay", "--board", "square8", "--players", "2", "--games", "4", "--seed", "5",
        "--out", str(out), "--move-cap", "60",
    ])
    assert result.exit_code == 0, result.output
    records = list(iter_records(out / "games.jsonl"))
    summary = json.loads((out / "summary.json").read_text())
    assert len(records) == summary["games"] == 4
    assert summary["moves"] == sum(r["totalMoves"] for r in records)
    assert summary["hitMoveCap"] == sum(r["metadata"]["hitMoveCap"] for r in records)
    assert 0 <= summary["moveCapRate"] <= 1
    assert sum(summary["winsPerSeat"].values()) + summary["draws"] == 4
    assert "hit move cap" in result.output


def test_cli_rejects_unknown_board(tmp_path):
    result = CliRunner().invoke(app, ["selfplay", "--board", "octagon", "--out", str(tmp_path)])
    assert result.exit_code != 0
    assert "octagon" in result.output


def test_cli_store_option_puts_games_in_the_game_store(tmp_path):
    from infra.data_config import load_data_config
    from infra.gamestore import GameStore

    data = tmp_path / "data"
    args = ["selfplay", "--board", "hex8", "--players", "2", "--games", "3", "--seed", "2",
            "--out", str(tmp_path / "sp"), "--store", "--data-dir", str(data)]
    assert CliRunner().invoke(app, args).exit_code == 0
    # The same seed again: identical games are refused as duplicates, never stored twice.
    assert CliRunner().invoke(app, args).exit_code == 0
    cfg = load_data_config(None, data_dir=data)
    store = GameStore(cfg.game_db_path("hex8", 2), cfg.source_host)
    try:
        assert store.count() == 3
    finally:
        store.close()
