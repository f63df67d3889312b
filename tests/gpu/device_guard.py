"""A CPU stand-in for an accelerator: finds what would break (or stall) only on CUDA.

Why: on a CPU-only machine every tensor is on the CPU, so a factory call that forgets
`device=` or a `torch.from_numpy` array that is never moved works here and fails on a GPU
with a device mismatch. `DeviceGuard` is a `TorchFunctionMode` that runs the code with a
pretend device, `DEV` (torch.device("cpu", 0): real CPU memory, but a distinct device
object), and follows every tensor's *virtual* device beside its real one:

- a tensor made with `device=DEV` (or moved there with `.to(DEV)`), or computed from
  one, is on the device; `Tensor.device` reports DEV for it, so `device=x.device` keeps
  code on the device as it would on CUDA;
- a factory call with no `device=` (the bug this looks for), `torch.from_numpy`,
  `.cpu()` and a factory with an explicit CPU device make host tensors.

It records, by the file and line of the calling code under `roots`:
- `factories`: factory calls (zeros, ones, full, empty, arange, tensor, rand...) without
  an explicit `device=`;
- `mismatches`: an op mixing a device tensor with a host tensor of one or more
  dimensions (CUDA raises there; a CPU 0-dim scalar and CPU indices are allowed, as on CUDA);
- `syncs`: operations that wait for the device (`.item()`, `.tolist()`, `bool(t)`,
  `.cpu()`, `nonzero`, boolean-mask indexing, `torch.equal`...) on device tensors.

The mode is thread-local: enter the same guard in every thread that runs code (`wrap`).
"""
from __future__ import annotations

import sys
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten

DEV = torch.device("cpu", 0)
REPO = Path(__file__).resolve().parents[2]
_TORCH_DIR = str(Path(torch.__file__).resolve().parent)
_THIS = str(Path(__file__).resolve())

FACTORIES = {
    torch.zeros, torch.ones, torch.full, torch.empty, torch.arange, torch.tensor, torch.as_tensor,
    torch.randint, torch.rand, torch.randn, torch.randperm, torch.linspace, torch.logspace,
    torch.eye, torch.empty_strided, torch.range, torch.tril_indices, torch.triu_indices,
    torch.normal, torch.scalar_tensor,
}
# Calls that make the host wait for the device (on CUDA); counted, not failed.
SYNC_METHODS = {"item", "tolist", "cpu", "numpy", "__bool__", "__int__", "__float__", "__index__",
                "nonzero", "equal", "masked_select", "unique", "unique_consecutive",
                "repeat_interleave", "argwhere", "allclose"}
_NO_CHECK = {"copy_", "to", "cpu", "cuda", "__repr__", "__format__", "__str__", "numpy", "tolist",
             "item", "__bool__", "__int__", "__float__", "__index__", "__len__", "__iter__",
             "__array__", "__reduce_ex__", "__deepcopy__", "set_"}


def _is_dev(device: Any) -> bool:
    return device is not None and torch.device(device) == DEV


def _tag(x: Any) -> str | None:
    return getattr(x, "_vdev", None) if isinstance(x, torch.Tensor) else None


def _set(x: Any, tag: str | None) -> None:
    if tag is None:
        return
    for t in tree_flatten(x)[0]:
        if isinstance(t, torch.Tensor):
            try:
                t._vdev = tag
            except (AttributeError, RuntimeError):
                pass


def _name(func: Any) -> str:
    name = getattr(func, "__name__", "")
    if name == "__get__":  # a Tensor property read
        return "get:" + getattr(getattr(func, "__self__", None), "__name__", "?")
    return name


