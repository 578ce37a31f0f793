"""A row's per-request scores on disk: what lets anyone recompute its metrics.

One compressed NumPy archive per row (``scores/<row>.npz``):

- ``scores``: float64, one row per test request, one column per candidate, in
  the candidate order of ``split.json``; float64 so that a recomputation
  meets the same ties and gives the same metrics bit for bit.
- for a row with a full-catalog ranking, ``target_rank`` (the target's
  0-based rank among the catalog, 0 = first; the user's earlier items
  excluded, ties counted pessimistically) and ``top_items`` (the catalog indices of the
  top ``TOP_ITEMS`` items, best first), instead of the whole score matrix.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

TOP_ITEMS = 20


def write_row_scores(
    path: Path,
    scores: np.ndarray,
    target_rank: np.ndarray | None = None,
    top_items: np.ndarray | None = None,
) -> None:
    """Write one row's archive atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {"scores": np.asarray(scores, dtype=np.float64)}
    if target_rank is not None:
        arrays["target_rank"] = np.asarray(target_rank, dtype=np.int32)
        arrays["top_items"] = np.asarray(top_items, dtype=np.int32)
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}.npz")
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)


def read_row_scores(path: Path) -> dict[str, np.ndarray]:
    """A row's arrays by name (``scores``, and ``target_rank``/``top_items`` if ranked)."""
    with np.load(path) as data:
        return {name: data[name] for name in data.files}
