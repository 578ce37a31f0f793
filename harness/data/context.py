"""What a dataset loader receives besides its options: where its files and its cache are."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from tqdm.auto import tqdm

from harness.paths import cache_root, datasets_dir

T = TypeVar("T")


@dataclass(frozen=True)
class DatasetContext:
    """Per-load settings handed to ``loader(options, context)``.

    ``data_dir`` is the ``--data-dir`` folder (``None`` for embedded data);
    ``cache_dir`` is the harness cache root, so a loader that caches its
    parse (:func:`harness.data.cache.load_or_build`) follows ``--cache-dir``.
    ``seed`` is the run's seed, for loaders that sample.
    """

    data_dir: Path | None = None
    cache_dir: Path = field(default_factory=cache_root)
    seed: int = 0
    progress: bool = True

    @property
    def datasets_cache(self) -> Path:
        """The folder under which parsed datasets are cached."""
        return datasets_dir(self.cache_dir)

    def bar(
        self, iterable: Iterable[T], desc: str, total: int | None = None, **kw: Any
    ) -> Iterator[T]:
        """A tqdm progress bar, silent when progress is off or stderr is not a terminal."""
        return tqdm(iterable, desc=desc, total=total, disable=None if self.progress else True, **kw)
