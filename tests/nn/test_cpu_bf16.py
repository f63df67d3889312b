"""bf16 on CPU is opt-in and taken only where the cores have bf16 instructions; selfplay asks for
it, and what it answers stays close to fp32 (the speed is bench/selfplay_speed.py's)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import engine.nn.device as device
import engine.nn.inference as inference
from engine.nn.inference import InferenceConfig, InferenceServer
from engine.nn.learning import _neural_job
from engine.nn.model import NetConfig, build_model, save_model
from engine.nn.policy import legal_indices
from engine.nn.runner import BatchRunner
from infra.loop_config import NetSelfplaySettings

from .positions import positions

CPU = torch.device("cpu")


def tiny(board: str = "hex8") -> torch.nn.Module:
    torch.manual_seed(3)
    return build_model(NetConfig.preset("tiny", board, 2)).eval()


@pytest.mark.parametrize("native", [True, False])
def test_cpu_bf16_is_taken_only_when_asked_and_native(monkeypatch: pytest.MonkeyPatch, native: bool) -> None:
    monkeypatch.setattr(device, "cpu_has_bf16", lambda: native)
    assert device.amp_dtype(CPU) is None
    assert device.amp_dtype(CPU, cpu_bf16=True) == (torch.bfloat16 if native else None)
    assert BatchRunner(tiny(), device="cpu").dtype is None
    assert BatchRunner(tiny(), device="cpu", cpu_bf16=True).dtype == (torch.bfloat16 if native else None)
    assert BatchRunner(tiny(), device="cpu", cpu_bf16=True, amp=False).dtype is None
    server = InferenceServer(tiny(), InferenceConfig(cpu_bf16=True))
    assert server.runner.dtype == (torch.bfloat16 if native else None)


def test_bf16_answers_stay_close_to_fp32() -> None:
    """Forced bf16 (whatever this CPU has: autocast emulates it where it is not native)."""
    states = positions("hex8", 2)[5:60]
    legal = [legal_indices(s)[1] for s in states]
    model = tiny()
    full = BatchRunner(model, device="cpu").run(states, legal)
    half = BatchRunner(model, device="cpu")
    half.dtype = torch.bfloat16
    got = half.run(states, legal)
    values = np.array([np.abs(a.values - b.values).max() for a, b in zip(full, got)])
    tv = np.array([0.5 * np.abs(a.priors - b.priors).sum() for a, b in zip(full, got)])
    assert values.max() < 0.03 and tv.max() < 0.05, (values.max(), tv.max())
    assert values.max() > 0 or tv.max() > 0  # bf16 really ran: some rounding shows


def test_selfplay_asks_its_server_for_bf16(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """The profile's setting reaches the worker's InferenceServer (the real server plays the game)."""
    assert NetSelfplaySettings().play_options()["cpu_bf16"] is True
    seen: list[bool] = []
    real_init = inference.InferenceServer.__init__

    def spy(self, model, cfg=None):
        seen.append((cfg or InferenceConfig()).cpu_bf16)
        real_init(self, model, cfg)

    monkeypatch.setattr(inference.InferenceServer, "__init__", spy)
    path = save_model(tiny(), tmp_path / "tiny.pt")
    for flag in (True, False):
        opts = {**NetSelfplaySettings(full_sims=4, fast_sims=2, concurrency=1, cpu_bf16=flag).play_options(),
                "move_cap": 12}
        recs = _neural_job(str(path), "hex8", 2, 1, 7, opts)
        assert len(recs) == 1 and len(recs[0]["moves"]) > 0
    assert seen == [True, False]
