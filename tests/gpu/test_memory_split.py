"""Large GPU batches are split to fit the device memory, and an out-of-memory error shrinks them."""
from __future__ import annotations

import pytest
import torch

from engine.batched import memory


def test_split_keeps_every_game_in_near_equal_parts() -> None:
    assert memory.split(100, None) == [100] and memory.split(100, 100) == [100]
    parts = memory.split(32768, 10000)
    assert sum(parts) == 32768 and len(parts) == 4 and max(parts) - min(parts) <= 1
    assert max(parts) <= 10000


def test_the_estimate_follows_the_action_index_and_caps_the_heuristic_chunks() -> None:
    gib = 2 ** 30
    big, small = memory.step_bytes("hexagonal", 2, 1024), memory.step_bytes("square8", 2, 1024)
    assert big > 5 * small
    # linear in the batch for random play; the heuristic's scoring chunk is a fixed extra
    assert memory.step_bytes("square19", 2, 2048) == pytest.approx(2 * memory.step_bytes("square19", 2, 1024))
    h1, h2 = (memory.step_bytes("square19", 2, b, "heuristic") for b in (16384, 32768))
    r1, r2 = (memory.step_bytes("square19", 2, b) for b in (16384, 32768))
    assert h2 - r2 == pytest.approx(h1 - r1) and h1 > r1
    # the H100 rows of bench/gpu_selfplay.py: 32k games of either big board fit 80% of 78 GiB
    for board in ("square19", "hexagonal"):
        for player in ("random", "heuristic"):
            assert memory.step_bytes(board, 2, 32768, player) < 0.8 * 78 * gib
            assert memory.games_that_fit(board, 2, 0.8 * 78 * gib, player) >= 32768
    fit = memory.games_that_fit("hexagonal", 2, 20 * gib, "heuristic")
    assert 64 <= fit < 32768 and memory.step_bytes("hexagonal", 2, fit, "heuristic") <= 20 * gib
    assert memory.step_bytes("hexagonal", 2, fit + 1, "heuristic") > 20 * gib
    assert memory.games_that_fit("hexagonal", 2, None) is None
    assert memory.games_that_fit("hexagonal", 2, 1.0) == 64
    assert memory.device_budget("cpu") is None


def test_the_bench_halves_sub_batches_after_out_of_memory(monkeypatch, capsys) -> None:
    from bench import gpu_selfplay

    calls: list[int | None] = []

    def run(board, n, batch, player, device, seconds, seed, most=None, refill=False):
        calls.append(most)
        if most is None or most > 1000:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory")
        return {"sizes": memory.split(batch, most)}

    monkeypatch.setattr(gpu_selfplay, "batched_run", run)
    r, most = gpu_selfplay.fitted_run("square19", 2, 4096, "random", "cuda", 1.0, 1, None)
    assert calls == [None, 2048, 1024, 512] and most == 512 and sum(r["sizes"]) == 4096
    assert "out of GPU memory" in capsys.readouterr().out
    calls.clear()
    monkeypatch.setattr(gpu_selfplay, "batched_run",
                        lambda *a, **k: (_ for _ in ()).throw(torch.cuda.OutOfMemoryError("x")))
    with pytest.raises(gpu_selfplay.NoFit):
        gpu_selfplay.fitted_run("square19", 2, 256, "random", "cuda", 1.0, 1, None)


def test_sub_batches_play_every_game_to_the_end() -> None:
    from bench import gpu_selfplay

    r = gpu_selfplay.batched_run("square8", 2, 3, "random", "cpu", 120.0, 1, most=2)
    assert r["sizes"] == [2, 1] and r["finished"] and r["done"] == 3 and r["per_game"] > 20
