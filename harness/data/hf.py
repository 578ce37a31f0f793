"""The ``hf`` dataset: interactions and item texts from anything HF ``datasets`` reads.

A local Parquet, CSV or JSON Lines file (or a folder of them), or a hub id
when online, with a column mapping::

    --dataset "hf[interactions=ratings.csv,items=movies.csv,user=user_id,item=movie_id,
               timestamp=ts,text=title|genre]"

``datasets`` parses each source once into its own Arrow cache (under the
harness cache, so ``--cache-dir`` moves it) and memory-maps it on later runs;
this module only checks the columns, orders each user's interactions by
(timestamp, file order) and maps item ids to catalog indices, all on Arrow
columns and numpy arrays.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from harness.data.context import DatasetContext
from harness.data.render import render_columns
from harness.dataset import Catalog, Dataset
from harness.errors import HarnessError
from harness.hookspecs import hookimpl
from harness.paths import hf_datasets_dir

log = logging.getLogger(__name__)

BUILDERS = {".csv": "csv", ".tsv": "csv", ".parquet": "parquet", ".json": "json", ".jsonl": "json"}


@dataclass(frozen=True)
class HFOptions:
    interactions: str = field(
        default="", metadata={"help": "file, folder or hub id of the interactions (required)"}
    )
    items: str | None = field(
        default=None,
        metadata={"help": "file, folder or hub id of the item texts (None: the interactions')"},
    )
    user: str = field(default="user_id", metadata={"help": "user (or session) id column"})
    item: str = field(default="item_id", metadata={"help": "item id column, in both tables"})
    timestamp: str | None = field(
        default="timestamp",
        metadata={"help": "ordering column (numbers or ISO-8601 text); None: file order"},
    )
    text: tuple[str, ...] = field(
        default=(), metadata={"help": "item text columns, in order (default: all but the id)"}
    )
    domain: str = field(
        default="items", metadata={"help": "movies, news, products, or any other word"}
    )
    name: str = field(default="hf", metadata={"help": "dataset name in splits and boards"})
    split: str = field(default="train", metadata={"help": "the HF split to read"})
    max_words: int | None = field(default=None, metadata={"help": "word cap per text field"})
    unknown_items: Literal["error", "drop"] = field(
        default="error", metadata={"help": "interactions whose item has no text row"}
    )

    def __post_init__(self) -> None:
        if not self.interactions:
            raise ValueError("interactions=PATH_OR_ID is required")
        if self.max_words is not None and self.max_words < 1:
            raise ValueError("max_words must be at least 1")


def read_table(source: str, options: HFOptions, context: DatasetContext, what: str) -> pa.Table:
    """One split of ``source`` as an Arrow table, parsed (and cached) by ``datasets``."""
    import datasets

    path = Path(source).expanduser()
    if not path.is_absolute() and context.data_dir is not None:
        candidate = Path(context.data_dir) / path
        path = candidate if candidate.exists() else path
    kwargs = {"cache_dir": str(hf_datasets_dir(context.cache_dir)), "split": options.split}
    if path.is_file():
        builder = BUILDERS.get(path.suffix.lower())
        if builder is None:
            known = ", ".join(sorted(BUILDERS))
            raise HarnessError(f"{path}: unknown file type for {what} (known: {known})")
        if path.suffix.lower() == ".tsv":
            kwargs["delimiter"] = "\t"
        args: tuple = (builder,)
        kwargs["data_files"] = {options.split: str(path)}
    elif path.is_dir():
        args = (str(path),)
    elif "/" in source and not source.startswith((".", "/")) and not path.suffix:
        args = (source,)  # a hub id such as "user/dataset"
    else:
        raise HarnessError(f"{source}: no such file or folder ({what})")
    if not context.progress or not sys.stderr.isatty():
        datasets.disable_progress_bars()
    try:
        loaded = datasets.load_dataset(*args, **kwargs)
    except Exception as exc:  # datasets raises many types; the message names the source
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise HarnessError(f"{source}: cannot read {what}: {first}") from None
    return loaded.data.table


def require_columns(table: pa.Table, wanted: dict[str, str], source: str) -> None:
    """Each mapped column must exist; the error names the option, the column and the file."""
    for option, column in wanted.items():
        if column not in table.column_names:
            present = ", ".join(table.column_names)
            raise HarnessError(f"{source}: no column {column!r} for {option}= (columns: {present})")


def first_null(column: pa.ChunkedArray) -> int | None:
    """Row of the first null value, or None."""
    if column.null_count == 0:
        return None
    return int(np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))[0])


def _ids(table: pa.Table, column: str, source: str) -> pa.ChunkedArray:
    """A non-null id column as strings (numbers are ids too)."""
    values = table.column(column)
    row = first_null(values)
    if row is not None:
        raise HarnessError(f"{source} row {row + 1}: empty {column!r}")
    return values.cast(pa.string()) if values.type != pa.string() else values


def load_hf(options: HFOptions, context: DatasetContext) -> Dataset:
    """Interactions and item texts through HF ``datasets`` with a column mapping."""
    inter = read_table(options.interactions, options, context, "interactions")
    wanted = {"user": options.user, "item": options.item}
    if options.timestamp:
        wanted["timestamp"] = options.timestamp
    require_columns(inter, wanted, options.interactions)
    item_source = options.items or options.interactions
    items = inter if options.items is None else read_table(item_source, options, context, "items")
    require_columns(items, {"item": options.item}, item_source)
    fields = options.text or tuple(c for c in items.column_names if c != options.item)
    require_columns(items, {f"text (column {f!r})": f for f in fields}, item_source)

    catalog = _catalog(items, fields, options, item_source, first_only=options.items is None)
    users = _ids(inter, options.user, options.interactions)
    item_ids = _ids(inter, options.item, options.interactions)
    indices = pc.index_in(item_ids, value_set=pa.array(catalog.ids, pa.string()))
    known = indices.is_valid().to_numpy(zero_copy_only=False)
    if not known.all():
        row = int(np.flatnonzero(~known)[0])
        if options.unknown_items == "error":
            raise HarnessError(
                f"{options.interactions} row {row + 1}: item {item_ids[row].as_py()!r} "
                f"(column {options.item!r}) has no row in {item_source}; "
                "set unknown_items=drop to skip such interactions"
            )
        log.warning(
            "%s: dropped %d interactions of items without text",
            options.interactions,
            (~known).sum(),
        )
    order = _order(inter, users, known, options)
    user_codes = pc.dictionary_encode(users).combine_chunks()
    codes = user_codes.indices.to_numpy(zero_copy_only=False)[order]
    values = indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int32)[order]
    bounds = np.flatnonzero(np.diff(codes)) + 1
    starts = np.concatenate([[0], bounds]) if len(codes) else np.array([], dtype=np.int64)
    names = user_codes.dictionary.to_pylist()
    sequence_ids = [names[codes[s]] for s in starts.tolist()]
    sequences = np.split(values, bounds) if len(codes) else []
    if not sequences:
        raise HarnessError(f"{options.interactions}: no interactions")
    source = {"interactions": options.interactions, "items": item_source}
    return Dataset(options.name, options.domain, catalog, sequence_ids, sequences, source=source)


def _catalog(
    items: pa.Table, fields: tuple[str, ...], options: HFOptions, source: str, first_only: bool
) -> Catalog:
    ids = _ids(items, options.item, source).combine_chunks()
    if first_only:  # item texts read from the interactions: each item's first row
        _, first = np.unique(ids.to_numpy(zero_copy_only=False).astype(object), return_index=True)
        keep = pa.array(np.sort(first))
        items, ids = items.take(keep), ids.take(keep)
    elif pc.count_distinct(ids).as_py() != len(ids):
        seen: dict[str, int] = {}
        for row, item in enumerate(ids.to_pylist()):
            if item in seen:
                raise HarnessError(
                    f"{source} row {row + 1}: duplicate item id {item!r} "
                    f"(first on row {seen[item] + 1})"
                )
            seen[item] = row
    columns = {f: items.column(f).cast(pa.string()) for f in fields}
    texts = render_columns(columns, fields, options.max_words)
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    return Catalog(ids.to_pylist(), texts.to_pylist())


def _order(
    inter: pa.Table, users: pa.ChunkedArray, known: np.ndarray, options: HFOptions
) -> np.ndarray:
    """Row order: by user (first appearance), then timestamp, then file order; unknown items out."""
    rows = np.flatnonzero(known)
    codes = pc.dictionary_encode(users).combine_chunks().indices.to_numpy(zero_copy_only=False)
    keys = [np.arange(len(codes))[rows]]
    if options.timestamp:
        stamps = inter.column(options.timestamp)
        row = first_null(stamps)
        if row is not None:
            raise HarnessError(
                f"{options.interactions} row {row + 1}: empty timestamp ({options.timestamp!r})"
            )
        if pa.types.is_string(stamps.type) or pa.types.is_large_string(stamps.type):
            ranks = pc.rank(stamps.combine_chunks(), sort_keys="ascending", tiebreaker="first")
            stamp_keys = ranks.to_numpy(zero_copy_only=False)
        else:
            stamp_keys = stamps.to_numpy()
        keys.append(stamp_keys[rows])
    keys.append(codes[rows])
    return rows[np.lexsort(keys)]


@hookimpl
def register_datasets(register):
    register(
        "hf",
        load_hf,
        options=HFOptions,
        description="any interactions + item texts HF `datasets` reads (Parquet, CSV, JSON "
        "Lines, a hub id), with a column mapping",
    )
