"""The residual policy/value net of one board, and its export format.

Trunk: a 3x3 stem and `blocks` residual blocks of `channels` channels, with
activations zeroed off the board after every block so hex boards' padding never
leaks into cells. Policy head: 1x1 convolutions to one logit per (plane, grid
point) of the board's policy layout (engine.nn.policy), plus the cell-less tail
moves from a masked average of the head's features; off-board grid points get a
large negative logit. Value head: a masked average, two linear layers and tanh,
one value per seat in the mover-relative frame of the encoding (slot 0 = the
player to move), each in [-1, 1].

Export is one torch file holding the state dict, the `NetConfig`, and the
encoding and policy versions, so the neural player and MCTS load a model
without knowing how it was built (`load_model`).
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Literal

import torch
from pydantic import BaseModel, Field
from torch import nn
from torch.nn import functional as F

from engine.errors import ModelFileError
from engine.files import write_atomic
from engine.nn.encoding import ENCODING_VERSION, NUM_PLANES
from engine.nn.grid import grid
from engine.nn.policy import POLICY_VERSION, layout

FORMAT = "ringrift-nn"
FORMAT_VERSION = 1
MASKED_LOGIT = -1.0e4  # representable in fp16 and bf16; exp() of it is 0

PRESETS: dict[str, dict[str, int]] = {
    "tiny": {"channels": 16, "blocks": 1, "policy_channels": 8, "value_channels": 8, "value_hidden": 32},
    "small": {"channels": 64, "blocks": 6, "policy_channels": 32, "value_channels": 32, "value_hidden": 128},
    "large": {"channels": 128, "blocks": 10, "policy_channels": 32, "value_channels": 32, "value_hidden": 256},
}


class NetConfig(BaseModel):
    """Size of a net; `preset` fills the sizes for tests (tiny) and real runs (small, large)."""

    model_config = {"extra": "forbid", "frozen": True}

    board_type: Literal["square8", "square19", "hex8", "hexagonal"]
    num_players: int = Field(ge=2, le=4)
    channels: int = Field(64, ge=1)
    blocks: int = Field(6, ge=0)
    policy_channels: int = Field(32, ge=1)
    value_channels: int = Field(32, ge=1)
    value_hidden: int = Field(128, ge=1)

    @classmethod
    def preset(cls, name: str, board_type: str, num_players: int) -> NetConfig:
        if name not in PRESETS:
            raise ValueError(f"unknown net preset {name!r}: expected one of {', '.join(PRESETS)}")
        return cls(board_type=board_type, num_players=num_players, **PRESETS[name])


class ResBlock(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(x + y) * mask


def _masked_mean(x: torch.Tensor, mask: torch.Tensor, cells: int) -> torch.Tensor:
    return (x * mask).sum(dim=(2, 3)) / cells


class RingRiftNet(nn.Module):
    """forward(planes (B, C, H, W)) -> (policy logits (B, policy_size), values (B, num_players))."""

    def __init__(self, cfg: NetConfig):
        super().__init__()
        self.cfg = cfg
        g = grid(cfg.board_type)
        lay = layout(cfg.board_type)
        self.num_planes, self.policy_size = lay.num_planes, lay.size
        self.cells = g.num_cells
        mask = torch.from_numpy(g.mask.copy()).view(1, 1, g.height, g.width)
        self.register_buffer("mask", mask, persistent=False)
        off = (mask.view(1, 1, -1) == 0).expand(1, lay.num_planes, g.area).reshape(1, -1)
        self.register_buffer("off_board", off, persistent=False)
        c = cfg.channels
        self.stem = nn.Conv2d(NUM_PLANES, c, 3, padding=1, bias=False)
        self.stem_bn = nn.BatchNorm2d(c)
        self.blocks = nn.ModuleList(ResBlock(c) for _ in range(cfg.blocks))
        self.p_conv = nn.Conv2d(c, cfg.policy_channels, 1, bias=False)
        self.p_bn = nn.BatchNorm2d(cfg.policy_channels)
        self.p_out = nn.Conv2d(cfg.policy_channels, lay.num_planes, 1)
        self.p_tail = nn.Linear(cfg.policy_channels, lay.tail_size)
        self.v_conv = nn.Conv2d(c, cfg.value_channels, 1, bias=False)
        self.v_bn = nn.BatchNorm2d(cfg.value_channels)
        self.v_fc1 = nn.Linear(cfg.value_channels, cfg.value_hidden)
        self.v_fc2 = nn.Linear(cfg.value_hidden, cfg.num_players)

    def forward(self, planes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mask = self.mask.to(planes.dtype)
        return self.heads(self.trunk(planes, mask), mask)

    def trunk(self, planes: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The stem and residual blocks: the features both heads read (bench/precision.py quantizes
        this part alone)."""
        x = F.relu(self.stem_bn(self.stem(planes))) * mask
        for block in self.blocks:
            x = block(x, mask)
        return x

    def heads(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Policy logits and values from the trunk's features."""
        p = F.relu(self.p_bn(self.p_conv(x))) * mask
        spatial = self.p_out(p).flatten(1).masked_fill(self.off_board, MASKED_LOGIT)
        tail = self.p_tail(_masked_mean(p, mask, self.cells))
        logits = torch.cat([spatial, tail.to(spatial.dtype)], dim=1)
        v = F.relu(self.v_bn(self.v_conv(x)))
        v = F.relu(self.v_fc1(_masked_mean(v, mask, self.cells)))
        return logits, torch.tanh(self.v_fc2(v))


def build_model(cfg: NetConfig) -> RingRiftNet:
    return RingRiftNet(cfg)


def export_payload(model: RingRiftNet) -> dict:
    """Everything a loader needs, with the weights copied to CPU (a snapshot: training may go on)."""
    cfg = model.cfg
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION, "encoding_version": ENCODING_VERSION,
        "policy_version": POLICY_VERSION, "policy_size": model.policy_size,
        "config": cfg.model_dump(),
        "state_dict": {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()},
    }


