"""`rift games ingest` replays every game before storing it and reads past bad lines.

Real games from the engine (random players, square8), damaged the ways an unlucky user or
an attacker would: an illegal move mid-game, an unknown move type, a truncated move list,
a result the moves do not produce, an unreadable line. Stores are real SQLite files.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from engine.replay_check import first_problem
from engine.selfplay import play_games
from infra.data_config import DataConfig
from infra.gamestore import GameStore
from infra.ingest import ingest
from infra.records import content_hash


@pytest.fixture(scope="module")
def games() -> list[dict]:
    return list(play_games("square8", 2, 20, engine="random", seed=11))


def _stored_ids(cfg: DataConfig) -> set[str]:
    path = cfg.game_db_path("square8", 2)
    if not path.exists():
        return set()
    with GameStore(path, "reader", read_only=True) as s:
        return set(s.ids())


def illegal_mid_game(game: dict) -> tuple[dict, int]:
    """The game with its first stack movement made to land where it started (never legal)."""
    bad = copy.deepcopy(game)
    k = next(i for i, m in enumerate(bad["moves"]) if m["type"] == "move_stack")
    bad["moves"][k]["to"] = dict(bad["moves"][k]["from"])
    return bad, k + 1


def teleport(game: dict) -> tuple[dict, int]:
    bad = copy.deepcopy(game)
    bad["moves"][6]["type"] = "teleport"
    return bad, 7


def truncated(game: dict) -> dict:
    bad = copy.deepcopy(game)
    bad["moves"] = bad["moves"][: len(bad["moves"]) // 2]
    return bad


def test_engine_games_pass_the_replay_check(games):
    assert [first_problem(g) for g in games] == [None] * len(games)


@pytest.mark.parametrize("damage,needle", [
    (lambda g: illegal_mid_game(g)[0], "not legal"),
    (lambda g: teleport(g)[0], "unknown move type 'teleport'"),
    (truncated, "truncated: the moves stop after move"),
    (lambda g: {**g, "winner": 3 - g["winner"]}, "the record says winner"),
    (lambda g: {**g, "outcome": "territory_control"}, "the record says outcome"),
    (lambda g: {**g, "moves": [{**g["moves"][0], "to": {"x": "a", "y": 1}}] + g["moves"][1:]}, "'to'"),
])
def test_each_kind_of_damage_is_found_and_named(games, damage, needle):
    problem = first_problem(damage(games[0]))
    assert problem is not None and needle in str(problem)


def test_first_bad_move_is_the_one_named(games):
    bad, number = illegal_mid_game(games[1])
    problem = first_problem(bad)
    assert problem.move == number and str(problem).startswith(f"move {number} ")
    bad, number = teleport(games[1])
    assert first_problem(bad).move == number


def test_a_capped_game_still_going_is_accepted_and_unfinished_one_is_not():
    capped = next(play_games("square8", 2, 1, engine="random", seed=3, move_cap=30))
    assert capped["metadata"]["hitMoveCap"] and first_problem(capped) is None
    unfinished = {**capped, "outcome": None, "metadata": {**capped["metadata"], "hitMoveCap": False}}
    assert "no result" in str(first_problem(unfinished))


def _jsonl_with_damage(games: list[dict], folder: Path) -> tuple[Path, dict[int, tuple[str, str]]]:
    """21 lines: line 2 unreadable, 5 illegal, 8 teleport, 11 truncated, 14 a duplicate; the rest sound."""
    lines: list[str] = []
    expected: dict[int, tuple[str, str]] = {}
    it = iter(games)
    for n in range(1, 22):
        if n == 2:
            lines.append('{"id": "half-written", "boardType": "squ')
            expected[n] = ("", "line 2 is not valid JSON")
        elif n == 5:
            bad, k = illegal_mid_game(next(it))
            lines.append(json.dumps(bad))
            expected[n] = (bad["id"], f"move {k} ")
        elif n == 8:
            bad, k = teleport(next(it))
            lines.append(json.dumps(bad))
            expected[n] = (bad["id"], "move 7 ")
        elif n == 11:
            bad = truncated(next(it))
            lines.append(json.dumps(bad))
            expected[n] = (bad["id"], "truncated")
        elif n == 14:
            lines.append(json.dumps({**games[0], "id": "same-game-other-id"}))
        else:
            lines.append(json.dumps(next(it)))
    path = folder / "incoming.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path, expected


def test_ingest_stores_every_sound_game_and_lists_each_refused_one(games, tmp_path):
    cfg = DataConfig(data_dir=tmp_path / "data", source_host="here")
    path, expected = _jsonl_with_damage(games, tmp_path)
    report = ingest(cfg, path, check=first_problem)
    assert report.sources == 21
    assert (report.total.inserted, report.total.duplicates, len(report.refused)) == (16, 1, 4)
    by_line = {int(r.where.rsplit(":", 1)[1]): r for r in report.refused}
    assert set(by_line) == set(expected)
    for line, (game_id, needle) in expected.items():
        assert by_line[line].where == f"{path}:{line}"
        assert (by_line[line].game_id or "") == game_id and needle in by_line[line].why
    bad_ids = {gid for gid, _ in expected.values()}
    assert _stored_ids(cfg) == {g["id"] for g in games[:19]} - bad_ids  # lines 3..21 were all read
    again = ingest(cfg, path, check=first_problem)
    assert (again.total.inserted, again.total.already_present, len(again.refused)) == (0, 16, 4)


def test_cli_ingest_lists_refused_games_counts_them_and_exits_non_zero(games, tmp_path):
    cfg = DataConfig(data_dir=tmp_path / "data", source_host="here")
    path, expected = _jsonl_with_damage(games, tmp_path)
    result = CliRunner().invoke(app, ["games", "ingest", str(path), "--data-dir", str(cfg.data_dir)])
    assert result.exit_code == 1, result.output
    out = " ".join(result.output.split())  # rich may wrap long lines
    assert "21 records read: 16 stored, 1 duplicates refused, 0 already present, 4 refused" in out
    for line, (game_id, needle) in expected.items():
        assert f"refused {path}:{line}" in out and needle in out and game_id in out
    assert "4 of 21 records were refused" in out
    clean = tmp_path / "clean.jsonl"
    clean.write_text("".join(json.dumps(g) + "\n" for g in games[:3]))
    ok = CliRunner().invoke(app, ["games", "ingest", str(clean), "--data-dir", str(cfg.data_dir)])
    assert ok.exit_code == 0, ok.output


def test_games_from_another_database_are_replayed_too(games, tmp_path):
    other = tmp_path / "other" / "square8_2p.db"
    bad, k = illegal_mid_game(games[2])
    bad["id"] = "forged"
    with GameStore(other, "other") as s:
        s.insert([(content_hash(g), g) for g in (games[3], bad)])
    cfg = DataConfig(data_dir=tmp_path / "data", source_host="here")
    report = ingest(cfg, other, check=first_problem)
    assert report.total.inserted == 1 and [(r.where, r.game_id) for r in report.refused] == [(f"{other}:forged", "forged")]
    assert f"move {k} " in report.refused[0].why and _stored_ids(cfg) == {games[3]["id"]}


def test_unreadable_bytes_and_a_torn_last_line_do_not_stop_the_file(games, tmp_path):
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(json.dumps(games[0]).encode() + b"\n\xff\xfe garbage\n" + json.dumps(games[1]).encode()
                     + b"\n" + json.dumps(games[2]).encode()[:50])
    cfg = DataConfig(data_dir=tmp_path / "data", source_host="here")
    report = ingest(cfg, path, check=first_problem)
    assert report.total.inserted == 2
    assert [(r.where.rsplit(":", 1)[1], r.why.split(" (")[0]) for r in report.refused][0] == ("2", "line 2 is not UTF-8 text")
    assert "line 4 is not valid JSON" in report.refused[1].why and "write cut short" in report.refused[1].why
