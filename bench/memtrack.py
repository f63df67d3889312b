"""Peak tensor memory of some code, measured on any device (a CPU run included).

Why: the batched engine's GPU batch sizes (32k games) must fit in GPU memory, and a CPU-only
machine has no `torch.cuda.max_memory_allocated`. `LiveBytes` is a TorchDispatchMode that
sees every tensor an aten op returns while it is active, counts each new storage's bytes
until the last tensor using it is freed (weakref finalizers), and keeps the peak. It counts
only storages created under it (the inputs that were already there are reported apart by
the caller), and it measures tensor bytes: the CUDA caching allocator adds its rounding and
fragmentation on top (allow ~10-20%).
"""
from __future__ import annotations

import weakref
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten


def storage_bytes(tensors: Any) -> int:
    """Bytes of the distinct storages behind `tensors` (any nesting of lists / dicts)."""
    seen: dict[int, int] = {}
    for t in tree_flatten(tensors)[0]:
        if isinstance(t, torch.Tensor):
            st = t.untyped_storage()
            seen[st.data_ptr()] = st.nbytes()
    return sum(seen.values())


class LiveBytes(TorchDispatchMode):
    """Live and peak bytes of the tensor storages created while active."""

    def __init__(self) -> None:
        super().__init__()
        self.live = 0
        self.peak = 0
        self._storages: dict[int, list[int]] = {}  # data_ptr -> [bytes, tensors alive]
        self._excluded: set[int] = set()

    def exclude(self, tensors: Any) -> None:
        """Storages not to count (the state the code updates in place)."""
        for t in tree_flatten(tensors)[0]:
            if isinstance(t, torch.Tensor):
                self._excluded.add(t.untyped_storage().data_ptr())

    def reset_peak(self) -> None:
        self.peak = self.live

    def _release(self, key: int) -> None:
        entry = self._storages.get(key)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] == 0:
            self.live -= entry[0]
            del self._storages[key]

    def _track(self, t: torch.Tensor) -> None:
        st = t.untyped_storage()
        key, size = st.data_ptr(), st.nbytes()
        if size == 0 or key in self._excluded:
            return
        entry = self._storages.get(key)
        if entry is None:
            entry = self._storages[key] = [size, 0]
            self.live += size
            self.peak = max(self.peak, self.live)
        elif size > entry[0]:  # resized in place
            self.live += size - entry[0]
            entry[0] = size
            self.peak = max(self.peak, self.live)
        entry[1] += 1
        weakref.finalize(t, self._release, key)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor) and not t.is_meta:
                self._track(t)
        return out
