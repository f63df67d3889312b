"""Model registry and the `rift models` commands."""
from __future__ import annotations

import pytest
from typer.testing import CliRunner

from cli.main import app
from infra.registry import ModelRegistry


@pytest.fixture
def reg(cfg):
    with ModelRegistry(cfg.registry_path) as r:
        yield r


def chain(reg: ModelRegistry, n: int) -> list[str]:
    ids, parent = [], None
    for i in range(n):
        parent = reg.register("square8", 2, artifact_key=f"models/square8_2p/i{i}.pt", parent_id=parent,
                              iteration=i, metrics={"loss": 1.0 / (i + 1)}, tier=f"D{i + 1}", model_id=f"m{i}")
        ids.append(parent)
    return ids


def test_best_is_the_highest_current_rating_among_active_models(reg):
    m0, m1, m2 = chain(reg, 3)
    other = reg.register("hex8", 2, path="/models/h.pt")
    assert reg.best("square8", 2) is None  # candidates are never best
    for m in (m0, m1, m2, other):
        reg.promote(m)
    reg.record_rating(m0, 1500)
    reg.record_rating(m1, 1700)
    reg.record_rating(m2, 1650)
    assert reg.best("square8", 2)["id"] == m1
    reg.record_rating(m2, 1750, opponent_id=m1, games=40, score=0.6, match_id="gate-3")
    assert reg.best("square8", 2)["id"] == m2  # the newest rating counts, not the highest ever
    reg.deprecate(m2, "regressed on hex openings")
    assert reg.best("square8", 2)["id"] == m1
    assert reg.get(m2)["status_reason"] == "regressed on hex openings"
    assert reg.best("hex8", 2)["id"] == other  # unrated: the newest active
    history = reg.ratings_frame(m2)
    assert history["rating"].tolist() == [1650, 1750] and history["match_id"].tolist()[-1] == "gate-3"


def test_lineage_frames_and_validation(reg):
    ids = chain(reg, 4)
    assert [m["id"] for m in reg.lineage(ids[-1])] == ids[::-1]
    frame = reg.models_frame("square8", 2)
    assert frame["id"].tolist() == ids[::-1] and set(frame["status"]) == {"candidate"}
    assert reg.models_frame(status="active").empty
    reg.update_metrics(ids[0], elo_gain=12)
    assert reg.get(ids[0])["metrics"] == {"loss": 1.0, "elo_gain": 12}
    with pytest.raises(KeyError):
        reg.register("square8", 2, path="x.pt", parent_id="no-such-model")
    with pytest.raises(ValueError, match="reason"):
        reg.set_status(ids[0], "deprecated")
    with pytest.raises(ValueError, match="path or an artifact key"):
        reg.register("square8", 2)


def test_models_cli(cfg, reg):
    m0, m1 = chain(reg, 2)
    reg.promote(m0)
    reg.promote(m1)
    reg.record_rating(m1, 1600)
    runner = CliRunner()
    base = ["--data-dir", str(cfg.data_dir)]
    out = runner.invoke(app, ["models", "best", "--board", "square8", "--players", "2", *base])
    assert out.exit_code == 0 and out.output.startswith("m1") and "models/square8_2p/i1.pt" in out.output
    out = runner.invoke(app, ["models", "deprecate", "m1", "--reason", "lost the gate", *base])
    assert out.exit_code == 0
    out = runner.invoke(app, ["models", "best", "--board", "square8", "--players", "2", *base])
    assert out.output.startswith("m0")
    out = runner.invoke(app, ["models", "list", "--status", "deprecated", *base])
    assert out.exit_code == 0 and "models (1)" in out.output and "│ m1 " in out.output
    out = runner.invoke(app, ["models", "lineage", "m1", *base])
    assert out.exit_code == 0 and "2 generations" in out.output
    out = runner.invoke(app, ["models", "show", "m1", *base])
    assert out.exit_code == 0 and "lost the gate" in out.output and "1 matches" in out.output
    out = runner.invoke(app, ["models", "show", "nope", *base])
    assert out.exit_code == 1 and "no model 'nope'" in out.output
