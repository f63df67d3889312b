"""An in-process batched inference server: one thread owns the model, many games submit.

Games (threads) submit positions with `submit` / `evaluate`; the server thread
takes pending positions in arrival order, waits at most `batch_timeout_ms` from
the oldest one for the batch to reach `max_batch_size`, runs one forward pass
(engine.nn.runner.BatchRunner) and answers every request in it. A request of
several positions may span batches.

Weight updates use a separate control path: `reload` prepares the new weights in
the caller's thread (deserialised, checked), then queues them on a control queue
that the server drains before it forms each batch, so a reload waits for at most
the batch already running, never behind queued inference requests. Each reload
carries a trace id and is timed: time queued (submitted -> picked up), time to
load (load_state_dict), and time until the first batch run on the new weights
has finished (`ReloadTrace`).
"""
from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field

from engine.nn.model import RingRiftNet, read_payload
from engine.nn.runner import BatchRunner, Prediction
from engine.state import GameState

log = logging.getLogger(__name__)


class InferenceConfig(BaseModel):
    model_config = {"extra": "forbid"}

    max_batch_size: int = Field(256, ge=1)
    batch_timeout_ms: float = Field(5.0, ge=0)
    device: str = "auto"
    amp: bool = True
    cuda_graphs: bool = Field(True, description="capture the forward as CUDA graphs (CUDA only)")
    cpu_bf16: bool = Field(False, description="bf16 forward on CPUs with bf16 instructions (1.5-1.6x "
                                              "the forward, values within about 0.01)")


class _Request:
    def __init__(self, states: Sequence[GameState], legal: Sequence[np.ndarray]):
        if len(states) != len(legal):
            raise ValueError("one array of legal indices per state")
        self.states, self.legal = list(states), list(legal)
        self.results: list[Prediction | None] = [None] * len(self.states)
        self.taken = 0  # positions handed to a batch so far
        self.done = 0
        self.error: BaseException | None = None
        self.submitted = time.perf_counter()
        self.event = threading.Event()

    def wait(self, timeout: float | None = None) -> list[Prediction]:
        if not self.event.wait(timeout):
            raise TimeoutError(f"inference request not answered within {timeout} s")
        if self.error is not None:
            raise RuntimeError(f"inference failed: {self.error}") from self.error
        return self.results  # type: ignore[return-value]


@dataclass
class ReloadTrace:
    """Timings of one weight reload (seconds; None until reached)."""

    reload_id: str
    prepare_s: float = 0.0
    queued_s: float | None = None
    load_s: float | None = None
    first_use_s: float | None = None
    error: str | None = None
    submitted: float = field(default=0.0, repr=False)
    loaded_at: float | None = field(default=None, repr=False)

    @property
    def total_s(self) -> float | None:
        """Submitted -> first batch on the new weights done."""
        if self.first_use_s is None or self.queued_s is None or self.load_s is None:
            return None
        return self.queued_s + self.load_s + self.first_use_s


class ReloadTicket:
    def __init__(self, trace: ReloadTrace, state_dict: dict):
        self.trace, self.state_dict = trace, state_dict
        self.loaded = threading.Event()
        self.used = threading.Event()

    def wait(self, timeout: float | None = None, *, until_used: bool = False) -> ReloadTrace:
        event = self.used if until_used else self.loaded
        if not event.wait(timeout):
            raise TimeoutError(f"reload {self.trace.reload_id} not {'used' if until_used else 'loaded'} "
                               f"within {timeout} s")
        return self.trace


@dataclass
class ServerStats:
    batches: int = 0
    positions: int = 0
    forward_s: float = 0.0
    batch_sizes: Counter = field(default_factory=Counter)

    @property
    def mean_batch(self) -> float:
        return self.positions / self.batches if self.batches else 0.0


