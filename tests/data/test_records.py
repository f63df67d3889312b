"""Game records: validation of RingRift's format and the content hash that detects duplicates."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from infra.records import content_hash, seat_engines, stored_fields, validate_record
from infra.synthetic import synthetic_game

VECTORS = next((p for p in (Path(__file__).resolve().parents[2] / "shared" / "vectors",
                            Path("/work/shared/vectors")) if p.exists()), Path("shared/vectors"))
needs_vectors = pytest.mark.skipif(not VECTORS.exists(), reason="shared vectors not present")


@needs_vectors
def test_every_canonical_record_validates_and_hashes_uniquely():
    records = [g for f in sorted((VECTORS / "random-games").glob("*.json")) for g in json.loads(f.read_text())["games"]]
    records += [json.loads(f.read_text()) for f in sorted((VECTORS / "golden").glob("*.json"))]
    for r in records:
        validate_record(r)
    assert len(records) == 303
    assert len({content_hash(r) for r in records}) == len(records)


def test_hash_ignores_bookkeeping_fields_and_id():
    a = synthetic_game(1)
    b = copy.deepcopy(a)
    b["id"] = "another-id"
    b["startedAt"] = "2030-01-01T00:00:00Z"
    for m in b["moves"]:
        m["thinkTimeMs"] += 7
        m["moveNumber"] += 100
        m["id"] = "x"
        m["timestamp"] = "now"
    b["metadata"]["sourceHost"] = "elsewhere"
    assert content_hash(a) == content_hash(b)


@pytest.mark.parametrize("change", [
    lambda r: r["moves"][5]["to"].update(x=(r["moves"][5]["to"]["x"] + 1) % 8),
    lambda r: r["moves"].pop(),
    lambda r: r.update(outcome="territory_control" if r["outcome"] != "territory_control" else "stalemate"),
    lambda r: r.update(winner=1 if r["winner"] != 1 else 2),
    lambda r: r["metadata"].update(engines=["neural:D10", "neural:D10"]),
    lambda r: r.update(boardType="hex8"),
])
def test_hash_changes_with_rule_content(change):
    a = synthetic_game(2)
    b = copy.deepcopy(a)
    change(b)
    assert content_hash(a) != content_hash(b)


@pytest.mark.parametrize("change, message", [
    (lambda r: r.update(boardType="square9"), "boardType"),
    (lambda r: r.update(numPlayers=5), "numPlayers"),
    (lambda r: r.update(winner=3), "winner 3"),
    (lambda r: r["players"].pop(), "1 players listed"),
    (lambda r: r.update(id=""), "id"),
    (lambda r: r.pop("moves"), "moves"),
])
def test_invalid_records_are_refused(change, message):
    r = synthetic_game(3)
    change(r)
    with pytest.raises(ValidationError, match=message):
        validate_record(r)


def test_seat_engines_from_players_or_metadata():
    r = {"players": [{"playerNumber": 2, "aiType": "mcts", "tier": "D7"},
                     {"playerNumber": 1, "aiType": "random", "aiDifficulty": 1}], "metadata": {}}
    assert seat_engines(r) == ["random:D1", "mcts:D7"]
    r["metadata"]["engines"] = [{"name": "neural", "tier": "D9"}, "heuristic:D3"]
    assert seat_engines(r) == ["neural:D9", "heuristic:D3"]


def test_stored_fields_cover_what_the_store_indexes():
    r = synthetic_game(4, source_host="gpu-7")
    r["metadata"]["hitMoveCap"] = True
    r["positions"] = "shards/square8_2p/abc.npz"
    f = stored_fields(r, default_host="local")
    assert f["source_host"] == "gpu-7" and f["hit_cap"] == 1 and f["length"] == len(r["moves"])
    assert f["samples_ref"] == "shards/square8_2p/abc.npz"
    assert json.loads(f["engines"]) == r["metadata"]["engines"]
