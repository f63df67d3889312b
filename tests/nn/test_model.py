"""The residual net: output shapes per board, masking, and the export / load round trip."""
from __future__ import annotations

import pytest
import torch

from engine import new_game
from engine.errors import ModelFileError
from engine.nn.encoding import encode_batch
from engine.nn.model import (
    MASKED_LOGIT, NetConfig, build_model, load_model, model_bytes, read_payload, save_model,
)
from engine.nn.policy import layout

from .positions import positions


def _batch(board: str, n: int) -> torch.Tensor:
    return torch.from_numpy(encode_batch(list(positions(board, n)[:3]) + [new_game(board, n)]))


@pytest.mark.parametrize("board,n", [("square8", 2), ("hex8", 3), ("square19", 4), ("hexagonal", 2)])
def test_outputs_cover_the_policy_and_every_seat(board, n):
    model = build_model(NetConfig.preset("tiny", board, n)).eval()
    with torch.no_grad():
        logits, values = model(_batch(board, n))
    lay = layout(board)
    assert logits.shape == (4, lay.size) and values.shape == (4, n)
    assert values.abs().max() <= 1
    off = lay.cell_at < 0  # grid points that are not cells get the masked logit on every plane
    spatial = logits[:, : lay.spatial_size].view(4, lay.num_planes, lay.area)
    assert (spatial[:, :, torch.from_numpy(off)] == MASKED_LOGIT).all()
    assert (spatial[:, :, torch.from_numpy(~off)] > MASKED_LOGIT / 2).all()


def test_export_load_round_trip_gives_identical_outputs(tmp_path):
    torch.manual_seed(0)
    model = build_model(NetConfig.preset("tiny", "hex8", 2))
    # Make batch-norm statistics non-trivial so that buffers must round trip too.
    model.train()
    with torch.no_grad():
        model(_batch("hex8", 2))
    model.eval()
    x = _batch("hex8", 2)
    with torch.no_grad():
        want = model(x)
    for loaded in (load_model(save_model(model, tmp_path / "m.pt")), load_model(model_bytes(model))):
        assert loaded.cfg == model.cfg
        with torch.no_grad():
            got = loaded(x)
        assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])


def test_exports_of_another_version_are_refused(tmp_path):
    payload = read_payload(model_bytes(build_model(NetConfig.preset("tiny", "square8", 2))))
    payload["policy_version"] = -1
    torch.save(payload, tmp_path / "old.pt")
    with pytest.raises(ValueError, match="policy_version"):
        load_model(tmp_path / "old.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a model")
    with pytest.raises(ModelFileError, match="junk.pt is unreadable"):  # tests/nn/test_model_errors.py: the rest
        load_model(tmp_path / "junk.pt")


def test_presets_and_validation():
    assert NetConfig.preset("large", "square8", 2).blocks == 10
    with pytest.raises(ValueError):
        NetConfig.preset("huge", "square8", 2)
    with pytest.raises(ValueError):
        NetConfig(board_type="square8", num_players=5)
