"""What lets a killed LLM row resume mid-way: scored batches, Trainer checkpoints and the
training record kept beside them (validations, the best adapter, elapsed seconds).

All live in the row's work folder (``RunContext.work_dir``), which survives a
kill of the process. Every file is written to a temporary name and renamed
into place, and a Trainer checkpoint counts only once its ``trainer_state.json``
(the last file the Trainer writes) parses, so a rerun never reads a
half-written one.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from safetensors.torch import load_file, save

from harness.atomic import write_bytes_atomic, write_json_atomic

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
ADAPTER_FILE = "adapter_model.safetensors"
# the training record's files, beside the Trainer's checkpoints
_VALIDATION = "validation.json"
_ELAPSED = "elapsed.json"
_BEST = "best-adapter"
_FINISHED = "finished"
_REPORT = "report.json"


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


@dataclass
class TrainingRecord:
    """What LoRA training keeps beside the Trainer's checkpoints, so a killed row's rerun goes
    on from where it was: each epoch's validation and the best epoch's adapter, the training
    seconds up to each checkpoint, and a finished run's adapter and report.

    All of it lives in ``folder``, the Trainer's checkpoint folder (None: in memory only):
    ``validation.json``, ``best-adapter/``, ``elapsed.json`` and ``finished/``. Under data
    parallel every rank reads and keeps the record; only the ``writer`` (rank 0) writes. The
    step ``log`` is not written here: a resumed run reads it back from the Trainer's state.
    """

    folder: Path | None = None
    writer: bool = True
    log: list[dict] = field(default_factory=list)  # one entry per logged step
    validation: list[dict] = field(default_factory=list)  # one entry per epoch
    best_score: float = -math.inf
    best_epoch: int = 0  # 0: no epoch kept yet
    best_state: dict[str, torch.Tensor] | None = None  # the best epoch's adapter weights
    elapsed: dict[str, float] = field(default_factory=dict)  # seconds up to each saved step
    seconds_before: float = 0.0  # training seconds of the killed runs this one goes on from
    started: float = 0.0  # this run's clock start (time.perf_counter)

    @classmethod
    def open(cls, folder: Path | None, writer: bool = True) -> TrainingRecord:
        """The record in ``folder`` (created if missing); a resumed run reads the rest."""
        record = cls(folder, writer)
        if folder is not None:
            if (folder / _ELAPSED).is_file():
                record.elapsed = json.loads((folder / _ELAPSED).read_text())
            (folder / _BEST).mkdir(parents=True, exist_ok=True)
            (folder / _FINISHED).mkdir(parents=True, exist_ok=True)
        return record

    @property
    def saves(self) -> bool:
        """Whether this process writes the record (it has a folder and is the writer)."""
        return self.folder is not None and self.writer

    def finished(self) -> tuple[dict[str, torch.Tensor], dict] | None:
        """The adapter weights and report of a run that finished here (None: none did)."""
        if self.folder is None or not (self.folder / _FINISHED / _REPORT).is_file():
            return None
        state = load_file(self.folder / _FINISHED / ADAPTER_FILE)
        return state, json.loads((self.folder / _FINISHED / _REPORT).read_text())

    def finish(self, state: dict[str, torch.Tensor], report: dict) -> None:
        """Keep the finished run's adapter and report: a rerun reuses them, training nothing."""
        if self.saves:
            _save_adapter(self.folder / _FINISHED / ADAPTER_FILE, state)
            write_json_atomic(self.folder / _FINISHED / _REPORT, report)

    def restore(self) -> None:
        """Read back the validations and best adapter a killed run left (a resumed run)."""
        if self.folder is None or not (self.folder / _VALIDATION).is_file():
            return
        saved = json.loads((self.folder / _VALIDATION).read_text())
        self.validation = saved["validation"]
        self.best_score, self.best_epoch = saved["best_score"], saved["best_epoch"]
        if self.best_epoch:
            self.best_state = load_file(self.folder / _BEST / ADAPTER_FILE)

    def add_epoch(
        self, entry: dict, score: float | None, adapter: Callable[[], dict[str, torch.Tensor]]
    ) -> None:
        """Record an epoch's validation ``entry``; keep its weights (``adapter()``) if its
        ``score`` is the best so far, or if it has none (then the latest epoch is kept)."""
        self.validation.append(entry)
        if score is None or score > self.best_score:
            self.best_score = -math.inf if score is None else score
            self.best_epoch = entry["epoch"]
            self.best_state = adapter()
            if self.saves:
                _save_adapter(self.folder / _BEST / ADAPTER_FILE, self.best_state)
        if self.saves:
            saved = {
                "validation": self.validation,
                "best_score": self.best_score,
                "best_epoch": self.best_epoch,
            }
            write_json_atomic(self.folder / _VALIDATION, saved)

    def start(self, checkpoint: Path | None) -> None:
        """Start the clock; a run resumed from ``checkpoint`` adds the seconds spent before it."""
        if checkpoint is not None:
            self.seconds_before = self.elapsed.get(checkpoint.name.split("-")[-1], 0.0)
        self.started = time.perf_counter()

    def seconds(self) -> float:
        """Training seconds so far, the killed runs' before this one included."""
        return self.seconds_before + time.perf_counter() - self.started

    def save_elapsed(self, step: int) -> None:
        """Note the training seconds up to the checkpoint of ``step`` (a resumed run's start)."""
        self.elapsed[str(step)] = self.seconds()
        if self.saves:
            write_json_atomic(self.folder / _ELAPSED, self.elapsed)


def _save_adapter(path: Path, state: dict[str, torch.Tensor]) -> None:
    """Adapter weights as safetensors, written atomically: a kill mid-save leaves the old file."""
    write_bytes_atomic(path, save(state))
