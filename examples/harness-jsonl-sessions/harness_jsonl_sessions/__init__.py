"""An example third-party dataset: sessions and item texts in two JSON Lines files.

``--data-dir`` holds ``sessions.jsonl`` (``{"id": ..., "items": [...]}`` per
line, items in order) and ``items.jsonl`` (``{"id": ..., "title": ...,
...}``). It uses the harness's public data helpers: the parse is cached as
memory-mapped Arrow files (:func:`harness.data.cache.load_or_build`, under the
run's cache folder) and each item becomes one ``"field: value; ..."`` line
(:func:`harness.data.text.render_item`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from harness import (
    DatasetContext,
    HarnessError,
    ItemWriter,
    hookimpl,
    load_or_build,
    render_item,
    write_sequences,
)


@dataclass(frozen=True)
class JsonlOptions:
    fields: tuple[str, ...] = field(
        default=("title",), metadata={"help": "item fields in the text line, in order"}
    )
    domain: str = field(default="products", metadata={"help": "the catalog's domain"})


def _records(path: Path):
    if not path.is_file():
        raise HarnessError(f"{path}: not found (jsonl-sessions needs --data-dir)")
    with path.open() as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                try:
                    yield number, json.loads(line)
                except json.JSONDecodeError as exc:
                    raise HarnessError(f"{path}:{number}: not JSON: {exc.msg}") from None


def load_jsonl_sessions(options: JsonlOptions, context: DatasetContext):
    folder = Path(context.data_dir or ".")
    sessions, items = folder / "sessions.jsonl", folder / "items.jsonl"

    def build(out: Path) -> dict:
        ids, index, texts = [], {}, []
        for number, record in _records(items):
            if str(record["id"]) in index:
                raise HarnessError(f"{items}:{number}: duplicate item id {record['id']!r}")
            index[str(record["id"])] = len(ids)
            ids.append(str(record["id"]))
            texts.append(render_item(record, options.fields))
        writer = ItemWriter(out)
        writer.write(pa.array(ids), pa.array(texts))
        writer.close()
        names, offsets, values = [], [0], []
        for number, record in _records(sessions):
            for item in record["items"]:
                if str(item) not in index:
                    raise HarnessError(f"{sessions}:{number}: unknown item {item!r}")
                values.append(index[str(item)])
            names.append(str(record["id"]))
            offsets.append(len(values))
        write_sequences(out, pa.array(names), np.array(offsets), np.array(values))
        return {"name": "jsonl-sessions", "domain": options.domain, "kind": "sessions"}

    return load_or_build("jsonl-sessions", [sessions, items], options, build, context)


@hookimpl
def register_datasets(register):
    register(
        "jsonl-sessions",
        load_jsonl_sessions,
        options=JsonlOptions,
        description="example plugin: sessions.jsonl + items.jsonl from --data-dir",
    )
