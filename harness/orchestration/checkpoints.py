"""Row checkpoints: each finished leaderboard row is persisted the moment it ends.

A row is keyed by what determines its numbers: the split's sha256, the
recommender's name, its resolved options, the plugin that registered it and
that plugin's version (the harness version for built-ins), and the device. A
rerun of the same command reads finished rows back instead of recomputing
them; ``--fresh`` ignores them. A checkpoint is written into a temporary
sibling and renamed into place after its manifest, so a run killed half-way
never leaves one that a later run would read.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import logging
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from harness import __version__
from harness.atomic import publish_folder
from harness.faults import kill_point
from harness.paths import row_work_dir, rows_dir

log = logging.getLogger(__name__)
FORMAT = "harness-row/1"
MANIFEST = "row.json"
ARRAYS = "arrays.npz"
RUN = "run"
# what the full-ranking metrics exclude; rows saved under another rule are recomputed
FULL_RANKING_EXCLUDES = "earlier-sequence"


@functools.lru_cache(maxsize=1)
def _distributions() -> dict[str, list[str]]:
    # half a second per call: the row key of every row needs it
    return importlib.metadata.packages_distributions()


def plugin_version(plugin: str) -> str:
    """``dist==version`` of the distribution that ships module ``plugin``, else the harness's."""
    top = plugin.split(".")[0]
    if top not in _distributions():  # a plugin installed since the first lookup
        _distributions.cache_clear()
    for dist in _distributions().get(top, []):
        try:
            return f"{dist}=={importlib.metadata.version(dist)}"
        except importlib.metadata.PackageNotFoundError:
            continue
    return f"harness=={__version__}"


def row_key(
    split_sha256: str, recommender: str, options: dict[str, Any], plugin: str, device: str
) -> str:
    """sha256 of everything that determines a row's numbers."""
    payload = json.dumps(
        [FORMAT, split_sha256, recommender, options, plugin, plugin_version(plugin), device],
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def work_dir(cache_dir: Path, key: str) -> Path:
    """The row's work folder: what a killed row leaves for its rerun to resume from.

    It lives outside the run's temporary output folder (which a rerun does not
    reuse) and is removed once the row's checkpoint is saved.
    """
    return row_work_dir(cache_dir) / key[:32]


def save(cache_dir: Path, key: str, outcome: dict[str, Any], run_dir: Path) -> Path:
    """Persist a finished row (its arrays, costs, training log and run folder) atomically."""
    folder = rows_dir(cache_dir) / key[:32]
    with publish_folder(folder) as tmp:
        arrays = {"scores": outcome["scores"]}
        arrays.update({f"per_request/{k}": v for k, v in outcome["per_request"].items()})
        for k, v in (outcome["full"] or {}).items():
            arrays[f"full/{k}"] = v
        np.savez(tmp / ARRAYS, **arrays)
        if run_dir.exists() and any(run_dir.iterdir()):
            shutil.copytree(run_dir, tmp / RUN)
        manifest = {
            "format": FORMAT,
            "key": key,
            "costs": outcome["costs"],
            "training": outcome["training"],
            "has_full": outcome["full"] is not None,
            "full_ranking_excludes": FULL_RANKING_EXCLUDES,
            "computed_at": outcome.get("computed_at"),
            "rerank": outcome.get("rerank"),
        }
        kill_point("row-checkpoint")
        (tmp / MANIFEST).write_text(json.dumps(manifest))  # written last: the row is complete
    return folder


def load(cache_dir: Path, key: str, run_dir: Path) -> dict[str, Any] | None:
    """A finished row's outcome (its run folder copied into ``run_dir``), or None."""
    folder = rows_dir(cache_dir) / key[:32]
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
        if manifest.get("format") != FORMAT or manifest.get("key") != key:
            return None
        if manifest["has_full"] and manifest.get("full_ranking_excludes") != FULL_RANKING_EXCLUDES:
            return None
        with np.load(folder / ARRAYS) as data:
            arrays = {name: data[name] for name in data.files}
    except (OSError, ValueError, KeyError):
        return None
    per_request = {k.split("/", 1)[1]: v for k, v in arrays.items() if k.startswith("per_request/")}
    full = {k.split("/", 1)[1]: v for k, v in arrays.items() if k.startswith("full/")}
    if (folder / RUN).is_dir():
        shutil.copytree(folder / RUN, run_dir, dirs_exist_ok=True)
    return {
        "scores": arrays["scores"],
        "per_request": per_request,
        "full": full if manifest["has_full"] else None,
        "costs": manifest["costs"],
        "training": manifest["training"],
        # the commit the row was computed at (None: saved before this was recorded)
        "computed_at": manifest.get("computed_at"),
        "rerank": manifest.get("rerank"),
    }
