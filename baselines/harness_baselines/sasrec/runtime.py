"""Where and how torch runs: device choice, seeding, determinism, CPU threads."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

from harness import HarnessError


def resolve_device(name: str) -> torch.device:
    """``auto`` is CUDA when available, else CPU; asking for missing CUDA is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise HarnessError(f"sasrec: device {name!r} requested but CUDA is not available")
    return device


@contextmanager
def cpu_threads(threads: int | None) -> Iterator[None]:
    """Use ``threads`` intra-op CPU threads inside the block (``None``: leave torch's setting).

    With OpenMP, a thread count equal to the core count collapses (8x slower
    measured on 2 cores) when another process holds a core; 1 thread does not.
    """
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@contextmanager
def seeded(seed: int, device: torch.device) -> Iterator[None]:
    """Seed torch inside a forked RNG state; deterministic kernels on CPU, restored after."""
    cuda = [device.index or 0] if device.type == "cuda" else []
    previous = torch.are_deterministic_algorithms_enabled()
    with torch.random.fork_rng(devices=cuda):
        torch.manual_seed(seed)
        if device.type == "cpu":
            torch.use_deterministic_algorithms(True)
        try:
            yield
        finally:
            torch.use_deterministic_algorithms(previous)
