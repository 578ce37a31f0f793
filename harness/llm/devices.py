"""Pick the device and dtype a model runs in, so callers never hard-code them.

bfloat16 halves memory and, on hardware with native bf16 matrix units (CUDA
Ampere+, x86 CPUs with AMX), runs 1.5-2.5x faster than float32. AVX512-BF16
alone is not enough: on a 2-core Intel Xeon with it and without AMX, a forward
pass of the embedded model over 4 x 256 tokens took 3.40 s in bf16 against
2.00 s in float32. Elsewhere float32 is the default.
"""

from __future__ import annotations

import functools
from pathlib import Path

import torch

_DTYPES = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
}
_CPU_BF16_FLAGS = ("amx_bf16",)


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` means the first CUDA GPU when there is one, else the CPU."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


@functools.lru_cache(maxsize=1)
def cpu_supports_bf16() -> bool:
    """True when the CPU has native bf16 matrix instructions (Linux: /proc/cpuinfo flags)."""
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.is_file():
        return False
    flags: set[str] = set()
    for line in cpuinfo.read_text(errors="replace").splitlines():
        if line.startswith("flags"):
            flags.update(line.split(":", 1)[1].split())
            break
    return any(flag in flags for flag in _CPU_BF16_FLAGS)


def resolve_dtype(dtype: str | torch.dtype, device: torch.device) -> torch.dtype:
    """``"auto"`` means bfloat16 where the hardware runs it natively, float32 otherwise."""
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32
        if device.type == "cpu" and cpu_supports_bf16():
            return torch.bfloat16
        return torch.float32
    try:
        return _DTYPES[dtype]
    except KeyError:
        choices = ", ".join(["auto", *_DTYPES])
        raise ValueError(f"unknown dtype {dtype!r}; choose one of: {choices}") from None
