"""What an LLM row sent for each test request, kept in its board: ``records/``.

One gzip JSON-lines file per row (``records/<row>.jsonl.gz``), one line per
test request in the split's order: the request id and its candidate ids (so
``verify`` can check the file belongs to the board), the prompt up to the
candidates, the per-candidate continuations (a pointwise row scores one
prompt per candidate; a listwise row's one prompt lists them all) and the
key of the user's preference summary, if the prompt holds one. Summaries are
stored once per board in ``records/summaries.json`` (a user's summary of a
window is the same text in every row that uses it), and the prompt holds
:data:`SUMMARY_MARK` where the summary stands. The scores are the row's
``scores/`` file.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

RECORDS = "records"
SUMMARIES = "summaries.json"
SUMMARY_MARK = "{{summary}}"


def summary_key(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def compact(
    request_ids: Sequence[str],
    candidates: Sequence[Sequence[str]],
    records: Sequence[dict[str, Any]],
    summaries: dict[str, str],
) -> list[dict[str, Any]]:
    """Records as stored: the summary text out of the prompt, into ``summaries`` by key."""
    if len(records) != len(request_ids):
        raise ValueError(f"{len(records)} prompt records for {len(request_ids)} requests")
    out = []
    for request_id, items, record in zip(request_ids, candidates, records):
        summary, prompt = record.get("summary"), record["prompt"]
        key = None
        if summary:
            key = summary_key(summary)
            summaries[key] = summary
            prompt = prompt.replace(summary, SUMMARY_MARK)
        out.append(
            {
                "id": request_id,
                "candidates": list(items),
                "summary": key,
                "prompt": prompt,
                "continuations": record.get("continuations"),
            }
        )
    return out


def write_row_records(path: Path, lines: Sequence[dict[str, Any]]) -> None:
    """gzip JSON lines, byte-identical for the same records (no timestamp in the header)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as handle:
        for line in lines:
            handle.write((json.dumps(line, ensure_ascii=False) + "\n").encode())
    path.write_bytes(buffer.getvalue())


def read_row_records(path: Path) -> list[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def write_summaries(folder: Path, summaries: dict[str, str]) -> None:
    (folder / SUMMARIES).write_text(
        json.dumps(dict(sorted(summaries.items())), indent=0, ensure_ascii=False) + "\n"
    )


def read_summaries(folder: Path) -> dict[str, str]:
    path = folder / SUMMARIES
    return json.loads(path.read_text()) if path.is_file() else {}


def verify_records(board: Path, results: dict[str, Any], split: dict[str, Any]) -> list[str]:
    """Every way a row's records could fail to belong to the board: missing file, other
    requests, another candidate order, a summary key with no (or another) text."""
    problems = []
    test = split["test"]
    summaries = read_summaries(board / RECORDS)
    for run in results["runs"]:
        name, relative = run["name"], run.get("records_file")
        if not relative:
            continue
        path = board / relative
        if not path.is_file():
            problems.append(f"{name}: records file {relative} is missing")
            continue
        try:
            lines = read_row_records(path)
        except (OSError, ValueError, EOFError) as exc:
            problems.append(f"{name}: records file {relative} is not readable: {exc}")
            continue
        if len(lines) != len(test):
            problems.append(f"{name}: {len(lines)} records for {len(test)} test requests")
            continue
        for number, (line, request) in enumerate(zip(lines, test), start=1):
            if line["id"] != request["id"] or line["candidates"] != request["candidates"]:
                problems.append(
                    f"{name}: record {number} is request {line['id']!r} with other candidates "
                    f"than split.json's request {request['id']!r}"
                )
                break
            key = line.get("summary")
            if key is not None and (key not in summaries or summary_key(summaries[key]) != key):
                problems.append(f"{name}: record {number} names summary {key}, not in {SUMMARIES}")
                break
    return problems
