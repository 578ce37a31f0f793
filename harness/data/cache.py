"""A parsed dataset, cached as memory-mapped Arrow files so the second run starts in seconds.

The cache folder is keyed by the source files (path, size, mtime_ns) and the
loader's options. It is built in a temporary sibling and renamed into place
only after its completion marker is written, so a killed or failed run never
leaves a folder that looks complete; one that does not check out (no marker,
a file of the wrong size, an unreadable Arrow file) is rebuilt, never read.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Callable, Sequence
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from harness.atomic import publish_folder, remove_abandoned
from harness.data.context import DatasetContext
from harness.data.render import ArrowTexts
from harness.dataset import Catalog, Dataset
from harness.errors import HarnessError
from harness.faults import kill_point

log = logging.getLogger(__name__)

FORMAT = "harness-dataset-cache/1"
MARKER = "complete.json"
ITEMS = "items.arrow"
SEQUENCES = "sequences.arrow"
ITEM_SCHEMA = pa.schema([("id", pa.string()), ("text", pa.string())])


def cache_key(loader: str, sources: Sequence[Path], options: Any) -> str:
    """sha256 of the cache format, loader, source files (path, size, mtime_ns) and options."""
    files = []
    for path in sources:
        stat = Path(path).stat()
        files.append([str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns])
    opts = asdict(options) if is_dataclass(options) else options
    text = json.dumps(
        {"format": FORMAT, "loader": loader, "sources": files, "options": opts},
        sort_keys=True,
        default=list,
    )
    return hashlib.sha256(text.encode()).hexdigest()


class ItemWriter:
    """Appends ``(id, text)`` batches to ``items.arrow`` while the catalog is parsed."""

    def __init__(self, folder: Path):
        self._sink = pa.OSFile(str(folder / ITEMS), "wb")
        self._writer = pa.ipc.new_file(self._sink, ITEM_SCHEMA)
        self.count = 0

    def write(self, ids: pa.Array, texts: pa.Array) -> None:
        batch = pa.record_batch([ids, texts], schema=ITEM_SCHEMA)
        self._writer.write_batch(batch)
        self.count += len(batch)

    def close(self) -> None:
        self._writer.close()
        self._sink.close()


def write_sequences(folder: Path, ids: pa.Array, offsets: np.ndarray, values: np.ndarray) -> None:
    """Sequences as one ``list<int32>`` column of item indices, with their ids."""
    items = pa.ListArray.from_arrays(
        pa.array(offsets.astype(np.int32)), pa.array(values.astype(np.int32))
    )
    table = pa.table({"id": ids, "items": items})
    with (
        pa.OSFile(str(folder / SEQUENCES), "wb") as sink,
        pa.ipc.new_file(sink, table.schema) as writer,
    ):
        writer.write_table(table)


def read_arrow(path: Path) -> pa.Table:
    """Memory-map an Arrow IPC file: no copy, pages are read on access."""
    return pa.ipc.open_file(pa.memory_map(str(path))).read_all()


def load_or_build(
    loader: str,
    sources: Sequence[Path],
    options: Any,
    build: Callable[[Path], dict[str, Any]],
    context: DatasetContext | None = None,
) -> Dataset:
    """The cached dataset for these sources and options, building it first if needed.

    The cache lives under ``context.datasets_cache`` (so it follows ``--cache-dir``);
    without a context, under ``$HARNESS_CACHE`` or ``~/.cache/harness``.

    ``build(folder)`` writes ``items.arrow`` (:class:`ItemWriter`) and
    ``sequences.arrow`` (:func:`write_sequences`) into ``folder`` and returns the
    metadata (name, domain, kind, source, warnings) stored with them.
    """
    key = cache_key(loader, sources, options)
    context = context or DatasetContext()
    folder = context.datasets_cache / f"{loader}-{key[:16]}"
    if folder.exists():
        dataset = _open_checked(folder, key)
        if dataset is not None:
            log.info("loaded %s from cache %s", loader, folder)
            return dataset
    _build_into(folder, key, build)
    dataset = _open_checked(folder, key)
    if dataset is None:
        raise HarnessError(f"{folder}: dataset cache unreadable right after it was written")
    return dataset


def _open_checked(folder: Path, key: str) -> Dataset | None:
    """Open a cache folder if its marker vouches for it; otherwise remove it and return None."""
    try:
        marker = json.loads((folder / MARKER).read_text())
        if marker.get("format") != FORMAT or marker.get("key") != key:
            raise ValueError("completion marker of another cache")
        for name, size in marker["files"].items():
            if (folder / name).stat().st_size != size:
                raise ValueError(f"{name} has the wrong size")
        return open_dataset(folder, marker["meta"])
    except (OSError, ValueError, KeyError, TypeError, pa.ArrowException) as exc:
        log.warning("dataset cache %s is incomplete or damaged (%s): rebuilding it", folder, exc)
        shutil.rmtree(folder, ignore_errors=True)
        return None


def open_dataset(folder: Path, meta: dict[str, Any]) -> Dataset:
    """A :class:`Dataset` over the memory-mapped cache files."""
    items = read_arrow(folder / ITEMS)
    catalog = Catalog(items.column("id").to_pylist(), ArrowTexts(items.column("text")))
    table = read_arrow(folder / SEQUENCES)
    column = table.column("items")
    lists = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    offsets = lists.offsets.to_numpy()
    values = np.array(lists.flatten().to_numpy(zero_copy_only=False), dtype=np.int32)
    bounds = (offsets - offsets[0]).tolist()
    # views into one array: slicing is several times faster than np.split
    sequences = [values[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
    for warning in meta.get("warnings", []):
        log.warning("%s", warning)
    source = {**meta.get("source", {}), "cache": str(folder)}
    return Dataset(
        meta["name"],
        meta["domain"],
        catalog,
        table.column("id").to_pylist(),
        sequences,
        kind=meta["kind"],
        source=source,
    )


def _build_into(folder: Path, key: str, build: Callable[[Path], dict[str, Any]]) -> None:
    parent = folder.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise HarnessError(f"{parent}: cannot create the dataset cache: {exc}") from None
    remove_abandoned(folder)
    # another process may finish the same cache first: keep theirs if it checks out
    with publish_folder(folder, keep=lambda theirs: _open_checked(theirs, key) is not None) as tmp:
        meta = build(tmp)
        files = {p.name: p.stat().st_size for p in sorted(tmp.iterdir())}
        marker = {"format": FORMAT, "key": key, "files": files, "meta": meta}
        kill_point("dataset-cache")
        (tmp / MARKER).write_text(json.dumps(marker, indent=1))
    log.info("cached the parsed dataset in %s", folder)
