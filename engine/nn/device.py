"""Which device and precision to run on: CUDA, then Apple MPS, then CPU.

Every GPU-only speed-up (autocast, CUDA graphs) asks here first, so the same
code runs unchanged on a laptop CPU and on an H100. On CPU, bf16 is opt-in
(`cpu_bf16`): where the cores have bf16 instructions (AVX512-BF16 or AMX) a
bf16 forward of our nets is 1.5-1.6x faster, at a cost of about 0.002 in values
and 0.004 in policy total variation (bench/precision.py); elsewhere it would be
emulated and slower, so it stays fp32.
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


def cpu_has_bf16() -> bool:
    """Whether this CPU runs bf16 matrix work natively (AVX512-BF16 or AMX tiles)."""
    cpu = torch.cpu
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(cpu, name, lambda: False)() for name in checks)


def amp_dtype(device: torch.device, cpu_bf16: bool = False) -> torch.dtype | None:
    """Mixed-precision dtype for this device: bf16 on CUDA where supported, else fp16; on CPU
    bf16 when asked for (`cpu_bf16`) and native, else None (full precision); None on MPS."""
    if device.type == "cpu":
        return torch.bfloat16 if cpu_bf16 and cpu_has_bf16() else None
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def autocast(device: torch.device, dtype: torch.dtype | None):
    """An autocast context for `dtype`, or a no-op when dtype is None."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)
