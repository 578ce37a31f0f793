"""What lets a killed LLM row resume mid-way: scored batches and Trainer checkpoints.

Both live in the row's work folder (``RunContext.work_dir``), which survives a
kill of the process. Every file is written to a temporary name and renamed
into place, and a Trainer checkpoint counts only once its ``trainer_state.json``
(the last file the Trainer writes) parses, so a rerun never reads a
half-written one.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


class ScoredBatches:
    """Per-batch scores of one scoring pass, keyed by the batch's request indices."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.reused = 0

    def _path(self, indices: Sequence[int]) -> Path:
        return self.folder / f"batch-{indices[0]:06d}-{len(indices)}.npz"

    def get(self, indices: Sequence[int]) -> list[np.ndarray] | None:
        """The stored scores of these requests, or None if this batch was not finished."""
        try:
            with np.load(self._path(indices)) as data:
                if data["indices"].tolist() != list(indices):
                    return None
                scores = [data[f"s{i}"] for i in range(len(indices))]
        except (OSError, ValueError, KeyError):
            return None
        self.reused += 1
        return scores

    def put(self, indices: Sequence[int], scores: Sequence[np.ndarray]) -> None:
        """Store one finished batch atomically."""
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self._path(indices)
        tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}.npz")
        arrays = {f"s{i}": np.asarray(s) for i, s in enumerate(scores)}
        np.savez(tmp, indices=np.asarray(indices), **arrays)
        os.replace(tmp, path)


def last_complete_checkpoint(folder: Path) -> Path | None:
    """The newest ``checkpoint-N`` whose trainer state parses; newer broken ones are removed."""
    if not folder.is_dir():
        return None
    found = sorted(
        (int(m.group(1)), path)
        for path in folder.iterdir()
        if (m := _CHECKPOINT.match(path.name)) and path.is_dir()
    )
    for _, path in reversed(found):
        try:
            json.loads((path / "trainer_state.json").read_text())
        except (OSError, ValueError):
            log.info("removing the half-written Trainer checkpoint %s", path)
            shutil.rmtree(path, ignore_errors=True)
            continue
        return path
    return None
