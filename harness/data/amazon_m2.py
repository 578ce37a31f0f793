"""Amazon-M2 (KDD Cup 2023) product sessions as LLM-TRSR used them.

Reads ``sessions_train.csv`` (``prev_items`` written as a numpy array repr,
``['B09W9FND7K' 'B09JSPLN1M']``, possibly wrapped over several lines;
``next_item``; ``locale``) and ``products_train.csv`` (id, locale, title,
price, brand, color, size, model, material, author, desc). Products are keyed
by (id, locale), so only the selected locale's rows form the catalog. A
session's sequence is ``prev_items + [next_item]``; the paper kept one locale
(UK) and sessions of 10-25 previous items.

The catalog has about 1.5 million rows: files are streamed in blocks, texts
rendered with Arrow kernels and written to a memory-mapped cache, so the
parse happens once and later runs only map the cache.
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
from harness.data.mind import check_fields, check_max_words
from harness.data.render import render_columns
from harness.data.sequences import (
    append_column,
    checked_catalog_ids,
    map_and_filter,
    split_ids,
    validate_history_bounds,
)
from harness.dataset import Dataset
from harness.errors import HarnessError
from harness.hookspecs import hookimpl

log = logging.getLogger(__name__)

CSV = Format(",", quoted=True)
TEXT_FIELDS = ("title", "price", "brand", "color", "size", "model", "material", "author", "desc")
# a numpy repr of a string array: quoted ids separated by whitespace (newlines included)
PREV_ITEMS = r"""^\[\s*(?:(?:'[^'\s]+'|"[^"\s]+")\s*)*\]$"""
# 50 words keeps nearly every title whole and a description's opening sentences: nine
# fields stay near 100 tokens, so a 25-item history fits a 4k-token prompt
DEFAULT_MAX_WORDS = 50


@dataclass(frozen=True)
class AmazonM2Options:
    locale: str = field(default="UK", metadata={"help": "sessions and products of this locale"})
    fields: tuple[str, ...] = field(
        default=TEXT_FIELDS,
        metadata={"help": "products_train.csv fields of the item text, in order, joined by |"},
    )
    max_words: int | None = field(
        default=DEFAULT_MAX_WORDS,
        metadata={"help": "word cap per field, so long descriptions cannot blow up a prompt"},
    )
    min_history: int = field(default=10, metadata={"help": "fewest previous items of a session"})
    max_history: int = field(default=25, metadata={"help": "most previous items of a session"})
    unknown_items: Literal["error", "drop"] = field(
        default="error",
        metadata={"help": "session items absent from the locale's products: error, or drop"},
    )

    def __post_init__(self) -> None:
        if not self.locale.strip():
            raise HarnessError("locale must not be empty (e.g. UK, DE, JP)")
        check_fields(self.fields, TEXT_FIELDS, "products_train.csv")
        check_max_words(self.max_words)
        validate_history_bounds(self.min_history, self.max_history)


def load_amazon_m2(options: AmazonM2Options, context: DatasetContext) -> Dataset:
    """Amazon-M2 sessions of one locale from ``--data-dir``."""
    sessions, products = require_files(
        context.data_dir,
        ["sessions_train.csv", "products_train.csv"],
        "amazon-m2",
        "the Amazon-M2 / KDD Cup 2023 release",
    )
    return load_or_build(
        "amazon-m2",
        [sessions, products],
        options,
        lambda folder: _build(folder, sessions, products, options),
        context,
    )


def _build(
    folder: Path, sessions: Path, products: Path, options: AmazonM2Options
) -> dict[str, Any]:
    catalog_ids = _write_catalog(folder, products, options)
    table = _locale_sessions(sessions, options.locale)
    prev = table.column("prev_items")
    records = table.column("record").to_numpy()

    def where(row: int) -> str:
        return record_line(sessions, CSV, int(records[row]))

    bad = pc.invert(pc.match_substring_regex(prev, PREV_ITEMS)).to_numpy(zero_copy_only=False)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        value = prev[row].as_py()
        shown = value if len(value) <= 60 else value[:57] + "..."
        raise HarnessError(
            f"{where(row)}: prev_items {shown!r} is not a list of quoted item ids "
            "like ['B09W9FND7K' 'B09JSPLN1M']"
        )
    next_item = pc.utf8_trim_whitespace(table.column("next_item")).combine_chunks()
    empty = pc.equal(next_item, "").to_numpy(zero_copy_only=False)
    if empty.any():
        raise HarnessError(f"{where(int(np.flatnonzero(empty)[0]))}: empty next_item")
    rows = append_column(
        split_ids(pc.replace_substring_regex(prev, r"""[\[\]'"]""", " ")), next_item
    )

    def unknown(row: int, item: str) -> HarnessError:
        return HarnessError(
            f"{where(row)}: item {item!r} is not a product of locale {options.locale!r} "
            f"in {products.name}"
        )

    def none_left() -> HarnessError:
        return HarnessError(
            f"{sessions}: none of its {len(table)} sessions of locale {options.locale!r} has "
            f"{options.min_history}-{options.max_history} previous items"
        )

    bounds = (options.min_history, options.max_history)
    kept, keep, dropped, touched = map_and_filter(
        rows, catalog_ids, options.unknown_items, unknown, bounds, none_left
    )
    warnings = []
    if dropped:
        warnings.append(
            f"amazon-m2: dropped {dropped} items of {touched} sessions that are not products "
            f"of locale {options.locale!r} in {products} (unknown_items=drop)"
        )
    ids = pc.binary_join_element_wise(
        "session-",
        pc.cast(pc.add(table.column("record").filter(pa.array(keep)), 1), pa.string()),
        "",
    )
    write_sequences(folder, ids, kept.offsets, kept.values)
    log.info(
        "amazon-m2: %d of %d %s sessions have %d-%d previous items",
        int(keep.sum()),
        len(table),
        options.locale,
        options.min_history,
        options.max_history,
    )
    return {
        "name": "amazon-m2",
        "domain": "products",
        "kind": "sessions",
        "source": {
            "sessions": str(sessions.resolve()),
            "products": str(products.resolve()),
            "locale": options.locale,
        },
        "warnings": warnings,
    }


def _write_catalog(folder: Path, products: Path, options: AmazonM2Options) -> pa.Array:
    """Render the locale's products into ``items.arrow``; returns their ids for the lookup."""
    include = ["id", "locale", *dict.fromkeys(options.fields)]
    writer = ItemWriter(folder)
    chunks, records, locales = [], [], set()
    offset = 0
    try:
        for batch in iter_batches(products, CSV, include, "products_train.csv"):
            locale = batch.column("locale")
            locales.update(pc.unique(locale).to_pylist())
            mask = pc.equal(locale, options.locale)
            selected = batch.filter(mask)
            columns = {name: selected.column(name) for name in include}
            texts = render_columns(columns, options.fields, options.max_words)
            writer.write(columns["id"], texts)
            chunks.append(columns["id"])
            records.append(offset + np.flatnonzero(mask.to_numpy(zero_copy_only=False)))
            offset += batch.num_rows
    finally:
        writer.close()
    if writer.count == 0:
        present = ", ".join(sorted(locales)) or "none: the file has no rows"
        raise HarnessError(
            f"{products}: no products of locale {options.locale!r} (locales present: {present})"
        )
    return checked_catalog_ids(
        chunks,
        np.concatenate(records),
        lambda r: record_line(products, CSV, r),
        f"product (locale {options.locale})",
    )


def _locale_sessions(sessions: Path, locale: str) -> pa.Table:
    """The sessions of ``locale``, with their record numbers (for error messages and ids)."""
    parts, locales = [], set()
    offset = 0
    include = ["prev_items", "next_item", "locale"]
    for batch in iter_batches(sessions, CSV, include, "sessions_train.csv"):
        column = batch.column("locale")
        locales.update(pc.unique(column).to_pylist())
        mask = pc.equal(column, locale)
        rows = np.flatnonzero(mask.to_numpy(zero_copy_only=False))
        parts.append(
            pa.table(
                {
                    "prev_items": batch.column("prev_items").filter(mask),
                    "next_item": batch.column("next_item").filter(mask),
                    "record": pa.array(offset + rows, pa.int64()),
                }
            )
        )
        offset += batch.num_rows
    table = pa.concat_tables(parts) if parts else None
    if table is None or len(table) == 0:
        present = ", ".join(sorted(locales)) or "none: the file has no rows"
        raise HarnessError(
            f"{sessions}: no sessions of locale {locale!r} (locales present: {present})"
        )
    return table.combine_chunks()


@hookimpl
def register_datasets(register):
    register(
        "amazon-m2",
        load_amazon_m2,
        options=AmazonM2Options,
        description="Amazon-M2 product sessions (--data-dir with sessions_train.csv, "
        "products_train.csv), one locale",
    )
