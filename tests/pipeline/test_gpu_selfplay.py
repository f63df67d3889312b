"""The selfplay phase on the batched engine (engine/batched): `engine: gpu` (or `rift iterate
--engine gpu`) writes the same RingRift records to the same store. This machine has no GPU, so
the batched engine runs on CPU tensors here; `auto` must then keep the reference engine."""
from __future__ import annotations

import pytest

from engine.records import replay
from infra.data_config import load_data_config
from infra.gamestore import GameStore
from infra.pipeline_config import PipelineConfigError, load_pipeline_config
from tasks.common import PermanentPhaseError
from tasks.selfplay import batched_player, cuda_available, play_and_store


def stored_records(data, board: str, players: int) -> list[dict]:
    with GameStore(data.game_db_path(board, players), "t", read_only=True) as store:
        return [record for _, record in store.iter_records()]


def test_engine_gpu_stores_verified_records_of_the_batched_games(make_ctx, tmp_path):
    ctx = make_ctx(selfplay={"games": 6, "engine": "gpu", "mix": "random-only", "gpu_batch": 4})
    assert batched_player(ctx) == "random"
    result = play_and_store(ctx)
    assert result["inserted"] == 6 and result["engines"] == {"gpu-random": 12}
    records = stored_records(load_data_config(data_dir=tmp_path / "data"), "hex8", 2)
    assert len(records) == 6 and len({r["id"] for r in records}) == 6
    for r in records:
        assert r["metadata"]["batched"]["batch"] in (4, 2)
        assert r["metadata"]["pipeline"]["iteration"] == 1
        # the stored record replays through the reference engine to its result (the tiny profile caps at 400)
        final = replay(r, move_cap=ctx.settings.selfplay.move_cap)
        assert final.status == r["metadata"]["finalGameStatus"] and final.winner == r["winner"]
        assert r["totalMoves"] <= ctx.settings.selfplay.move_cap
    assert play_and_store(ctx)["already_present"] == 6  # a re-run plays the same games again


def test_engine_gpu_refuses_a_mix_it_cannot_play(make_ctx):
    ctx = make_ctx(selfplay={"games": 2, "engine": "gpu", "mix": "mixed"})
    with pytest.raises(PermanentPhaseError, match="random-only or heuristic-only"):
        play_and_store(ctx)


@pytest.mark.skipif(cuda_available(), reason="auto picks the batched engine where CUDA is present")
def test_auto_keeps_the_reference_engine_without_cuda(make_ctx):
    ctx = make_ctx(selfplay={"games": 2, "engine": "auto", "mix": "random-only"})
    assert batched_player(ctx) is None
    assert play_and_store(ctx)["engines"] == {"random": 4}


def test_the_command_line_override_is_validated_with_the_profile():
    cfg = load_pipeline_config()
    assert cfg.resolve("tiny", "hex8", 2).selfplay.engine == "auto"
    assert cfg.resolve("tiny", "hex8", 2, selfplay_engine="gpu").selfplay.engine == "gpu"
    with pytest.raises(PipelineConfigError, match="engine"):
        cfg.resolve("tiny", "hex8", 2, selfplay_engine="tpu")
