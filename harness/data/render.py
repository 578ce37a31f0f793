"""Item text rendering over whole Arrow columns, and a lazy view of the rendered texts.

Catalogs of a million products cannot afford a Python call per item and field,
so :func:`render_columns` does what :func:`harness.data.text.render_item` does
with Arrow compute kernels; tests hold the two to the same output.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

SEPARATOR = "; "


def _clean(values: pa.Array | pa.ChunkedArray, max_words: int | None) -> pa.ChunkedArray:
    """Whitespace-normalised, word-capped values; null where the value carries no text."""
    trimmed = pc.utf8_trim_whitespace(values)
    # missing is decided on the whole value, before the cap (as is_missing does)
    empty = pc.or_kleene(
        pc.equal(pc.binary_length(trimmed), 0), pc.match_like(trimmed, "nan", ignore_case=True)
    )
    missing = pc.fill_null(empty, True)
    # at most max_words + 1 parts: the last one holds the rest of the text
    words = pc.utf8_split_whitespace(trimmed, max_splits=max_words)
    if max_words is not None:
        words = pc.list_slice(words, 0, max_words)
    text = pc.binary_join(words, " ")
    return pc.if_else(missing, pa.scalar(None, pa.string()), text)


def render_columns(
    columns: Mapping[str, pa.Array | pa.ChunkedArray],
    fields: Sequence[str],
    max_words: int | None = None,
) -> pa.Array | pa.ChunkedArray:
    """One ``"field: value; ..."`` line per row, missing fields left out (as ``render_item``)."""
    parts = []
    for name in fields:
        value = _clean(columns[name], max_words)
        # "name: value; " or null; nulls become "" below, then the last "; " is cut
        parts.append(pc.binary_join_element_wise(f"{name}: ", value, SEPARATOR, ""))
    if not parts:
        length = len(next(iter(columns.values()))) if columns else 0
        return pa.array([""] * length, pa.string())
    # null_handling="skip" drops all-null rows in pyarrow 26; "replace" keeps the length
    joined = pc.binary_join_element_wise(*parts, "", null_handling="replace", null_replacement="")
    cut = pc.utf8_slice_codeunits(joined, 0, -len(SEPARATOR))
    return pc.if_else(pc.greater(pc.utf8_length(joined), 0), cut, joined)


class ArrowTexts(Sequence[str]):
    """Read-only ``Sequence[str]`` over a (memory-mapped) Arrow string column.

    The catalog keeps this instead of a list, so a 1.5-million-item catalog
    costs pages of the cache file rather than a Python string per item.
    """

    def __init__(self, column: pa.ChunkedArray | pa.Array):
        if isinstance(column, pa.Array):
            column = pa.chunked_array([column], type=column.type)
        self._chunks = [c for c in column.chunks if len(c)]
        lengths = [len(c) for c in self._chunks]
        self._starts = np.cumsum([0, *lengths], dtype=np.int64)

    def __len__(self) -> int:
        return int(self._starts[-1])

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        index = int(index)
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("item text index out of range")
        chunk = int(np.searchsorted(self._starts, index, side="right")) - 1
        return self._chunks[chunk][index - int(self._starts[chunk])].as_py()

    def __iter__(self) -> Iterator[str]:
        for chunk in self._chunks:
            yield from chunk.to_pylist()
