"""Access to the compiled extension ``pyhpe._C`` and the per-call facts it needs.

The extension links no libtorch: tensors cross as DLPack, outputs are allocated here by the
caller, the thread count follows ``torch.get_num_threads()`` and CUDA work is queued on the
caller's current stream.
"""

from __future__ import annotations

import warnings

import torch

try:  # the package may be imported from a source tree that was never built
    from pyhpe import _C  # type: ignore[attr-defined]

    IMPORT_ERROR: Exception | None = None
except ImportError as exc:  # pragma: no cover - exercised only without a build
    _C = None
    IMPORT_ERROR = exc

_warned: set[str] = set()


def available(device: torch.device) -> bool:
    """True when a native kernel exists for tensors on ``device``."""
    if _C is None:
        return False
    if device.type == "cpu":
        return True
    if device.type == "cuda":
        return bool(_C.build_info()["cuda"])
    return False


def warn_fallback(op: str, device: torch.device) -> None:
    """Warn once per (op, device type) that the pure-torch reference runs instead."""
    key = f"{op}:{device.type}"
    if key in _warned:
        return
    _warned.add(key)
    why = f"pyhpe._C failed to import: {IMPORT_ERROR}" if _C is None else "no native kernel"
    warnings.warn(
        f"pyhpe.ops.{op}: {why} for {device.type} tensors; using the pure-PyTorch reference",
        RuntimeWarning,
        stacklevel=3,
    )


def stream_of(t: torch.Tensor) -> int:
    """The raw CUDA stream handle to launch on (0 for CPU tensors)."""
    if t.device.type == "cuda":
        return torch.cuda.current_stream(t.device).cuda_stream
    return 0