def payload_bytes(payload: dict) -> bytes:
    buf = io.BytesIO()
    torch.save(payload, buf)
    return buf.getvalue()


def model_bytes(model: RingRiftNet) -> bytes:
    return payload_bytes(export_payload(model))


def save_model(model: RingRiftNet, path: str | Path) -> Path:
    """Write the export atomically (temporary file, then rename)."""
    return write_atomic(path, model_bytes(model))


def check_model_file(path: str | Path) -> Path:
    """`path` as a Path if it can hold a model export; ModelFileError naming it when it is missing,
    a folder or empty (an interrupted write or copy: torch would say only EOFError, click "Aborted.")."""
    path = Path(path)
    if not path.exists():
        raise ModelFileError(path, "missing", kind="missing")
    if not path.is_file():
        raise ModelFileError(path, "a folder or device, not a model file")
    if path.stat().st_size == 0:
        raise ModelFileError(path, "empty (0 bytes): a write or copy of it was interrupted")
    return path


def _cause(exc: BaseException) -> str:
    """A short cause for a message: torch's own texts run to many lines (and the weights-only one
    advises unpickling code, which this loader never does)."""
    text = str(exc).strip()
    line = text.splitlines()[0] if text else ""
    if not line or len(line) > 160 or "weights_only" in text:
        return type(exc).__name__
    return f"{type(exc).__name__}: {line}"


def read_payload(source: str | Path | bytes) -> dict:
    """Read and check an export (weights only: no code is unpickled). Whatever is wrong with it
    (missing, empty, truncated, foreign, another version) is a ModelFileError naming the file."""
    if isinstance(source, (bytes, bytearray)):
        name: str | Path = "<model bytes>"
        stream = io.BytesIO(source)
    else:
        name = stream = check_model_file(source)
    try:
        payload = torch.load(stream, map_location="cpu", weights_only=True)
    except Exception as exc:  # EOFError, RuntimeError, UnpicklingError, OSError... on a damaged file
        raise ModelFileError(name, f"unreadable ({_cause(exc)}): it is truncated, damaged or not a model "
                                   "export") from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ModelFileError(name, f"not a {FORMAT} export (a torch file of something else)")
    for key, want in (("encoding_version", ENCODING_VERSION), ("policy_version", POLICY_VERSION)):
        if payload.get(key) != want:
            raise ModelFileError(name, f"an export with {key} {payload.get(key)}, this code needs {want}",
                                 "retrain or convert the model, or point at another model file")
    return payload


def load_model(source: str | Path | bytes, device: str | torch.device = "cpu") -> RingRiftNet:
    """A model from `save_model` / `model_bytes`, in eval mode on `device`; ModelFileError naming the
    file when it cannot be one (read_payload), or when its weights do not fit the net it describes."""
    payload = read_payload(source)
    try:
        model = RingRiftNet(NetConfig(**payload["config"]))
        model.load_state_dict(payload["state_dict"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        name = "<model bytes>" if isinstance(source, (bytes, bytearray)) else source
        raise ModelFileError(name, f"an export whose weights do not fit its net ({_cause(exc)})") from exc
    return model.to(device).eval()
