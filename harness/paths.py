"""Where the harness keeps what it caches: one policy, used by every part of the package.

The root is the ``--cache-dir`` option where a command has one, else
``$HARNESS_CACHE``, else ``~/.cache/harness``. Below it every kind of artifact
has its own folder, named here and nowhere else.
"""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "HARNESS_CACHE"


def cache_root(cache_dir: Path | str | None = None) -> Path:
    """The cache root: ``cache_dir`` if given, else ``$HARNESS_CACHE``, else ``~/.cache/harness``."""
    if cache_dir:
        return Path(cache_dir)
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "harness")


def datasets_dir(cache_dir: Path | str | None = None) -> Path:
    """Parsed datasets (memory-mapped Arrow), one folder per source files and options."""
    return cache_root(cache_dir) / "datasets"


def splits_dir(cache_dir: Path | str | None = None) -> Path:
    """Persisted splits, one JSON file per (dataset, split parameters)."""
    return cache_root(cache_dir) / "splits"


def models_dir(cache_dir: Path | str | None = None) -> Path:
    """Converted model folders (the embedded SmolLM2)."""
    return cache_root(cache_dir) / "models"


def generations_dir(cache_dir: Path | str | None = None) -> Path:
    """Content-addressed generation caches (summaries)."""
    return cache_root(cache_dir) / "generations"


def hf_datasets_dir(cache_dir: Path | str | None = None) -> Path:
    """HF ``datasets``' own Arrow cache, for the ``hf`` dataset."""
    return cache_root(cache_dir) / "hf-datasets"


def rows_dir(cache_dir: Path | str | None = None) -> Path:
    """Checkpoints of finished leaderboard rows, one folder per row key."""
    return cache_root(cache_dir) / "rows"


def row_work_dir(cache_dir: Path | str | None = None) -> Path:
    """Work folders of rows in progress (Trainer checkpoints, scored batches), by row key."""
    return cache_root(cache_dir) / "row-work"


def runs_dir(cache_dir: Path | str | None = None) -> Path:
    """Training output of recommenders run outside ``harness evaluate``."""
    return cache_root(cache_dir) / "runs"


def embeddings_dir(cache_dir: Path | str | None = None) -> Path:
    """Text embeddings, keyed by (model, pooling, text): a catalog is embedded once."""
    return cache_root(cache_dir) / "embeddings"
