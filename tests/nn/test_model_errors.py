"""Issue 16: a model file that cannot be loaded (empty, truncated, foreign, missing) is one clear error
naming the file and the fix, from the loader every command uses (engine.errors.ModelFileError), never
click's bare "Aborted." (an empty .pt raised EOFError) or a torch traceback; selfplay then writes nothing."""
from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from cli.main import app
from engine.errors import ModelFileError
from engine.nn.model import NetConfig, build_model, load_model, model_bytes, read_payload, save_model

FIX = "What to do: train it again (`rift iterate`) or point at another model file"


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real (tiny) hex8 2p export, the source of the damaged copies."""
    return save_model(build_model(NetConfig.preset("tiny", "hex8", 2)), tmp_path_factory.mktemp("m") / "good.pt")


def damaged(export: Path, folder: Path, damage: str) -> Path:
    path = folder / f"{damage}.pt"
    if damage == "empty":
        path.write_bytes(b"")
    elif damage == "truncated":
        path.write_bytes(export.read_bytes()[:200])
    elif damage == "junk":
        path.write_bytes(b"not a model at all\n" * 10)
    elif damage == "foreign":
        torch.save({"weights": torch.zeros(3)}, path)  # a torch file, not a RingRift export
    elif damage == "old":
        payload = read_payload(export)
        torch.save({**payload, "policy_version": -1}, path)
    elif damage == "folder":
        path.mkdir()
    return path  # "missing": never created


PROBLEMS = {"empty": "is empty (0 bytes)", "truncated": "is unreadable (", "junk": "is unreadable (",
            "foreign": "is not a ringrift-nn export", "old": "is an export with policy_version -1",
            "missing": "is missing", "folder": "is a folder or device"}


@pytest.mark.parametrize("damage", list(PROBLEMS))
def test_every_damaged_file_is_one_error_naming_the_file_and_the_fix(export, tmp_path, damage):
    path = damaged(export, tmp_path, damage)
    with pytest.raises(ModelFileError) as info:
        load_model(path)
    message = str(info.value)
    assert message.startswith(f"model file {path} {PROBLEMS[damage]}"), message
    assert "What to do:" in message and "\n" not in message and "weights_only" not in message
    assert info.value.kind == ("missing" if damage == "missing" else "unreadable")
    # a match or selfplay worker raises it in another process: it must come back whole
    again = pickle.loads(pickle.dumps(info.value))
    assert type(again) is ModelFileError and str(again) == message and again.kind == info.value.kind


def test_a_sound_export_still_loads_from_a_file_and_from_bytes(export):
    assert load_model(export).cfg == load_model(model_bytes(load_model(export))).cfg
    with pytest.raises(ModelFileError, match=r"^model file <model bytes> is unreadable"):
        load_model(export.read_bytes()[:200])


@pytest.mark.parametrize("damage", ["empty", "truncated", "missing"])
def test_selfplay_with_a_damaged_model_fails_clearly_and_writes_nothing(export, tmp_path, damage):
    path = damaged(export, tmp_path, damage)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["selfplay", "--board", "hex8", "--games", "1",
                                      "--engine", f"neural:model={path},sims=2", "--out", str(out)])
    assert result.exit_code == 2, result.output
    flat = " ".join(result.output.split())  # the console wraps long lines
    assert f"model file {path} {PROBLEMS[damage]}" in flat and FIX in flat, result.output
    assert "Aborted" not in result.output and "Traceback" not in result.output
    assert not out.exists()  # no empty games.jsonl for the next run to append to


def test_match_with_a_damaged_model_fails_clearly(export, tmp_path):
    path = damaged(export, tmp_path, "empty")
    result = CliRunner().invoke(app, ["match", "--board", "hex8", "--a", f"neural:model={path},sims=2",
                                      "--b", "random", "--games", "2"])
    assert result.exit_code == 2, result.output
    flat = " ".join(result.output.split())
    assert f"model file {path} is empty (0 bytes)" in flat and FIX in flat, result.output
    assert "Aborted" not in result.output and "Traceback" not in result.output