class InferenceServer:
    """Owns `model` in a thread; use as a context manager or call start() / stop()."""

    def __init__(self, model: RingRiftNet, cfg: InferenceConfig | None = None):
        self.cfg = cfg or InferenceConfig()
        self.runner = BatchRunner(model, device=self.cfg.device, amp=self.cfg.amp,
                                  cuda_graphs=self.cfg.cuda_graphs, max_batch_size=self.cfg.max_batch_size,
                                  cpu_bf16=self.cfg.cpu_bf16)
        self.model_cfg = model.cfg
        self._cond = threading.Condition()
        self._requests: deque[_Request] = deque()
        self._pending = 0  # positions submitted and not yet taken into a batch
        self._control: deque[ReloadTicket] = deque()
        self._awaiting_use: list[ReloadTicket] = []
        self._thread: threading.Thread | None = None
        self._running = False
        self.stats = ServerStats()
        self.reloads: list[ReloadTrace] = []

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> InferenceServer:
        if self._thread is None:
            self._running = True
            self._thread = threading.Thread(target=self._loop, name="inference-server", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        with self._cond:
            self._running = False
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        with self._cond:
            for req in self._requests:
                req.error = RuntimeError("the inference server stopped")
                req.event.set()
            self._requests.clear()

    def __enter__(self) -> InferenceServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- inference -------------------------------------------------------------------------------
    def submit(self, states: Sequence[GameState], legal: Sequence[np.ndarray]) -> _Request:
        req = _Request(states, legal)
        if not req.states:
            req.event.set()
            return req
        with self._cond:
            if not self._running:
                raise RuntimeError("the inference server is not running: call start()")
            self._requests.append(req)
            self._pending += len(req.states)
            self._cond.notify_all()
        return req

    def evaluate(self, states: Sequence[GameState], legal: Sequence[np.ndarray],
                 timeout: float | None = None) -> list[Prediction]:
        return self.submit(states, legal).wait(timeout)

    # -- control path ----------------------------------------------------------------------------
    def reload(self, source: RingRiftNet | dict | str | Path | bytes, reload_id: str | None = None) -> ReloadTicket:
        """Queue new weights (a model, a state dict, or an export file / bytes); returns at once
        with a ticket whose trace fills in as the server loads and first uses them."""
        t0 = time.perf_counter()
        if isinstance(source, RingRiftNet):
            state_dict = {k: v.detach().to("cpu", copy=True) for k, v in source.state_dict().items()}
        elif isinstance(source, dict):
            state_dict = source
        else:
            payload = read_payload(source)
            if payload["config"] != self.model_cfg.model_dump():
                raise ValueError(f"reload: the export's net {payload['config']} differs from the served "
                                 f"{self.model_cfg.model_dump()}")
            state_dict = payload["state_dict"]
        trace = ReloadTrace(reload_id or uuid.uuid4().hex[:12], prepare_s=time.perf_counter() - t0)
        ticket = ReloadTicket(trace, state_dict)
        with self._cond:
            trace.submitted = time.perf_counter()
            self._control.append(ticket)
            self.reloads.append(trace)
            self._cond.notify_all()
        return ticket

    def _apply_reload(self, ticket: ReloadTicket) -> None:
        trace = ticket.trace
        start = time.perf_counter()
        trace.queued_s = start - trace.submitted
        try:
            self.runner.load_state_dict(ticket.state_dict)
        except Exception as exc:  # bad weights: keep serving the old ones
            trace.error = f"{type(exc).__name__}: {exc}"
            log.error("reload %s failed: %s", trace.reload_id, trace.error)
            ticket.loaded.set()
            ticket.used.set()
            return
        trace.loaded_at = time.perf_counter()
        trace.load_s = trace.loaded_at - start
        ticket.state_dict = {}
        self._awaiting_use.append(ticket)
        ticket.loaded.set()
        log.info("reload %s: queued %.1f ms, loaded in %.1f ms", trace.reload_id, trace.queued_s * 1e3,
                 trace.load_s * 1e3)

    # -- the server thread -------------------------------------------------------------------------
    def _next_batch(self) -> tuple[list[ReloadTicket], list[tuple[_Request, int, int]]]:
        """Wait for work; return control items to apply first, or the segments of one batch."""
        max_b = self.cfg.max_batch_size
        timeout = self.cfg.batch_timeout_ms / 1000.0
        with self._cond:
            while self._running:
                if self._control:
                    controls = list(self._control)
                    self._control.clear()
                    return controls, []
                if self._pending >= max_b or (self._requests and time.perf_counter()
                                              >= self._requests[0].submitted + timeout):
                    break
                wait = (self._requests[0].submitted + timeout - time.perf_counter()) if self._requests else None
                self._cond.wait(wait)
            if not self._running:
                return [], []
            segments, size = [], 0
            while self._requests and size < max_b:
                req = self._requests[0]
                take = min(len(req.states) - req.taken, max_b - size)
                segments.append((req, req.taken, req.taken + take))
                req.taken += take
                size += take
                if req.taken == len(req.states):
                    self._requests.popleft()
            self._pending -= size
            return [], segments

    def _run(self, segments: list[tuple[_Request, int, int]]) -> None:
        states = [s for req, a, b in segments for s in req.states[a:b]]
        legal = [ix for req, a, b in segments for ix in req.legal[a:b]]
        t0 = time.perf_counter()
        try:
            preds = self.runner.run(states, legal)
        except Exception as exc:
            log.exception("inference batch of %d failed", len(states))
            for req, _, _ in segments:
                req.error = exc
                req.event.set()
            return
        now = time.perf_counter()
        st = self.stats
        st.batches += 1
        st.positions += len(states)
        st.forward_s += now - t0
        st.batch_sizes[len(states)] += 1
        for ticket in self._awaiting_use:
            ticket.trace.first_use_s = now - ticket.trace.loaded_at
            ticket.used.set()
        self._awaiting_use.clear()
        i = 0
        for req, a, b in segments:
            req.results[a:b] = preds[i:i + b - a]
            i += b - a
            req.done += b - a
            if req.done == len(req.states):
                req.event.set()

    def _loop(self) -> None:
        while True:
            controls, segments = self._next_batch()
            for ticket in controls:
                self._apply_reload(ticket)
            if segments:
                self._run(segments)
            elif not controls and not self._running:
                return
