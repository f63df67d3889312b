"""One batched forward pass: states + their legal policy indices -> priors and values.

`BatchRunner` owns a model on a device and does the work of one batch: encode
the states (one array operation over the batch), run the net (autocast on CUDA, and on
CPUs with bf16 instructions when asked: `cpu_bf16`),
gather the logits of each position's legal moves on the device and softmax them
there, so only a few numbers per position cross back to the host instead of
the whole policy vector (150k logits per position on the hexagonal board).

On CUDA, the forward pass can be captured as CUDA graphs, one per power-of-two
batch bucket, captured on first use: a replay skips Python's per-layer launch
cost, which dominates small batches. Weight reloads copy into the same
parameter tensors (load_state_dict), so captured graphs stay valid. On CPU and
MPS graphs are off and the plain forward runs.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from engine.nn.device import amp_dtype, autocast, pick_device
from engine.nn.encoding import encode_batch
from engine.nn.model import RingRiftNet
from engine.state import GameState

log = logging.getLogger(__name__)


@dataclass
class Prediction:
    """Priors over the legal indices given (0 where the index was -1) and the net's
    values in the mover-relative frame (slot 0 = the player to move)."""

    priors: np.ndarray
    values: np.ndarray


class GraphedForward:
    """The model's forward pass as CUDA graphs, one per batch bucket (CUDA only)."""

    def __init__(self, model: RingRiftNet, dtype: torch.dtype | None, max_batch: int):
        self.model, self.dtype = model, dtype
        self.buckets = [1 << i for i in range(max(max_batch - 1, 1).bit_length() + 1)]
        self.graphs: dict[int, tuple] = {}

    def _bucket(self, b: int) -> int:
        return next((k for k in self.buckets if k >= b), b)

    def _capture(self, bucket: int, like: torch.Tensor):
        static_in = torch.zeros((bucket, *like.shape[1:]), dtype=like.dtype, device=like.device)
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side), torch.no_grad():
            for _ in range(3):
                with torch.autocast("cuda", dtype=self.dtype or torch.float32, enabled=self.dtype is not None,
                                    cache_enabled=False):
                    self.model(static_in)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        # thread_local: the server captures in its own thread while others may use CUDA (a reload's
        # weight snapshot copies to the host); in the default "global" mode their work would
        # invalidate the capture or fail with "operation not permitted when stream is capturing".
        with torch.cuda.graph(graph, capture_error_mode="thread_local"), torch.no_grad():
            with torch.autocast("cuda", dtype=self.dtype or torch.float32, enabled=self.dtype is not None,
                                cache_enabled=False):
                out = self.model(static_in)
        return graph, static_in, out

    def __call__(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b = x.shape[0]
        bucket = self._bucket(b)
        if bucket not in self.graphs:
            self.graphs[bucket] = self._capture(bucket, x)
        graph, static_in, (logits, values) = self.graphs[bucket]
        static_in[:b].copy_(x)
        graph.replay()
        return logits[:b], values[:b]


class BatchRunner:
    """Runs batches through one model; not thread-safe (one owner thread, e.g. the server)."""

    def __init__(self, model: RingRiftNet, *, device: str | torch.device = "auto", amp: bool = True,
                 cuda_graphs: bool = True, max_batch_size: int = 256, cpu_bf16: bool = False):
        self.device = device if isinstance(device, torch.device) else pick_device(device)
        self.model = model.to(self.device).eval()
        self.dtype = amp_dtype(self.device, cpu_bf16) if amp else None
        self.max_batch_size = max_batch_size
        self.graphed: GraphedForward | None = None
        self._staging: torch.Tensor | None = None
        self._uploaded: torch.cuda.Event | None = None  # the last copy out of the staging buffer
        if cuda_graphs and self.device.type == "cuda":
            self.graphed = GraphedForward(self.model, self.dtype, max_batch_size)

    def _to_device(self, planes: np.ndarray) -> torch.Tensor:
        """Host planes -> device; on CUDA through one reused pinned buffer (pinning per call costs
        more than it saves). The copy is asynchronous, so before the buffer is written again the
        previous copy out of it must have finished (an event, not a device-wide sync): `run`
        waits for its results anyway, but a bare `forward` (the benchmark's) need not."""
        x = torch.from_numpy(planes)
        if self.device.type != "cuda":
            return x.to(self.device)
        b = x.shape[0]
        if self._uploaded is not None:
            self._uploaded.synchronize()
        if self._staging is None or self._staging.shape[0] < b or self._staging.shape[1:] != x.shape[1:]:
            self._staging = torch.empty((max(b, self.max_batch_size), *x.shape[1:]), dtype=x.dtype,
                                        device="cpu", pin_memory=True)
        self._staging[:b].copy_(x)
        out = self._staging[:b].to(self.device, non_blocking=True)
        if self._uploaded is None:
            self._uploaded = torch.cuda.Event()
        self._uploaded.record()
        return out

    def forward(self, planes: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        x = self._to_device(planes)
        if self.graphed is not None and x.shape[0] <= self.max_batch_size:
            try:
                return self.graphed(x)
            except RuntimeError as exc:  # capture can fail on exotic setups: fall back for good
                log.warning("CUDA graph capture failed (%s); running the plain forward", exc)
                self.graphed = None
        with torch.inference_mode(), autocast(self.device, self.dtype):
            return self.model(x)

    @torch.inference_mode()
    def run(self, states: Sequence[GameState], legal: Sequence[np.ndarray]) -> list[Prediction]:
        """Predictions for up to max_batch_size states (legal[i] = policy indices of state i)."""
        logits, values = self.forward(encode_batch(states))
        width = max((len(ix) for ix in legal), default=0) or 1
        idx = np.zeros((len(states), width), np.int64)
        valid = np.zeros((len(states), width), bool)
        for i, ix in enumerate(legal):
            idx[i, : len(ix)] = np.maximum(ix, 0)
            valid[i, : len(ix)] = ix >= 0
        valid_t = torch.from_numpy(valid).to(self.device)
        picked = logits.gather(1, torch.from_numpy(idx).to(self.device)).float()
        priors = torch.softmax(picked.masked_fill(~valid_t, float("-inf")), dim=1)
        priors = torch.nan_to_num(priors, nan=0.0).cpu().numpy()
        vals = values.float().cpu().numpy()
        return [Prediction(priors[i, : len(ix)], vals[i]) for i, ix in enumerate(legal)]

    def evaluate(self, states: Sequence[GameState], legal: Sequence[np.ndarray]) -> list[Prediction]:
        """Any number of states, in chunks of max_batch_size (the synchronous, server-less path)."""
        out: list[Prediction] = []
        for i in range(0, len(states), self.max_batch_size):
            out.extend(self.run(states[i:i + self.max_batch_size], legal[i:i + self.max_batch_size]))
        return out

    def load_state_dict(self, state_dict: dict) -> None:
        """Copy new weights into the model's own tensors (captured graphs stay valid)."""
        self.model.load_state_dict(state_dict)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
