"""Data parallelism inside one ``harness evaluate``, under ``torchrun`` or ``accelerate launch``.

Both launchers start N copies of the command and tell each its rank through
the environment (``RANK``, ``WORLD_SIZE``). Every process loads the data and
the split (its write is atomic, so they may race for it) and fits each row;
scoring is sharded by request: process r scores requests r, r+N, r+2N, ...
and the shards are gathered in request order, so a row's metrics are those
of a one-process run. A fine-tuned LLM row trains under DDP
through the HF Trainer, which joins the same process group. Only rank 0
saves row checkpoints and writes the output folder.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class World:
    """This process's place among the processes of one data-parallel run."""

    rank: int = 0
    size: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def parallel(self) -> bool:
        return self.size > 1


def world() -> World:
    """The launcher's ranks from the environment; one process when none set them."""
    return World(int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1")))


def start(device: str = "auto") -> World:
    """Join the process group of a multi-process launch (gloo on CPU, NCCL on CUDA)."""
    here = world()
    if here.parallel and not here.main:  # one log, rank 0's; the others only warn
        logging.getLogger("harness").setLevel(logging.WARNING)
    if here.parallel:
        import torch.distributed as dist

        if not dist.is_initialized():
            backend = "nccl" if device.startswith("cuda") else "gloo"
            dist.init_process_group(backend=backend)
        log.info("data parallel: %d processes (%s)", here.size, dist.get_backend())
    return here


def local_device(device: str, here: World | None = None) -> str:
    """Each process of a multi-GPU launch on its own GPU (``LOCAL_RANK``); else ``device``."""
    here = here or world()
    if not here.parallel or device not in ("auto", "cuda"):
        return device
    import torch

    if not torch.cuda.is_available():
        return device
    local = int(os.environ.get("LOCAL_RANK", "0"))
    torch.cuda.set_device(local)
    return f"cuda:{local}"


def sharded(
    score: Callable[[list[T]], Any], items: Sequence[T], here: World | None = None
) -> np.ndarray | None:
    """``score(items)`` computed as N shards, one per process, gathered in item order.

    ``score`` returns one row per item (or None, as ``score_catalog`` may);
    every process gets the whole result.
    """
    here = here or world()
    if not here.parallel:
        result = score(list(items))
        return None if result is None else np.asarray(result)
    import torch.distributed as dist

    mine = list(range(here.rank, len(items), here.size))
    part = score([items[i] for i in mine]) if mine else None
    part = None if part is None else np.asarray(part)
    pieces: list[Any] = [None] * here.size
    dist.all_gather_object(pieces, (mine, part))
    shapes = [p.shape[1:] for idx, p in pieces if p is not None and idx]
    if not shapes:
        return None
    dtype = next(p.dtype for idx, p in pieces if p is not None and idx)
    out = np.empty((len(items), *shapes[0]), dtype=dtype)
    for idx, p in pieces:
        if idx:
            out[idx] = p
    return out


def barrier(here: World | None = None) -> None:
    """Wait for every process (a no-op in a one-process run)."""
    if (here or world()).parallel:
        import torch.distributed as dist

        dist.barrier()
