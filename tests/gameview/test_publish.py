"""What an iteration publishes for the UI: the chosen games' viewer pages in artifact storage, their
links (file:// locally, presigned http on S3) and final-position pictures, and the report markdown."""
from __future__ import annotations

import base64
import json
import os
import re
import socket
import urllib.request
from pathlib import Path

import pytest

from infra.data_config import load_data_config
from infra.gamestore import GameStore
from infra.records import content_hash
from viewer.publish import choose_games, games_markdown, publish_games, report_markdown, viewer_url

from .games import game


def store_games(data_dir: Path, board: str, players: int, iteration: int, seeds: range) -> list[dict]:
    records = []
    for seed in seeds:
        rec = game(board, players, seed=seed, move_cap=200)
        rec["id"] = f"{rec['id']}-i{iteration}"
        rec["metadata"]["pipeline"] = {"iteration": iteration}
        records.append(rec)
    (data_dir / "games").mkdir(parents=True, exist_ok=True)
    with GameStore(data_dir / "games" / f"{board}_{players}p.db", "here") as store:
        store.insert([(content_hash(r), r) for r in records])
    return records


def test_choose_games_longest_and_a_win_per_seat() -> None:
    games = [{"id": "a", "winner": 1, "length": 50}, {"id": "b", "winner": 1, "length": 90},
             {"id": "c", "winner": None, "length": 400}, {"id": "d", "winner": 2, "length": 30}]
    assert choose_games(games, 3) == [("longest game (400 moves)", "c"), ("a win for seat 1", "b"),
                                      ("a win for seat 2", "d"), ("a win for seat 3: none this iteration", "")]
    assert choose_games([], 2) == []
    # the longest game is also seat 2's only win: listed once, with both labels
    games = [{"id": "a", "winner": 1, "length": 50}, {"id": "b", "winner": 1, "length": 90},
             {"id": "c", "winner": 2, "length": 400}]
    assert choose_games(games, 2) == [("longest game (400 moves), a win for seat 2", "c"), ("a win for seat 1", "b")]


def test_publish_games_stores_viewer_pages_and_links_them(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    stored = store_games(data_dir, "square8", 2, 1, range(1, 6))
    store_games(data_dir, "square8", 2, 2, range(6, 8))  # another iteration's games are not chosen
    evaluation = game("square8", 2, seed=9, move_cap=120) | {"id": "eval-game-1"}
    (data_dir / "pipeline" / "square8_2p").mkdir(parents=True)
    (data_dir / "pipeline" / "square8_2p" / "evaluate-i1-games.jsonl").write_text(json.dumps(evaluation) + "\n")
    data = load_data_config(data_dir=data_dir)
    entries = publish_games(data, "square8", 2, 1, "square8_2p")
    longest = max(stored, key=lambda r: len(r["moves"]))
    assert entries[0]["id"] == longest["id"] and entries[0]["moves"] == len(longest["moves"])
    assert {e["id"] for e in entries if "url" in e} <= {r["id"] for r in stored} | {"eval-game-1"}
    assert entries[-1]["id"] == "eval-game-1" and "--game eval-game-1" in entries[-1]["command"]
    for e in (e for e in entries if "url" in e):
        page = data_dir / "artifacts" / e["key"]
        assert e["url"] == page.resolve().as_uri() and 'id="game-data"' in page.read_text()
        svg = base64.b64decode(e["thumbnail"].split(",", 1)[1]).decode()
        assert svg.startswith("<svg") and svg.count('<use href="#t" x=') >= 64
    md = games_markdown(entries)
    assert md.count("](file://") == len([e for e in entries if "url" in e]) and "![final position of" in md
    assert f"`rift show {longest['id']}`" in md


def test_report_markdown_embeds_every_drawn_plot() -> None:
    md = report_markdown("hex8_2p", {"learning_curve": b"\x89PNGxx", "losses": "no training metrics yet"}, 3)
    assert "after iteration 3" in md and "![learning_curve](data:image/png;base64," in md
    assert "_no training metrics yet_" in md


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_an_s3_store_links_a_presigned_http_url_that_serves_the_page(tmp_path: Path) -> None:
    from moto.server import ThreadedMotoServer
    from prefect_aws import AwsCredentials, S3Bucket
    from prefect_aws.client_parameters import AwsClientParameters

    from infra.storage import ArtifactStore
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        creds = AwsCredentials(region_name="us-east-1", aws_client_parameters=AwsClientParameters(
            endpoint_url=f"http://127.0.0.1:{port}", config={"s3": {"addressing_style": "path"}}))
        creds.get_s3_client().create_bucket(Bucket="rift")
        block = S3Bucket(bucket_name="rift", credentials=creds, bucket_folder="artifacts")
        store = ArtifactStore(block, tmp_path / "outbox")
        store.write_bytes("viewer/x/i1/g.html", b"<!doctype html><p>game</p>")
        url = viewer_url(store, "viewer/x/i1/g.html")
        store.close()
        assert re.match(rf"http://127\.0\.0\.1:{port}/rift/artifacts/viewer/x/i1/g\.html\?", url)
        with urllib.request.urlopen(url, timeout=60) as resp:
            assert resp.headers["Content-Type"].startswith("text/html") and resp.read().endswith(b"game</p>")
    finally:
        server.stop()