class DeviceGuard(TorchFunctionMode):
    """Records CUDA-only hazards of code under `roots` (repository-relative folders)."""

    def __init__(self, roots: tuple[str, ...] = ("engine/",)) -> None:
        super().__init__()
        self.roots = tuple(roots)
        self.factories: Counter[str] = Counter()
        self.mismatches: Counter[str] = Counter()
        self.syncs: Counter[str] = Counter()
        self._lock = threading.Lock()

    # -- attribution -------------------------------------------------------------------------------
    def _caller(self, direct: bool) -> str | None:
        """`file:line` of the code under `roots` that made this call. `direct`: only when it
        called torch itself (a factory call inside torch's own Python is torch's business)."""
        f = sys._getframe(2)
        while f is not None:
            fn = f.f_code.co_filename
            if fn == _THIS:
                f = f.f_back
                continue
            if fn.startswith(_TORCH_DIR):
                if direct:
                    return None
                f = f.f_back
                continue
            try:
                rel = Path(fn).resolve().relative_to(REPO).as_posix()
            except ValueError:
                return None
            return f"{rel}:{f.f_lineno}" if rel.startswith(self.roots) else None
        return None

    def _record(self, counter: Counter, what: str, direct: bool) -> None:
        where = self._caller(direct)
        if where is not None:
            with self._lock:
                counter[f"{where} {what}"] += 1

    # -- the mode ------------------------------------------------------------------------------------
    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = _name(func)
        if name == "get:device":
            out = func(*args, **kwargs)
            return DEV if _tag(args[0]) == "dev" else out
        if func in FACTORIES:
            out = func(*args, **kwargs)
            dev = kwargs.get("device")
            if dev is None and not (func is torch.as_tensor and _tag(args[0]) is not None):
                self._record(self.factories, f"torch.{name}", direct=True)
                _set(out, "host")
            elif dev is not None:
                _set(out, "dev" if _is_dev(dev) else "host")
            else:
                _set(out, _tag(args[0]))
            return out
        flat = [t for t in tree_flatten((args, kwargs))[0] if isinstance(t, torch.Tensor)]
        on_dev = any(_tag(t) == "dev" for t in flat)
        if on_dev and name in SYNC_METHODS:
            self._record(self.syncs, name, direct=False)
        if name == "__getitem__" and _tag(args[0]) == "dev" and _bool_index(args[1]):
            self._record(self.syncs, "mask-index", direct=False)
        out = func(*args, **kwargs)
        tag = self._out_tag(name, args, kwargs, flat, on_dev)
        if name not in _NO_CHECK:
            self._check_mix(name, args, flat, on_dev)
        if name == "to" and out is args[0] and tag != _tag(out) and not isinstance(out, torch.nn.Parameter):
            out = out.view_as(out)  # on CUDA a move makes a new tensor: keep the source's device
        if not _in_place(name):
            _set(out, tag)
        return out

    def _out_tag(self, name: str, args: tuple, kwargs: dict, flat: list, on_dev: bool) -> str | None:
        if name == "cpu":
            return "host"
        if name == "cuda":
            return "dev"
        if name == "to" or name.endswith("_like") or name.startswith("new_"):
            dev = kwargs.get("device")
            for a in args[1:]:
                if isinstance(a, (torch.device, str)):
                    dev = a
                elif isinstance(a, torch.Tensor) and name == "to":
                    return _tag(a)
            if dev is not None:
                return "dev" if _is_dev(dev) else "host"
            return _tag(args[0]) if args else None
        if name in ("__getitem__", "__setitem__", "index_select", "gather", "take"):
            return _tag(args[0])
        if on_dev:
            return "dev"
        return "host" if any(_tag(t) == "host" for t in flat) else None

    def _check_mix(self, name: str, args: tuple, flat: list, on_dev: bool) -> None:
        if name in ("__getitem__", "__setitem__"):
            # CUDA takes CPU indices for a CUDA tensor, not CUDA indices for a CPU one, and the
            # value written must be on the tensor's device (or a CPU scalar).
            own = _tag(args[0])
            keys = [t for t in tree_flatten(args[1])[0] if isinstance(t, torch.Tensor)]
            vals = [args[2]] if name == "__setitem__" and isinstance(args[2], torch.Tensor) else []
            if own == "host" and args[0].dim() and any(_tag(k) == "dev" for k in keys + vals):
                self._record(self.mismatches, f"{name}: host tensor indexed by/with device tensors", False)
            if own == "dev" and any(_tag(v) == "host" and v.dim() for v in vals):
                self._record(self.mismatches, f"{name}: host value written into a device tensor", False)
            return
        if on_dev and any(_tag(t) == "host" and t.dim() > 0 for t in flat):
            self._record(self.mismatches, f"{name}: device and host tensors mixed", direct=False)

    # torch.from_numpy bypasses torch-function modes: while a guard is active it is replaced by a
    # wrapper that marks its tensors as host tensors.
    _patched = 0
    _patch_lock = threading.Lock()
    _from_numpy = staticmethod(torch.from_numpy)

    def __enter__(self) -> DeviceGuard:
        with DeviceGuard._patch_lock:
            if DeviceGuard._patched == 0:
                torch.from_numpy = _host_from_numpy
            DeviceGuard._patched += 1
        return super().__enter__()

    def __exit__(self, *exc: Any) -> None:
        super().__exit__(*exc)
        with DeviceGuard._patch_lock:
            DeviceGuard._patched -= 1
            if DeviceGuard._patched == 0:
                torch.from_numpy = DeviceGuard._from_numpy

    def wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """`fn` running under this guard (for threads: the mode is thread-local)."""
        def run(*a: Any, **kw: Any) -> Any:
            with self:
                return fn(*a, **kw)
        return run

    def report(self) -> str:
        parts = []
        for title, c in (("factory calls without device=", self.factories),
                         ("device/host mixes", self.mismatches)):
            if c:
                parts.append(title + ":\n" + "\n".join(f"  {k} (x{v})" for k, v in sorted(c.items())))
        return "\n".join(parts)


def _host_from_numpy(a: Any) -> torch.Tensor:
    t = DeviceGuard._from_numpy(a)
    t._vdev = "host"
    return t


def _in_place(name: str) -> bool:
    """Ops that return their first argument, whose virtual device must not change."""
    if name.startswith("__") and name.endswith("__"):
        return name == "__setitem__" or (name.startswith("__i") and name not in ("__index__", "__int__",
                                                                                  "__invert__", "__iter__"))
    return name.endswith("_")


def _bool_index(key: Any) -> bool:
    return any(isinstance(t, torch.Tensor) and t.dtype == torch.bool for t in tree_flatten(key)[0])
