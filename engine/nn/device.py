"""Which device and precision to run on: CUDA, then Apple MPS, then CPU.

Every GPU-only speed-up (autocast, CUDA graphs) asks here first, so the same
code runs unchanged on a laptop CPU and on an H100.
"""
from __future__ import annotations

import contextlib

import torch


def pick_device(preference: str | None = "auto") -> torch.device:
    """'auto' (CUDA, else MPS, else CPU), or an explicit torch device string."""
    if preference not in (None, "auto"):
        return torch.device(preference)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def amp_dtype(device: torch.device) -> torch.dtype | None:
    """Mixed-precision dtype for this device: bf16 on CUDA where supported, else fp16;
    None (full precision) on CPU and MPS, where autocast does not pay."""
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def autocast(device: torch.device, dtype: torch.dtype | None):
    """An autocast context for `dtype`, or a no-op when dtype is None."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)
