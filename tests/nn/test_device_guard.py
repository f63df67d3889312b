"""The neural-net paths keep every tensor on the model's device, and bf16 outputs reach numpy as fp32.

Run under `DeviceGuard` (tests/gpu/device_guard.py) with the pretend device `DEV`: the batch
runner, the evaluator and player, the inference server with a weight reload (its own thread),
neural selfplay through the server, and a short training run with a checkpoint. A factory
call without `device=` in engine/nn, or an op mixing a device tensor with a host one (a
`torch.from_numpy` array never moved, say), would fail there on CUDA and is listed here.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from engine.nn.checkpoint import BackgroundCheckpointer
from engine.nn.encoding import encode_batch
from engine.nn.evaluator import NeuralEvaluator, NeuralPlayer
from engine.nn.inference import InferenceConfig, InferenceServer
from engine.nn.model import NetConfig, build_model
from engine.nn.policy import layout, legal_indices
from engine.nn.runner import BatchRunner
from engine.nn.selfplay import play_neural_games
from engine.nn.train import TrainConfig, train_on_samples
from gpu.device_guard import DEV, DeviceGuard
from infra.shards import Samples, SparsePolicy

from .positions import positions


def tiny(board: str = "square8", n: int = 2):
    torch.manual_seed(0)
    return build_model(NetConfig.preset("tiny", board, n)).eval()


def _check(guard: DeviceGuard) -> None:
    assert not guard.factories and not guard.mismatches, "\n" + guard.report()


def test_runner_evaluator_and_player_stay_on_the_device() -> None:
    states = positions("hex8", 3)[20:60]
    legal = [legal_indices(s)[1] for s in states]
    guard = DeviceGuard(("engine/nn/",))
    with guard:
        runner = BatchRunner(tiny("hex8", 3), device=DEV, max_batch_size=16)
        preds = runner.evaluate(states, legal)
        ev = NeuralEvaluator(runner)
        ev.evaluate(list(states[:5]))
        NeuralPlayer(ev, temperature=1.0, seed=1).choose(states[7])
    _check(guard)
    assert len(preds) == len(states) and all(abs(p.priors.sum() - 1) < 1e-4 for p in preds)
    assert guard.syncs, "the guard saw no device tensor"


def test_server_reload_and_selfplay_stay_on_the_device(monkeypatch) -> None:
    guard = DeviceGuard(("engine/nn/",))
    # the server thread runs the model: the guard (a thread-local mode) must run there too
    monkeypatch.setattr(InferenceServer, "_loop", guard.wrap(InferenceServer._loop))
    model = tiny()
    with guard:
        server = InferenceServer(model, InferenceConfig(max_batch_size=8, batch_timeout_ms=2, device=str(DEV)))
        with server:
            records = play_neural_games(NeuralEvaluator(server), "square8", 2, 3, concurrency=3, move_cap=30)
            trace = server.reload(model).wait(30, until_used=False)
            server.evaluate([positions("square8", 2)[40]], [legal_indices(positions("square8", 2)[40])[1]])
    _check(guard)
    assert len(records) == 3 and trace.error is None and server.stats.batches > 1
    assert any(k.startswith("engine/nn/runner.py") for k in guard.syncs), "the server thread ran unguarded"


def test_training_and_checkpoints_stay_on_the_device(tmp_path: Path) -> None:
    states = positions("square8", 2)[:48]
    rng = np.random.default_rng(0)
    size = layout("square8").spatial_size
    samples = Samples(encode_batch(states).astype(np.float16),
                      SparsePolicy.from_pairs([[(int(rng.integers(0, size)), 1.0)] for _ in states]),
                      rng.choice([-1.0, 1.0], size=(len(states), 2)).astype(np.float32))
    guard = DeviceGuard(("engine/nn/",))
    ck = BackgroundCheckpointer(tmp_path / "ck")
    with guard:
        res = train_on_samples(tiny(), samples, TrainConfig(epochs=1, batch_size=16, val_fraction=0.25,
                                                            device=str(DEV)))
        ck.save(res.model, "e1.pt")
    ck.wait()
    _check(guard)
    assert (tmp_path / "ck" / "e1.pt").stat().st_size > 0
    assert any(k.startswith("engine/nn/train.py") for k in guard.syncs)


def test_bf16_autocast_outputs_reach_numpy_as_fp32() -> None:
    """On CUDA the runner runs under bf16 autocast; numpy has no bf16, so every tensor leaving
    for numpy must be cast first. CPU autocast makes the same bf16 outputs."""
    states = positions("square8", 2)[10:40]
    legal = [legal_indices(s)[1] for s in states]
    full = BatchRunner(tiny(), device="cpu", amp=False).run(states, legal)
    half = BatchRunner(tiny(), device="cpu", amp=False)
    half.dtype = torch.bfloat16
    logits, values = half.forward(encode_batch(states))
    assert logits.dtype == torch.bfloat16 and values.dtype == torch.bfloat16
    got = half.run(states, legal)
    for a, b in zip(full, got):
        assert b.priors.dtype == np.float32 and b.values.dtype == np.float32
        np.testing.assert_allclose(b.priors, a.priors, atol=0.05)
        np.testing.assert_allclose(b.values, a.values, atol=0.05)
