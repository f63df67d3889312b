"""`rift games stats` and `rift games ingest` on real stores."""
from __future__ import annotations

from typer.testing import CliRunner

from cli.main import app
from engine.selfplay import play_games
from infra.data_config import DataConfig
from infra.game_stats import game_stats
from infra.gamewriter import GameWriter
from infra.synthetic import synthetic_game


def test_stats_tables_count_configs_engines_hosts_duplicates_and_seat_wins(cfg):
    games = []
    for i in range(40):
        g = synthetic_game(i, source_host="gpu-1" if i < 30 else "gpu-2")
        g["metadata"].update(engines=["mcts:D7", "heuristic:D3"], hitMoveCap=i % 10 == 0)
        g["winner"] = None if i % 10 == 0 else (1 if i % 4 else 2)
        games.append(g)
    with GameWriter(cfg, "square8", 2) as w:
        w.append_many(games)
        w.append({**games[5], "id": "dup-of-5"})
    with GameWriter(cfg, "hex8", 3) as w:
        w.append(synthetic_game(1, board_type="hex8", num_players=3))
    stats = game_stats(cfg)
    sq = stats.configs.set_index("config").loc["square8_2p"]
    assert sq["games"] == 40 and sq["dup_refused"] == 1 and sq["cap_rate"] == 0.1
    p1 = sum(1 for i in range(40) if i % 10 and i % 4) / 40
    assert sq["p1_win"] == p1 and abs(sq["p2_win"] - (0.9 - p1)) < 1e-9 and sq["no_winner"] == 0.1
    mcts = stats.engines.set_index("engine").loc["mcts:D7"]
    assert mcts["seats_played"] == 40 and mcts["wins"] == round(p1 * 40)
    assert stats.hosts.set_index("source_host")["games"].to_dict() == {"gpu-1": 30, "gpu-2": 10, "test-host": 1}
    out = CliRunner().invoke(app, ["games", "stats", "--data-dir", str(cfg.data_dir)])
    assert out.exit_code == 0
    for text in ("square8_2p", "hex8_3p", "mcts:D7", "gpu-2", "per source host"):
        assert text in out.output


def test_ingest_command_is_idempotent(cfg, tmp_path):
    other = DataConfig(data_dir=tmp_path / "other-host", source_host="other")
    with GameWriter(other, "square8", 3) as w:  # real games: the command replays each one
        w.append_many(list(play_games("square8", 3, 12, engine="random", seed=4)))
    runner = CliRunner()
    args = ["games", "ingest", str(other.game_db_path("square8", 3)), "--data-dir", str(cfg.data_dir)]
    first = runner.invoke(app, args)
    assert first.exit_code == 0 and "12 records read" in first.output
    assert "│ square8_3p │  12 │" in first.output
    second = runner.invoke(app, args)
    assert "│ square8_3p │   0 │              12 │" in second.output
    assert game_stats(cfg).configs.set_index("config").loc["square8_3p", "games"] == 12
