"""MIND (Microsoft News) as LLM-TRSR used it: one click history per user.

Reads the published ``behaviors.tsv`` (impression id, user id, time, history,
impressions) and ``news.tsv`` (news id, category, subcategory, title,
abstract, url, title entities, abstract entities): tab-separated, no header,
no quoting (titles carry literal double quotes). Each user's first impression
row in file order gives one sequence, the click history in order; its last
click is the target. The paper kept histories of 11-26 clicks, i.e. 10-25
items before the target (``min_history`` / ``max_history``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from harness.data.cache import ItemWriter, load_or_build, write_sequences
from harness.data.context import DatasetContext
from harness.data.files import Format, iter_batches, record_line, require_files
from harness.data.render import render_columns
from harness.data.sequences import (
    checked_catalog_ids,
    map_and_filter,
    split_ids,
    validate_history_bounds,
)
from harness.dataset import Dataset
from harness.errors import HarnessError
from harness.hookspecs import hookimpl

log = logging.getLogger(__name__)

NEWS = Format(
    "\t",
    quoted=False,
    columns=(
        "news_id",
        "category",
        "subcategory",
        "title",
        "abstract",
        "url",
        "title_entities",
        "abstract_entities",
    ),
)
BEHAVIORS = Format(
    "\t", quoted=False, columns=("impression_id", "user_id", "time", "history", "impressions")
)
TEXT_FIELDS = NEWS.columns[1:]  # type: ignore[index]


@dataclass(frozen=True)
class MindOptions:
    fields: tuple[str, ...] = field(
        default=("category", "subcategory", "title"),
        metadata={"help": "news.tsv fields of the item text, in order, joined by |"},
    )
    max_words: int | None = field(
        default=None, metadata={"help": "word cap per field (titles are short: none)"}
    )
    min_history: int = field(
        default=10, metadata={"help": "fewest clicks before the target (paper: 11-26 clicks)"}
    )
    max_history: int = field(default=25, metadata={"help": "most clicks before the target"})
    unknown_items: Literal["error", "drop"] = field(
        default="error",
        metadata={"help": "history news absent from news.tsv: error, or drop with a warning"},
    )

    def __post_init__(self) -> None:
        check_fields(self.fields, TEXT_FIELDS, "news.tsv")
        check_max_words(self.max_words)
        validate_history_bounds(self.min_history, self.max_history)


def check_fields(fields: tuple[str, ...], allowed: tuple[str, ...], source: str) -> None:
    """Every text field must be a column of the source file."""
    unknown = [f for f in fields if f not in allowed]
    if unknown:
        raise HarnessError(
            f"unknown field(s) {', '.join(unknown)} for {source}; choose from {', '.join(allowed)}"
        )


def check_max_words(max_words: int | None) -> None:
    if max_words is not None and max_words < 1:
        raise HarnessError("max_words must be at least 1 (or none for no cap)")


def load_mind(options: MindOptions, context: DatasetContext) -> Dataset:
    """MIND from ``--data-dir`` (MINDsmall or MINDlarge, train or dev folder)."""
    behaviors, news = require_files(
        context.data_dir, ["behaviors.tsv", "news.tsv"], "mind", "the MIND release"
    )
    return load_or_build(
        "mind",
        [behaviors, news],
        options,
        lambda folder: _build(folder, behaviors, news, options),
        context,
    )


def _build(folder: Path, behaviors: Path, news: Path, options: MindOptions) -> dict[str, Any]:
    catalog_ids = _write_catalog(folder, news, options)
    users, histories = _first_rows(behaviors)
    rows = split_ids(histories.column("history"))
    records = histories.column("record").to_numpy()
    user_ids = histories.column("user_id")

    def unknown(row: int, item: str) -> HarnessError:
        return HarnessError(
            f"{record_line(behaviors, BEHAVIORS, int(records[row]))}: history news {item!r} "
            f"of user {user_ids[row].as_py()!r} is not in {news.name}"
        )

    def none_left() -> HarnessError:
        return HarnessError(
            f"{behaviors}: none of its {users} users has {options.min_history}-"
            f"{options.max_history} history clicks before the target"
        )

    bounds = (options.min_history, options.max_history)
    kept, keep, dropped, touched = map_and_filter(
        rows, catalog_ids, options.unknown_items, unknown, bounds, none_left
    )
    warnings = []
    if dropped:
        warnings.append(
            f"mind: dropped {dropped} history clicks of {touched} users whose news are not in "
            f"{news} (unknown_items=drop)"
        )
    write_sequences(folder, user_ids.filter(pa.array(keep)), kept.offsets, kept.values)
    log.info(
        "mind: %d of %d users have %d-%d clicks before the target",
        int(keep.sum()),
        users,
        options.min_history,
        options.max_history,
    )
    return {
        "name": "mind",
        "domain": "news",
        "kind": "sessions",
        "source": {"behaviors": str(behaviors.resolve()), "news": str(news.resolve())},
        "warnings": warnings,
    }


def _write_catalog(folder: Path, news: Path, options: MindOptions) -> pa.Array:
    """Render every news item into ``items.arrow``; returns the ids for the lookup."""
    include = ["news_id", *dict.fromkeys(options.fields)]
    writer = ItemWriter(folder)
    chunks = []
    try:
        for batch in iter_batches(news, NEWS, include, "news.tsv"):
            columns = {name: batch.column(name) for name in include}
            texts = render_columns(columns, options.fields, options.max_words)
            writer.write(columns["news_id"], texts)
            chunks.append(columns["news_id"])
    finally:
        writer.close()
    if writer.count == 0:
        raise HarnessError(f"{news}: no news rows")
    records = np.arange(writer.count, dtype=np.int64)
    return checked_catalog_ids(chunks, records, lambda r: record_line(news, NEWS, r), "news")


def _first_rows(behaviors: Path) -> tuple[int, pa.Table]:
    """Each user's first impression row in file order: user id, history, record number."""
    seen: set[str] = set()
    parts = []
    offset = 0
    for batch in iter_batches(behaviors, BEHAVIORS, ["user_id", "history"], "behaviors.tsv"):
        codes = pc.dictionary_encode(batch.column("user_id"))
        _, first = np.unique(codes.indices.to_numpy(), return_index=True)
        first.sort()
        users = batch.column("user_id").take(pa.array(first)).to_pylist()
        new = [i for i, user in zip(first.tolist(), users) if user not in seen]
        seen.update(users)
        rows = pa.array(new, pa.int64())
        parts.append(
            pa.table(
                {
                    "user_id": batch.column("user_id").take(rows),
                    "history": batch.column("history").take(rows),
                    "record": pc.add(rows, offset),
                }
            )
        )
        offset += batch.num_rows
    if not parts or offset == 0:
        raise HarnessError(f"{behaviors}: no impression rows")
    return len(seen), pa.concat_tables(parts).combine_chunks()


@hookimpl
def register_datasets(register):
    register(
        "mind",
        load_mind,
        options=MindOptions,
        description="MIND news clicks (--data-dir with behaviors.tsv, news.tsv): one history per user",
    )
