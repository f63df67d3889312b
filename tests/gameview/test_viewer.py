"""The game viewer without a browser: replay frames, SVG drawing, the page's data and `rift show`."""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from engine.state import GameState
from infra.gamestore import GameStore
from infra.records import content_hash
from viewer.frames import contents, replay_frames
from viewer.page import game_page
from viewer.svg import CELL, PLAYER_COLOURS, content_svg, layout, position_svg

from .games import game

BOARDS = [("square8", 4), ("square19", 2), ("hex8", 3), ("hexagonal", 2)]


def page_data(page: str) -> dict:
    blob = re.search(r'<script type="application/json" id="game-data">(.*?)</script>', page, re.S).group(1)
    return json.loads(blob.replace("<\\/", "</"))


@pytest.mark.parametrize("board,players", BOARDS)
def test_replay_reaches_the_recorded_final_state(board: str, players: int) -> None:
    record = game(board, players)
    rep = replay_frames(record)
    assert rep.error is None
    assert len(rep.diffs) == len(record["moves"]) == len(rep.moves) == len(rep.status) - 1
    final = GameState.from_json(record["finalState"])
    assert rep.frame(len(rep.diffs)) == contents(final)
    assert rep.frame(0) == [""] * final.geo.num_cells
    # the game has every kind of content the page must draw
    kinds = {v[0] for v in contents(final) if v}
    assert "s" in kinds and "m" in kinds | {v[0] for d in rep.diffs for _, v in d if v}
    # status rows: who is to play and every seat's counters (hand, eliminated, territory, on board)
    assert rep.status[0][0] == 1 and len(rep.status[-1][2]) == players
    assert [row[2] for row in rep.status[-1][2]] == [final.territory[p] for p in range(1, players + 1)]


@pytest.mark.parametrize("board,cells", [("square8", 64), ("square19", 361), ("hex8", 61), ("hexagonal", 469)])
def test_layout_places_every_cell_once_and_neighbours_at_one_step(board: str, cells: int) -> None:
    lay = layout(board)
    assert len(lay.centres) == len(set(lay.centres)) == cells
    assert all(0 < x < lay.width and 0 < y < lay.height for x, y in lay.centres)
    from engine.geometry import geometry
    geo = geometry(board)
    step = CELL * math.sqrt(3) if geo.is_hex else CELL
    for c in (0, cells // 2):
        for n in geo.terr_adj[c]:  # orthogonal / hex neighbours sit one cell apart, no overlap
            (x1, y1), (x2, y2) = lay.centres[c], lay.centres[n]
            assert math.hypot(x2 - x1, y2 - y1) == pytest.approx(step, abs=0.2)


def test_content_drawings() -> None:
    stack = content_svg("s1142", False)
    fills = re.findall(r'class="ring p(\d)"[^>]*fill="([^"]+)"', stack)
    assert fills == [("1", PLAYER_COLOURS[1]), ("1", PLAYER_COLOURS[1]), ("4", PLAYER_COLOURS[4]),
                     ("2", PLAYER_COLOURS[2])]  # bottom first, so the controller is drawn last, on top
    assert ">4</text>" in stack
    assert "<text" not in content_svg("s3", True)  # a single ring needs no height label
    assert 'class="marker p3"' in content_svg("m3", False) and PLAYER_COLOURS[3] in content_svg("m3", False)
    assert 'class="collapsed p2"' in content_svg("c2", True) and "url(#hatch)" in content_svg("c2", True)
    assert content_svg("", False) == ""
    with pytest.raises(ValueError, match="unknown cell content"):
        content_svg("x1", False)


def test_page_holds_a_self_contained_replay() -> None:
    record = game("square8", 4)
    record["id"] = "odd</script><b>id"
    page = game_page(record)
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "") and "src=" not in page
    assert "<b>id" not in page and "odd&lt;/script&gt;" in page
    data = page_data(page)
    rep = replay_frames(record)
    assert len(data["diffs"]) == len(record["moves"]) == page.count('<li id="m')
    # rebuilding the last frame from the page's data gives the replayed final position
    cells = [data["snippets"][i] for i in data["initial"]]
    for diff in data["diffs"]:
        for c, v in diff:
            cells[c] = data["snippets"][v]
    assert cells == [content_svg(v, False) for v in rep.frame(len(rep.diffs))]
    assert page.count('class="cell"') == 64


def test_an_illegal_move_stops_the_replay_and_says_where() -> None:
    record = game("hex8", 2)
    record["moves"] = record["moves"][:6] + [dict(record["moves"][6], player=9)] + record["moves"][7:]
    rep = replay_frames(record)
    assert len(rep.diffs) == 6 and rep.error.startswith("move 7 (")
    page = game_page(record)
    assert 'id="replay-error"' in page and "move 7" in page


def test_position_svg_is_a_standalone_picture() -> None:
    rep = replay_frames(game("hex8", 3))
    svg = position_svg("hex8", rep.frame(len(rep.diffs)), width=300)
    assert svg.startswith("<svg") and "<style>" in svg and 'width="300"' in svg and "<script" not in svg
    final = rep.frame(len(rep.diffs))
    assert svg.count('<use href="#t" x=') == 61 + sum(v.startswith("c") for v in final)
    stacks = [v for v in final if v.startswith("s")]
    assert svg.count("<circle") == len(stacks) + sum(v.startswith("m") for v in final)
    for v in stacks:  # each stack is a disc of its controller's (top ring's) colour
        assert f'fill="{PLAYER_COLOURS[int(v[-1])]}" stroke="#222"' in svg


def test_rift_show_writes_pages_from_files_and_stores(tmp_path: Path) -> None:
    runner = CliRunner()
    games = [game("square8", 4), game("hexagonal", 2, move_cap=150)]
    path = tmp_path / "games.json"
    path.write_text(json.dumps({"games": games}))
    out = tmp_path / "a.html"
    res = runner.invoke(app, ["show", str(path), "--game", games[1]["id"], "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert 'data-board="hexagonal"' in out.read_text() and 'data-players="2"' in out.read_text()
    res = runner.invoke(app, ["show", str(path), "--index", "5", "-o", str(out)])
    assert res.exit_code == 1 and "out of range (it holds 2 records)" in res.output
    # a game id found in the data folder's game store
    data = tmp_path / "data"
    (data / "games").mkdir(parents=True)
    with GameStore(data / "games" / "square8_4p.db", "here") as store:
        store.insert([(content_hash(games[0]), games[0])])
    out2 = tmp_path / "b.html"
    res = runner.invoke(app, ["show", games[0]["id"], "--data-dir", str(data), "-o", str(out2), "--end"])
    assert res.exit_code == 0, res.output
    assert page_data(out2.read_text())["start"] == "end" and 'data-board="square8"' in out2.read_text()
    res = runner.invoke(app, ["show", "no-such-game", "--data-dir", str(data)])
    assert res.exit_code == 1 and "neither a file nor the id of a game" in res.output
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"boardType": "octagon", "numPlayers": 2, "moves": []}))
    res = runner.invoke(app, ["show", str(bad), "-o", str(tmp_path / "c.html")])
    assert res.exit_code == 1 and "boardType 'octagon'" in res.output
