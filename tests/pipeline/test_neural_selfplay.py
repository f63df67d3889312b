"""The selfplay phase with the net in the mix: the registry's best model is filled in, its seats
search with playout caps, and the records' search targets become the iteration's shard."""
from __future__ import annotations

import pytest
import torch

from engine.nn.model import NetConfig, build_model, save_model
from engine.records import SEARCH_TARGETS
from infra.gamestore import GameStore
from infra.registry import ModelRegistry, ModelStatus
from tasks.common import PermanentPhaseError, run_phase
from tasks.players import needs_model, pipeline_player, resolve_spec
from tasks.selfplay import play_and_store
from tasks.train import export_shard


def _register_tiny(ctx) -> tuple[str, str]:
    torch.manual_seed(0)
    cfg = ctx.data()
    path = save_model(build_model(NetConfig.preset("tiny", ctx.board, ctx.players)), cfg.data_dir / "m" / "tiny.pt")
    cfg.registry_path.parent.mkdir(parents=True, exist_ok=True)
    with ModelRegistry(cfg.registry_path) as reg:
        mid = reg.register(ctx.board, ctx.players, path=str(path), status=ModelStatus.ACTIVE)
    return str(path), mid


def test_specs_that_need_a_net_get_the_registry_model():
    assert needs_model("nn") and needs_model("neural:sims=8") and needs_model("D9")
    assert not needs_model("D8") and not needs_model("neural:model=x.pt") and not needs_model("nn:x.pt")
    assert resolve_spec("nn", "m.pt") == "neural:model=m.pt"
    assert resolve_spec("neural:sims=8", "m.pt") == "neural:sims=8,model=m.pt"
    assert resolve_spec("D9", "m.pt") == "D9:model=m.pt" and resolve_spec("D4", "m.pt") == "D4"
    assert resolve_spec("nn", None) == "nn"
    with pytest.raises(ValueError, match="needs a model"):
        pipeline_player("nn", seed=0)


def test_a_mix_naming_the_net_is_refused_without_a_model(make_ctx):
    ctx = make_ctx(board="square8").model_copy(update={"mix": {"nn": 1.0}})
    with pytest.raises(PermanentPhaseError, match="needs a trained model"):
        run_phase("selfplay", ctx, lambda: play_and_store(ctx))


def test_neural_selfplay_records_targets_that_reach_the_shard(make_ctx):
    ctx = make_ctx(board="square8", selfplay={"games": 2, "move_cap": 80})
    ctx = ctx.model_copy(update={"mix": {"neural:sims=6,fast_sims=1,full_prob=0.5,batch_size=3": 1.0}})
    _, mid = _register_tiny(ctx)
    result = play_and_store(ctx)
    assert result["inserted"] == 2
    cfg = ctx.data()
    with GameStore(cfg.game_db_path(ctx.board, ctx.players), cfg.source_host, read_only=True) as store:
        records = [r for _, r in store.iter_records()]
    full = 0
    for r in records:
        meta = r["metadata"]
        assert len(meta[SEARCH_TARGETS]) == len(r["moves"])
        assert meta["playerVersions"] == [mid, mid] and meta["pipeline"]["model"] == mid
        full += sum(t is not None for t in meta[SEARCH_TARGETS])
    done = export_shard(ctx, cfg)
    assert 0 < done["samples"] == full  # augment=random: one sample per full-search position
