"""The vectorised sequence helpers behind the session loaders, on edge cases."""

import numpy as np
import pyarrow as pa
import pytest

from harness.data.sequences import Ragged, append_column, history_filter, map_to_catalog, split_ids
from harness.errors import HarnessError


def rows_of(ragged: Ragged) -> list[list]:
    values = ragged.values
    values = values.to_pylist() if isinstance(values, pa.Array) else values.tolist()
    return [values[a:b] for a, b in zip(ragged.offsets[:-1], ragged.offsets[1:])]


def test_split_append_map_and_filter():
    rows = split_ids(pa.chunked_array([["  a b\n c ", ""], ["d", "b  z"]]))
    assert rows_of(rows) == [["a", "b", "c"], [], ["d"], ["b", "z"]]
    full = append_column(rows, pa.array(["x", "a", "b", "c"]))
    assert rows_of(full) == [["a", "b", "c", "x"], ["a"], ["d", "b"], ["b", "z", "c"]]
    catalog = pa.array(["a", "b", "c", "d", "x"])

    def error(row: int, item: str) -> HarnessError:
        return HarnessError(f"row {row}: {item}")

    with pytest.raises(HarnessError, match="^row 3: z$"):
        map_to_catalog(full, catalog, "error", error)
    mapped, dropped, touched = map_to_catalog(full, catalog, "drop", error)
    assert (dropped, touched) == (1, 1)
    assert rows_of(mapped) == [[0, 1, 2, 4], [0], [3, 1], [1, 2]]
    keep = history_filter(mapped, 1, 2)
    assert keep.tolist() == [False, False, True, True]
    assert rows_of(mapped.keep_rows(keep)) == [[3, 1], [1, 2]]
    assert rows_of(mapped.keep_rows(np.zeros(4, dtype=bool))) == []
