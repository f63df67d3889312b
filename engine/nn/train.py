"""The training loop: replay window -> epochs of AdamW -> metrics, checkpoints, registry.

Samples come from the newest shards of a configuration (infra.shards.replay_window)
or are handed in. A seeded split holds out `val_fraction` for validation; each
epoch reports train and validation policy loss (cross-entropy against the sparse
target distribution), value loss (MSE over seats) and policy accuracy (the net's
top move equals the target's top move). The learning rate follows a cosine or a
step schedule per optimiser step. On CUDA the forward runs under autocast (bf16,
or fp16 with a gradient scaler); on CPU in full precision.

Checkpoints go through BackgroundCheckpointer, so an epoch is held only for the
weight snapshot; the final model is written, uploaded and registered as a
candidate with its parent, and only then does `train` wait for pending uploads.
"""
from __future__ import annotations

import logging
import math
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from pydantic import BaseModel, Field
from torch.nn import functional as F

from engine.nn.checkpoint import BackgroundCheckpointer
from engine.nn.device import amp_dtype, autocast, pick_device
from engine.nn.model import NetConfig, RingRiftNet, build_model, save_model
from infra.data_config import config_key
from infra.shards import Samples, SparsePolicy, replay_window

log = logging.getLogger(__name__)


class TrainConfig(BaseModel):
    """Hyper-parameters of one training run."""

    model_config = {"extra": "forbid"}

    epochs: int = Field(4, ge=1)
    batch_size: int = Field(256, ge=1)
    lr: float = Field(2e-3, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    schedule: Literal["cosine", "step", "constant"] = "cosine"
    warmup_steps: int = Field(0, ge=0)
    step_epochs: int = Field(2, ge=1, description="step schedule: epochs between decays")
    step_gamma: float = Field(0.3, gt=0, le=1)
    value_weight: float = Field(1.0, ge=0)
    val_fraction: float = Field(0.1, ge=0, lt=1)
    window: int = Field(500_000, ge=1, description="newest samples read from the shards")
    checkpoint_every: int = Field(1, ge=0, description="epochs between checkpoints; 0 = none")
    seed: int = 0
    device: str = "auto"
    amp: bool = True


@dataclass
class EpochMetrics:
    epoch: int
    train_policy_loss: float
    train_value_loss: float
    val_policy_loss: float | None
    val_value_loss: float | None
    val_policy_acc: float | None
    lr: float
    seconds: float
    samples_per_s: float
    checkpoint_block_s: float = 0.0


@dataclass
class TrainResult:
    model: RingRiftNet
    epochs: list[EpochMetrics]
    model_path: Path | None = None
    model_id: str | None = None
    artifact_key: str | None = None
    uploads: dict[str, int] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def final(self) -> dict[str, Any]:
        return asdict(self.epochs[-1]) if self.epochs else {}


def _sparse_batch(policy: SparsePolicy, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row in batch, policy index, probability) of every target pair of the samples `ids`."""
    starts, stops = policy.offsets[ids], policy.offsets[ids + 1]
    lengths = stops - starts
    rows = np.repeat(np.arange(len(ids)), lengths)
    pos = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths) + np.repeat(starts, lengths)
    return rows, policy.indices[pos].astype(np.int64), policy.probs[pos]


def _top_targets(policy: SparsePolicy) -> np.ndarray:
    """Each sample's most probable target index (for accuracy)."""
    top = np.full(len(policy), -1, np.int64)
    for i in range(len(policy)):
        a, b = policy.offsets[i], policy.offsets[i + 1]
        if b > a:
            top[i] = policy.indices[a + int(np.argmax(policy.probs[a:b]))]
    return top


def _as_sparse(policy: np.ndarray | SparsePolicy) -> SparsePolicy:
    if isinstance(policy, SparsePolicy):
        return policy
    rows, cols = np.nonzero(policy)
    offsets = np.zeros(len(policy) + 1, np.int64)
    np.add.at(offsets, rows + 1, 1)
    return SparsePolicy(cols.astype(np.int32), policy[rows, cols].astype(np.float32), np.cumsum(offsets))


class _Batches:
    """Device tensors for batches of sample ids."""

    def __init__(self, samples: Samples, device: torch.device):
        self.features = samples.features
        self.policy = _as_sparse(samples.policy)
        self.values = samples.values.astype(np.float32)
        self.top = _top_targets(self.policy)
        self.device = device

    def get(self, ids: np.ndarray):
        dev = self.device
        x = torch.from_numpy(np.ascontiguousarray(self.features[ids], dtype=np.float32)).to(dev, non_blocking=True)
        rows, cols, probs = _sparse_batch(self.policy, ids)
        v = torch.from_numpy(self.values[ids]).to(dev, non_blocking=True)
        return (x, torch.from_numpy(rows).to(dev), torch.from_numpy(cols).to(dev),
                torch.from_numpy(probs).to(dev), v, torch.from_numpy(self.top[ids]).to(dev))


def _losses(model: RingRiftNet, batch, dtype, device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    x, rows, cols, probs, v, top = batch
    with autocast(device, dtype):
        logits, values = model(x)
    logp = F.log_softmax(logits.float(), dim=1)
    # per row that has a policy target: value-only rows (engine.nn.samples, value_rows) add nothing
    has_target = torch.zeros(x.shape[0], device=logp.device).index_fill_(0, rows, 1.0)
    policy_loss = -(logp[rows, cols] * probs).sum() / has_target.sum().clamp(min=1.0)
    value_loss = F.mse_loss(values.float(), v)
    correct = (logits.argmax(dim=1) == top).float().sum()
    return policy_loss, value_loss, correct


def _lr_factor(cfg: TrainConfig, step: int, total: int, steps_per_epoch: int) -> float:
    if cfg.warmup_steps and step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    if cfg.schedule == "cosine":
        span = max(total - cfg.warmup_steps, 1)
        return 0.5 * (1 + math.cos(math.pi * min(step - cfg.warmup_steps, span) / span))
    if cfg.schedule == "step":
        return cfg.step_gamma ** ((step // max(steps_per_epoch, 1)) // cfg.step_epochs)
    return 1.0


@torch.no_grad()
def evaluate(model: RingRiftNet, data: _Batches, ids: np.ndarray, batch_size: int, dtype, device):
    """(policy loss, value loss, policy accuracy) over the samples `ids`."""
    model.eval()
    totals = np.zeros(3)
    for i in range(0, len(ids), batch_size):
        chunk = ids[i:i + batch_size]
        p, v, c = _losses(model, data.get(chunk), dtype, device)
        totals += (p.item() * len(chunk), v.item() * len(chunk), c.item())
    return tuple(totals / max(len(ids), 1))


def train_on_samples(
    model: RingRiftNet,
    samples: Samples,
    cfg: TrainConfig,
    *,
    checkpointer: BackgroundCheckpointer | None = None,
    run_name: str = "run",
    val_samples: Samples | None = None,
) -> TrainResult:
    """Train `model` in place on `samples`; checkpoints (if any) go through `checkpointer`.

    `val_samples` (held-out games, split by game id and stable across iterations) are the
    validation set when given; otherwise `cfg.val_fraction` of `samples` is drawn at random,
    which leaks when the samples were trained on before (a parent model saw them)."""
    device = pick_device(cfg.device)
    dtype = amp_dtype(device) if cfg.amp else None
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    model.to(device)
    if val_samples is not None and len(val_samples):
        data = _Batches(Samples.concat([samples, val_samples]), device)
        train_ids = rng.permutation(len(samples))
        val_ids = np.arange(len(samples), len(samples) + len(val_samples))
        n_val = len(val_ids)
    else:
        data = _Batches(samples, device)
        order = rng.permutation(len(samples))
        n_val = int(round(len(samples) * cfg.val_fraction)) if len(samples) > 1 else 0
        val_ids, train_ids = np.sort(order[:n_val]), order[n_val:]
    if len(train_ids) == 0:
        raise ValueError("no training samples left after the validation split")
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
    steps_per_epoch = math.ceil(len(train_ids) / cfg.batch_size)
    total = steps_per_epoch * cfg.epochs
    step, epochs = 0, []
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        t0 = time.perf_counter()
        perm = rng.permutation(train_ids)
        sums = np.zeros(2)
        for i in range(0, len(perm), cfg.batch_size):
            ids = perm[i:i + cfg.batch_size]
            for group in opt.param_groups:
                group["lr"] = cfg.lr * _lr_factor(cfg, step, total, steps_per_epoch)
            p_loss, v_loss, _ = _losses(model, data.get(ids), dtype, device)
            opt.zero_grad(set_to_none=True)
            scaler.scale(p_loss + cfg.value_weight * v_loss).backward()
            scaler.step(opt)
            scaler.update()
            sums += (p_loss.item() * len(ids), v_loss.item() * len(ids))
            step += 1
        seconds = time.perf_counter() - t0
        val = evaluate(model, data, val_ids, cfg.batch_size, dtype, device) if n_val else (None, None, None)
        blocked = 0.0
        if checkpointer is not None and cfg.checkpoint_every and epoch % cfg.checkpoint_every == 0:
            blocked = checkpointer.save(model, f"{run_name}-e{epoch:03d}.pt")
        m = EpochMetrics(epoch, *(sums / len(train_ids)), *val, lr=opt.param_groups[0]["lr"],
                         seconds=seconds, samples_per_s=len(train_ids) / seconds, checkpoint_block_s=blocked)
        epochs.append(m)
        log.info("epoch %d: %s", epoch, {k: v for k, v in asdict(m).items() if v is not None})
    model.eval()
    return TrainResult(model, epochs)


def train(
    shards_dir: Path,
    board_type: str,
    num_players: int,
    net: NetConfig | RingRiftNet,
    cfg: TrainConfig,
    *,
    out_dir: Path,
    store: Any | None = None,
    registry: Any | None = None,
    parent_id: str | None = None,
    iteration: int = 0,
) -> TrainResult:
    """Train on the newest `cfg.window` samples of a configuration and register the candidate.

    `net` is a config (fresh weights) or the parent model to continue from. Checkpoints
    and the final model are written under `out_dir` and uploaded through `store`
    (an infra.storage.ArtifactStore) in the background; the candidate is registered in
    `registry` (infra.registry.ModelRegistry) with `parent_id`. Waits for uploads at the end.
    """
    samples, skipped = replay_window(Path(shards_dir), board_type, num_players, cfg.window)
    if samples is None:
        raise ValueError(f"no training samples for {config_key(board_type, num_players)} in {shards_dir}")
    model = build_model(net) if isinstance(net, NetConfig) else net
    if (model.cfg.board_type, model.cfg.num_players) != (board_type, num_players):
        raise ValueError(f"the net is for {model.cfg.board_type} {model.cfg.num_players}p, "
                         f"the data for {board_type} {num_players}p")
    config = config_key(board_type, num_players)
    model_id = f"{config}-i{iteration}-{uuid.uuid4().hex[:8]}"
    checkpointer = BackgroundCheckpointer(Path(out_dir) / "checkpoints", store, f"checkpoints/{config}/{model_id}")
    result = train_on_samples(model, samples, cfg, checkpointer=checkpointer, run_name=model_id)
    path = save_model(result.model, Path(out_dir) / f"{model_id}.pt")
    key = f"models/{config}/{model_id}.pt"
    if store is not None:
        store.save_and_upload(path, key)
    result.uploads = checkpointer.wait()
    metrics = {**result.final, "samples": len(samples), "skipped_shards": len(skipped)}
    if registry is not None:
        registry.register(board_type, num_players, path=str(path), artifact_key=key if store is not None else None,
                          parent_id=parent_id, iteration=iteration, metrics=metrics, model_id=model_id)
    result.model_path, result.model_id = path, model_id
    result.artifact_key = key if store is not None else None
    return result
