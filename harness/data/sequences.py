"""Vectorised sequence building shared by the session loaders (MIND, Amazon-M2).

Sequences are kept as one flat value array plus ``offsets`` (row ``i`` is
``values[offsets[i]:offsets[i + 1]]``), so half a million sessions are
filtered and mapped to catalog indices without a Python loop per item.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from harness.errors import HarnessError


@dataclass
class Ragged:
    """Rows of variable length: ``values[offsets[i]:offsets[i+1]]`` is row ``i``."""

    offsets: np.ndarray  # int64, len(rows) + 1
    values: pa.Array | np.ndarray

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def keep_values(self, mask: np.ndarray) -> Ragged:
        """Drop the values where ``mask`` is False; rows stay (possibly shorter)."""
        kept = np.concatenate([[0], np.cumsum(mask, dtype=np.int64)])
        values = (
            self.values.filter(pa.array(mask))
            if isinstance(self.values, pa.Array)
            else self.values[mask]
        )
        return Ragged(kept[self.offsets], values)

    def keep_rows(self, rows: np.ndarray) -> Ragged:
        """Only the rows where ``rows`` (a bool mask over rows) is True."""
        per_value = np.repeat(rows, self.lengths)
        offsets = np.concatenate([[0], np.cumsum(self.lengths[rows], dtype=np.int64)])
        values = (
            self.values.filter(pa.array(per_value))
            if isinstance(self.values, pa.Array)
            else self.values[per_value]
        )
        return Ragged(offsets, values)

    def row_of(self, value_index: int) -> int:
        """The row holding flat value ``value_index``."""
        return int(np.searchsorted(self.offsets, value_index, side="right")) - 1


def split_ids(strings: pa.Array | pa.ChunkedArray) -> Ragged:
    """Whitespace-separated ids per row (``"N1 N2"`` -> ``["N1", "N2"]``; ``""`` -> ``[]``)."""
    lists = pc.utf8_split_whitespace(pc.utf8_trim_whitespace(strings))
    if isinstance(lists, pa.ChunkedArray):
        lists = lists.combine_chunks() if lists.num_chunks else pa.array([], lists.type)
    offsets = lists.offsets.to_numpy().astype(np.int64)
    ragged = Ragged(offsets - offsets[0], lists.flatten())
    return ragged.keep_values(pc.not_equal(ragged.values, "").to_numpy(zero_copy_only=False))


def append_column(rows: Ragged, last: pa.Array) -> Ragged:
    """Each row followed by one more value (Amazon-M2: ``prev_items + [next_item]``)."""
    n = len(rows)
    lengths = rows.lengths + 1
    offsets = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)])
    positions = np.empty(int(offsets[-1]), dtype=np.int64)
    is_last = np.zeros(len(positions), dtype=bool)
    is_last[offsets[1:] - 1] = True
    positions[~is_last] = np.arange(len(rows.values))
    positions[is_last] = len(rows.values) + np.arange(n)
    combined = pa.concat_arrays([rows.values, last.cast(rows.values.type)])
    return Ragged(offsets, combined.take(pa.array(positions)))


def map_to_catalog(
    rows: Ragged,
    catalog_ids: pa.Array,
    unknown_items: Literal["error", "drop"],
    unknown_error: Callable[[int, str], HarnessError],
) -> tuple[Ragged, int, int]:
    """Replace item ids by catalog indices.

    Unknown ids raise ``unknown_error(row, item_id)`` or are dropped. Returns
    the mapped rows, the number of dropped values and of rows that lost one.
    """
    indices = pc.index_in(rows.values, value_set=catalog_ids)
    known = indices.is_valid().to_numpy(zero_copy_only=False)
    values = indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int32)
    mapped = Ragged(rows.offsets, values)
    if known.all():
        return mapped, 0, 0
    first = int(np.flatnonzero(~known)[0])
    if unknown_items == "error":
        raise unknown_error(rows.row_of(first), rows.values[first].as_py())
    touched = np.unique(np.searchsorted(rows.offsets, np.flatnonzero(~known), side="right") - 1)
    return mapped.keep_values(known), int((~known).sum()), len(touched)


def map_and_filter(
    rows: Ragged,
    catalog_ids: pa.Array,
    unknown_items: Literal["error", "drop"],
    unknown_error: Callable[[int, str], HarnessError],
    history_bounds: tuple[int, int],
    none_left: Callable[[], HarnessError],
) -> tuple[Ragged, np.ndarray, int, int]:
    """The tail every sequence loader shares: ids to catalog indices, then the rows whose
    history length is within ``history_bounds``.

    Returns the kept rows, the keep mask over ``rows``, and the number of
    dropped unknown items and of rows that lost one; raises ``none_left()``
    when no row is kept.
    """
    mapped, dropped, touched = map_to_catalog(rows, catalog_ids, unknown_items, unknown_error)
    keep = history_filter(mapped, *history_bounds)
    if not keep.any():
        raise none_left()
    return mapped.keep_rows(keep), keep, dropped, touched


def history_filter(rows: Ragged, min_history: int, max_history: int) -> np.ndarray:
    """Rows whose history (every item before the last, the target) has an allowed length."""
    history = rows.lengths - 1
    return (history >= min_history) & (history <= max_history)


def validate_history_bounds(min_history: int, max_history: int) -> None:
    """Shared option check of the session loaders."""
    if min_history < 1:
        raise HarnessError("min_history must be at least 1 (a history before the target)")
    if max_history < min_history:
        raise HarnessError(f"max_history ({max_history}) is below min_history ({min_history})")


def checked_catalog_ids(
    chunks: list[pa.Array], records: np.ndarray, where: Callable[[int], str], what: str
) -> pa.Array:
    """All catalog ids as one array; an empty or repeated id is an error at its line.

    ``records`` holds each id's record number in the file and ``where(record)``
    turns one into ``"path:line"``.
    """
    ids = pa.concat_arrays(chunks) if chunks else pa.array([], pa.string())
    empty = pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(ids)), 0).to_numpy(zero_copy_only=False)
    if empty.any():
        raise HarnessError(f"{where(int(records[np.flatnonzero(empty)[0]]))}: empty {what} id")
    if pc.count_distinct(ids).as_py() != len(ids):
        first: dict[str, int] = {}
        for position, item in enumerate(ids.to_pylist()):
            if item in first:
                earlier = where(int(records[first[item]])).rsplit(":", 1)[-1]
                raise HarnessError(
                    f"{where(int(records[position]))}: duplicate {what} id {item!r} "
                    f"(first on line {earlier})"
                )
            first[item] = position
    return ids
