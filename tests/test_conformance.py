"""`rift vectors`: the full shared conformance data in CI, and the runner's own behaviour.

The full run is the project's acceptance check against RingRift (issue 2, "must show" 1).
The small cases use hand-made files so that the runner's reporting (ids, assertion keys,
exclusions, exit codes) is pinned independently of the shared data.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from engine import new_game
from engine.conformance import collect_cases, load_disputed

REPO = Path(__file__).resolve().parents[1]
SUMMARY = re.compile(r"^(\d+) passed, (\d+) failed$")


def vectors_root() -> Path:
    """The shared vectors folder: `../shared/vectors` beside the clone, or $RINGRIFT_VECTORS."""
    return Path(os.environ.get("RINGRIFT_VECTORS") or REPO.parent / "shared" / "vectors")


def rift_vectors(*args: str):
    """Invoke `rift vectors ARGS` in-process."""
    return CliRunner().invoke(app, ["vectors", *args])


def last_line(output: str) -> tuple[int, int]:
    match = SUMMARY.match(output.rstrip("\n").splitlines()[-1])
    assert match, f"last line is not 'N passed, M failed':\n{output}"
    return int(match.group(1)), int(match.group(2))


@pytest.mark.slow
def test_shared_vectors_all_pass() -> None:
    root = vectors_root()
    assert root.is_dir(), f"shared vectors not found at {root} (set RINGRIFT_VECTORS)"
    disputed = load_disputed(REPO / "docs" / "conformance-disputed.json")
    # Disputes are few, each documented with its rule in docs/conformance.md.
    assert len(disputed) <= 3
    counted = [c for c in collect_cases([root], disputed=disputed) if c.exclusion_reason is None]
    result = rift_vectors(str(root))
    passed, failed = last_line(result.output)
    assert (result.exit_code, failed) == (0, 0), result.output
    assert passed == len(counted)


# --- hand-made data ---------------------------------------------------------------------------

def placement_vector(vector_id: str, assertions: dict) -> dict:
    """Player 1 places one ring on an empty square8 board."""
    return {
        "id": vector_id,
        "input": {
            "state": new_game("square8", 2).to_json(),
            "move": {"type": "place_ring", "player": 1, "to": {"x": 3, "y": 3}, "placementCount": 1},
        },
        "expectedOutput": {"status": "complete", "assertions": assertions},
    }


def write_bundle(folder: Path, *vectors: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "tiny.vectors.json"
    path.write_text(json.dumps({"version": "v2", "count": len(vectors), "vectors": list(vectors)}))
    return path


GOOD = {"stackCount": 1, "player1RingsInHand": 17, "currentPhase": "movement", "sInvariantDelta": 0}


def test_failing_assertion_reports_id_key_expected_and_actual(tmp_path: Path) -> None:
    write_bundle(tmp_path, placement_vector("tiny.good", GOOD), placement_vector("tiny.bad", {"stackCount": 2}))
    result = rift_vectors(str(tmp_path))
    assert result.exit_code == 1
    assert "FAIL contract tiny.bad" in result.output
    assert "stackCount: expected 2, got 1" in result.output
    assert "tiny.good" not in result.output
    assert last_line(result.output) == (1, 1)


def test_verbose_lists_passes_with_legality(tmp_path: Path) -> None:
    write_bundle(tmp_path, placement_vector("tiny.good", GOOD))
    result = rift_vectors(str(tmp_path), "--verbose")
    assert result.exit_code == 0
    assert "PASS contract tiny.good" in result.output
    assert "is_legal said True" in result.output


def test_excluded_vector_reported_apart_and_not_counted(tmp_path: Path) -> None:
    write_bundle(tmp_path / "contract", placement_vector("tiny.good", GOOD), placement_vector("tiny.bad", {"stackCount": 2}))
    (tmp_path / "EXCLUDED.json").write_text(json.dumps({"excluded": {"tiny.bad": "contradicts R081"}}))
    result = rift_vectors(str(tmp_path / "contract"))
    assert result.exit_code == 0, result.output
    assert "tiny.bad - contradicts R081" in result.output
    lines = result.output.rstrip("\n").splitlines()
    assert lines[-2] == "1 excluded"
    assert last_line(result.output) == (1, 0)


def test_unknown_assertion_key_is_a_failure(tmp_path: Path) -> None:
    write_bundle(tmp_path, placement_vector("tiny.unknown", {"stackCount": 1, "ringsOnMoon": 0}))
    result = rift_vectors(str(tmp_path))
    assert result.exit_code == 1
    assert "ringsOnMoon: expected 0, got 'unknown assertion key'" in result.output


def test_only_filters_by_id_substring(tmp_path: Path) -> None:
    write_bundle(tmp_path, placement_vector("tiny.good", GOOD), placement_vector("tiny.bad", {"stackCount": 2}))
    result = rift_vectors(str(tmp_path), "--only", "good")
    assert result.exit_code == 0
    assert last_line(result.output) == (1, 0)


def test_game_record_failure_names_game_and_move(tmp_path: Path) -> None:
    record = {
        "id": "tiny-game", "boardType": "square8", "numPlayers": 2, "outcome": "ring_elimination",
        "moves": [
            {"moveNumber": 1, "player": 1, "type": "place_ring", "to": {"x": 3, "y": 3}},
            {"moveNumber": 2, "player": 1, "type": "move_stack", "from": {"x": 4, "y": 4}, "to": {"x": 4, "y": 6}},
        ],
    }
    (tmp_path / "game.json").write_text(json.dumps(record))
    result = rift_vectors(str(tmp_path))
    assert result.exit_code == 1
    assert "FAIL golden tiny-game" in result.output
    assert "move 2 (move_stack by player 1): expected 'accepted as legal'" in result.output


def test_game_record_checks_final_score(tmp_path: Path) -> None:
    record = {
        "id": "tiny-score", "boardType": "square8", "numPlayers": 2, "outcome": "ring_elimination",
        "finalScore": {"ringsRemaining": {"1": 16, "2": 18}},
        "moves": [{"moveNumber": 1, "player": 1, "type": "place_ring", "to": {"x": 3, "y": 3}}],
    }
    (tmp_path / "game.json").write_text(json.dumps(record))
    result = rift_vectors(str(tmp_path))
    assert result.exit_code == 1
    assert "finalScore.ringsRemaining[1]: expected 16" in result.output


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("broken.json", "{not json", "not valid JSON"),
        ("odd.json", json.dumps({"hello": "world"}), "not a recognised kind"),
    ],
)
def test_bad_files_exit_2(tmp_path: Path, name: str, content: str, message: str) -> None:
    (tmp_path / name).write_text(content)
    result = rift_vectors(str(tmp_path))
    assert result.exit_code == 2
    assert message in result.output


def test_missing_path_exits_2(tmp_path: Path) -> None:
    result = rift_vectors(str(tmp_path / "nowhere"))
    assert result.exit_code == 2
    assert "no such file or directory" in result.output


def test_command_is_registered_on_rift() -> None:
    assert "vectors" in [c.name for c in app.registered_commands]
