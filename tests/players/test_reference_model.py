"""The shipped reference model: found by config, filled into the ladder's neural tiers only."""
import json

import pytest

from engine.nn.model import NetConfig, build_model, save_model
from engine.players import make_player
from engine.players.neural import NEURAL_MODEL_ENV, reference_model, with_reference


@pytest.fixture
def shipped(tmp_path, monkeypatch):
    monkeypatch.delenv(NEURAL_MODEL_ENV, raising=False)
    folder = tmp_path / "hex8_2p"
    folder.mkdir()
    net = build_model(NetConfig(board_type="hex8", num_players=2, channels=8, blocks=1, policy_channels=4,
                                value_channels=4, value_hidden=8))
    save_model(net, folder / "ref.pt")
    (folder / "reference.json").write_text(json.dumps({"file": "ref.pt", "command": "test"}))
    return tmp_path


def test_neural_tiers_get_the_reference_and_others_do_not(shipped):
    spec = with_reference("D9", "hex8", 2, shipped)
    assert spec == f"D9:model={shipped / 'hex8_2p' / 'ref.pt'}"
    assert with_reference("D10:sims=8", "hex8", 2, shipped).startswith("D10:sims=8,model=")
    assert with_reference("D3", "hex8", 2, shipped) == "D3"
    assert with_reference("D9:model=x.pt", "hex8", 2, shipped) == "D9:model=x.pt"
    assert with_reference("D9", "square8", 2, shipped) == "D9"  # no reference for that config
    player = make_player(with_reference("D9:sims=4", "hex8", 2, shipped), seed=1)
    assert player.name == "D9" and player.simulations == 4


def test_the_environment_wins_over_the_reference(shipped, monkeypatch):
    monkeypatch.setenv(NEURAL_MODEL_ENV, "/elsewhere/model.pt")
    assert with_reference("D9", "hex8", 2, shipped) == "D9"


def test_a_broken_manifest_names_itself(shipped):
    (shipped / "hex8_2p" / "reference.json").write_text("{}")
    with pytest.raises(ValueError, match="reference.json"):
        reference_model("hex8", 2, shipped)
    (shipped / "hex8_2p" / "reference.json").write_text(json.dumps({"file": "gone.pt"}))
    with pytest.raises(ValueError, match="gone.pt"):
        reference_model("hex8", 2, shipped)


def test_selfplay_mixes_fill_the_reference_into_neural_tiers_only():
    from tasks.players import fill_models
    mix = {"D9": 0.5, "nn": 0.25, "D3": 0.25}
    filled, model_id = fill_models(mix, None, ("ref.pt", "reference:ref.pt"))
    assert filled == {"D9:model=ref.pt": 0.5, "nn": 0.25, "D3": 0.25} and model_id == "reference:ref.pt"
    best, best_id = fill_models(mix, ("best.pt", "m1"), ("ref.pt", "reference:ref.pt"))
    assert best == {"D9:model=best.pt": 0.5, "neural:model=best.pt": 0.25, "D3": 0.25} and best_id == "m1"
    assert fill_models(mix, None, None) == (mix, None)
