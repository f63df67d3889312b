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


def test_the_estimate_follows_the_action_index() -> None:
    big, small = memory.step_bytes_per_game("hexagonal", 2), memory.step_bytes_per_game("square8", 2)
    assert big > 15 * small
    # an 80 GB GPU: a 32k batch of hexagonal games is estimated not to fit in 20 GiB
    fit = memory.games_that_fit("hexagonal", 2, 20 * 2 ** 30)
    assert 64 <= fit < 32768
    assert memory.games_that_fit("hexagonal", 2, None) is None
    assert memory.games_that_fit("hexagonal", 2, 1.0) == 64
    assert memory.device_budget("cpu") is None


def test_the_bench_halves_sub_batches_after_out_of_memory(monkeypatch, capsys) -> None:
    from bench import gpu_selfplay

    calls: list[int | None] = []

    def run(board, n, batch, player, device, seconds, seed, most=None):
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
