"""What lower precision buys and costs for the net on this CPU: speed and closeness to fp32.

Usage:  python bench/precision.py [--model models/hex8_2p/<file>.pt] [--board hex8] [--players 2]
        [--positions 512] [--batch 48] [--seconds 3]

Positions come from seeded random games (a spread of openings, middles and ends). For each
precision the BatchRunner's whole `run` (encode, forward, legal-move softmax) is timed on one
thread at `batch` positions, and its answers are compared with fp32's on every position: the
largest value difference per position (mean, 99th percentile, max), the total variation between
the two policies over the legal moves, and how often both pick the same most probable move.

- fp32: the reference.
- bf16: autocast, what selfplay's `cpu_bf16` runs (native on CPUs with AVX512-BF16 or AMX).
- int8 trunk: the stem and residual blocks quantized statically (torch.ao FX, x86 backend,
  calibrated on other random positions), the heads in fp32. Not used by the pipeline: this
  bench records what it would give. (Quantizing the heads too wrecks the policy: the masked
  logits of off-board points stretch the output's int8 range.)
"""
from __future__ import annotations

import argparse
import copy
import random
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine import apply_in_place, legal_moves, new_game  # noqa: E402
from engine.nn.device import cpu_has_bf16  # noqa: E402
from engine.nn.encoding import encode_batch  # noqa: E402
from engine.nn.model import RingRiftNet, load_model  # noqa: E402
from engine.nn.policy import legal_indices  # noqa: E402
from engine.nn.runner import BatchRunner  # noqa: E402

DEFAULT_MODEL = Path("models/hex8_2p/hex8_2p-run3-i001-20261207.pt")


def random_positions(board: str, players: int, count: int, seed: int) -> list:
    rng, out = random.Random(seed), []
    while len(out) < count:
        s = new_game(board, players)
        for _ in range(rng.randrange(0, 150)):
            if s.is_over:
                break
            apply_in_place(s, rng.choice(legal_moves(s)))
        if not s.is_over:
            out.append(s)
    return out


class _Trunk(torch.nn.Module):
    """The net's trunk alone as a module, for FX to trace and quantize."""

    def __init__(self, net: RingRiftNet):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.trunk(x, self.net.mask)


class Int8Trunk(torch.nn.Module):
    """The net with its trunk quantized to int8 and its heads as they were."""

    def __init__(self, net: RingRiftNet, calibration: torch.Tensor):
        super().__init__()
        from torch.ao.quantization import get_default_qconfig_mapping
        from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx
        self.net = copy.deepcopy(net).eval()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch.ao's FX path warns that it is deprecated for pt2e
            prepared = prepare_fx(_Trunk(self.net).eval(), get_default_qconfig_mapping("x86"), (calibration[:8],))
            with torch.no_grad():
                for i in range(0, len(calibration), 64):
                    prepared(calibration[i:i + 64])
            self.trunk = convert_fx(prepared)

    def forward(self, planes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.net.heads(self.trunk(planes), self.net.mask)


def time_run(runner: BatchRunner, states: list, legal: list, batch: int, seconds: float) -> float:
    """Milliseconds per position of runner.run at `batch` positions."""
    runner.run(states[:batch], legal[:batch])
    n, t = 0, time.perf_counter()
    while time.perf_counter() - t < seconds:
        runner.run(states[:batch], legal[:batch])
        n += batch
    return (time.perf_counter() - t) / n * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    ap.add_argument("--board", default="hex8")
    ap.add_argument("--players", type=int, default=2)
    ap.add_argument("--positions", type=int, default=512)
    ap.add_argument("--batch", type=int, default=48)
    ap.add_argument("--seconds", type=float, default=3.0)
    a = ap.parse_args()
    torch.set_num_threads(1)
    net = load_model(a.model)
    states = random_positions(a.board, a.players, a.positions, seed=1)
    legal = [legal_indices(s)[1] for s in states]
    calibration = torch.from_numpy(encode_batch(random_positions(a.board, a.players, a.positions, seed=99)))
    print(f"{a.model}, {a.positions} positions, batch {a.batch}, one thread, CPU bf16 native: {cpu_has_bf16()}")
    reference = BatchRunner(net, device="cpu")
    bf16 = BatchRunner(net, device="cpu")
    bf16.dtype = torch.bfloat16  # forced: where bf16 is not native this shows the emulated cost
    int8 = BatchRunner(net, device="cpu")
    int8.model = Int8Trunk(net, calibration).eval()
    want = reference.evaluate(states, legal)
    base_ms = time_run(reference, states, legal, a.batch, a.seconds)
    print(f"{'precision':<11} {'ms/pos':>7} {'speed-up':>8} {'value diff mean/p99/max':>24} "
          f"{'policy TV mean/p99':>19} {'same best move':>14}")
    for name, runner in (("fp32", reference), ("bf16", bf16), ("int8 trunk", int8)):
        ms = base_ms if runner is reference else time_run(runner, states, legal, a.batch, a.seconds)
        got = runner.evaluate(states, legal)
        dv = np.array([np.abs(x.values - y.values).max() for x, y in zip(want, got)])
        tv = np.array([0.5 * np.abs(x.priors - y.priors).sum() for x, y in zip(want, got)])
        same = np.mean([x.priors.argmax() == y.priors.argmax() for x, y in zip(want, got)])
        print(f"{name:<11} {ms:7.3f} {base_ms / ms:7.2f}x {dv.mean():8.4f}/{np.quantile(dv, .99):.4f}/{dv.max():.4f} "
              f"{tv.mean():10.4f}/{np.quantile(tv, .99):.4f} {same:14.3f}", flush=True)


if __name__ == "__main__":
    main()
