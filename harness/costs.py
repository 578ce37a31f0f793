"""Cost measurements taken the same way for every recommender: wall time and peak memory.

Also the names of the cost figures a plugin reports through
``RunContext.record_cost`` that the boards read: a recommender that records
them gets the matching leaderboard columns and tables.
"""

from __future__ import annotations

import ctypes
import gc
import sys
import threading
import time
from types import TracebackType

import psutil

# mean prompt tokens per scored (history, candidate) prompt: the "prompt tok/req" column and
# the quality-against-budget table and plot
PROMPT_TOKENS_PER_REQUEST = "prompt_tokens_per_request"
# the token budget a prompt was cut to fit (truncated-llm): the budget table's "budget tok"
PROMPT_BUDGET_TOKENS = "prompt_budget_tokens"


class PeakMemory:
    """Peak resident memory of this process while the block runs (sampled every 20 ms).

    tracemalloc cannot see tensors allocated by torch, so we sample RSS; on a
    GPU the CUDA allocator's own peak is recorded as well.
    """

    def __init__(self, interval: float = 0.02):
        self.interval = interval
        self.peak_rss = 0
        self.peak_cuda = 0
        self._stop = threading.Event()
        self._process = psutil.Process()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak_rss = max(self.peak_rss, self._process.memory_info().rss)
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakMemory:
        self.peak_rss = self._process.memory_info().rss
        torch = sys.modules.get("torch")
        if torch is not None and torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        self._thread.start()
        return self

    def __exit__(self, exc_type: type | None, exc: BaseException | None, tb: TracebackType | None):
        self._stop.set()
        self._thread.join()
        self.peak_rss = max(self.peak_rss, self._process.memory_info().rss)
        torch = sys.modules.get("torch")
        if torch is not None and torch.cuda.is_available():
            self.peak_cuda = int(torch.cuda.max_memory_allocated())

    @property
    def peak_rss_mb(self) -> float:
        return self.peak_rss / 2**20


class Stopwatch:
    """Wall-clock seconds of a block."""

    def __enter__(self) -> Stopwatch:
        self.start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start


def release_freed_memory() -> None:
    """Hand freed heap back to the OS, so a following peak-RSS reading starts from one floor.

    Without this, RSS peaks depend on the order in which measured methods run.
    """
    gc.collect()
    if sys.platform.startswith("linux"):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def cuda_allocated() -> int:
    """Bytes the CUDA allocator holds now (0 without a GPU), the base of a CUDA peak."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        return int(torch.cuda.memory_allocated())
    return 0
