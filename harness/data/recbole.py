"""Reader for RecBole atomic files (``.inter`` / ``.item``), the exchange format of
recommender datasets: tab-separated, a header of ``name:type`` fields.

Every malformed line is reported as ``file:line: what is wrong``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Literal

import numpy as np

from harness.data.text import render_item
from harness.dataset import Catalog, Dataset, Domain
from harness.errors import HarnessError

FIELD_TYPES = ("token", "token_seq", "float", "float_seq")


def read_atomic(path: Path) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """Return the field names and an iterator of ``(line_number, values)`` rows."""
    path = Path(path)
    if not path.is_file():
        raise HarnessError(f"{path}: file not found")
    handle = path.open("rb")
    header = _decode(handle.readline(), path, 1).rstrip("\r\n")
    if not header:
        handle.close()
        raise HarnessError(f"{path}:1: empty file, expected a header of name:type fields")
    names = []
    for column, spec in enumerate(header.split("\t"), start=1):
        name, sep, kind = spec.partition(":")
        if not sep or not name:
            handle.close()
            raise HarnessError(f"{path}:1: header field {column} {spec!r} is not name:type")
        if kind not in FIELD_TYPES:
            handle.close()
            raise HarnessError(
                f"{path}:1: header field {spec!r} has unknown type {kind!r} "
                f"(expected one of {', '.join(FIELD_TYPES)})"
            )
        names.append(name)

    def rows() -> Iterator[tuple[int, list[str]]]:
        with handle:
            for number, raw in enumerate(handle, start=2):
                line = _decode(raw, path, number).rstrip("\r\n")
                if not line:
                    continue
                values = line.split("\t")
                if len(values) != len(names):
                    raise HarnessError(
                        f"{path}:{number}: expected {len(names)} tab-separated columns, "
                        f"found {len(values)}"
                    )
                yield number, values

    return names, rows()


def _decode(raw: bytes, path: Path, number: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HarnessError(f"{path}:{number}: not valid UTF-8 (byte {exc.start})") from None


def _require(names: Sequence[str], wanted: Sequence[str], path: Path) -> list[int]:
    missing = [w for w in wanted if w not in names]
    if missing:
        raise HarnessError(f"{path}:1: header lacks required field(s) {', '.join(missing)}")
    return [names.index(w) for w in wanted]


def load_catalog(
    path: Path, fields: Sequence[str] | None = None, max_words: int | None = None
) -> Catalog:
    """Read an ``.item`` file; ``fields`` picks and orders the text fields (default: all but the id)."""
    names, rows = read_atomic(path)
    (id_col,) = _require(names, ["item_id"], path)
    fields = list(fields) if fields else [n for n in names if n != "item_id"]
    _require(names, fields, path)
    ids, texts = [], []
    seen: set[str] = set()
    for number, values in rows:
        item_id = values[id_col]
        if item_id in seen:
            raise HarnessError(f"{path}:{number}: duplicate item_id {item_id!r}")
        seen.add(item_id)
        ids.append(item_id)
        texts.append(render_item(dict(zip(names, values)), fields, max_words))
    return Catalog(ids, texts)


def load_sequences(
    path: Path,
    catalog: Catalog,
    unknown_items: Literal["error", "drop"] = "error",
) -> tuple[list[str], list[np.ndarray], int]:
    """Read an ``.inter`` file into per-user item sequences sorted by (timestamp, file order).

    Returns user ids, sequences, their timestamps and the number of rows dropped for
    unknown items.
    """
    names, rows = read_atomic(path)
    user_col, item_col, time_col = _require(names, ["user_id", "item_id", "timestamp"], path)
    events: dict[str, list[tuple[float, int, int]]] = defaultdict(list)
    dropped = 0
    for number, values in rows:
        try:
            timestamp = float(values[time_col])
        except ValueError:
            raise HarnessError(
                f"{path}:{number}: timestamp {values[time_col]!r} is not a number"
            ) from None
        item = catalog.index(values[item_col])
        if item is None:
            if unknown_items == "error":
                raise HarnessError(
                    f"{path}:{number}: item {values[item_col]!r} is not in the catalog"
                )
            dropped += 1
            continue
        events[values[user_col]].append((timestamp, number, item))
    users = sorted(events)
    ordered = [sorted(events[u]) for u in users]
    sequences = [np.fromiter((item for _, _, item in e), dtype=np.int32) for e in ordered]
    times = [np.fromiter((t for t, _, _ in e), dtype=np.float64) for e in ordered]
    return users, sequences, times, dropped


def load_atomic_dataset(
    name: str,
    inter_path: Path,
    item_path: Path,
    domain: Domain,
    fields: Sequence[str] | None = None,
    max_words: int | None = None,
    unknown_items: Literal["error", "drop"] = "error",
) -> Dataset:
    """A per-user dataset from a pair of atomic files."""
    catalog = load_catalog(item_path, fields, max_words)
    users, sequences, times, dropped = load_sequences(inter_path, catalog, unknown_items)
    source = {"inter": str(inter_path), "item": str(item_path)}
    if dropped:
        source["dropped_unknown_items"] = str(dropped)
    return Dataset(
        name, domain, catalog, users, sequences, kind="users", source=source, timestamps=times
    )
