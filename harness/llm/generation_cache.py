"""A content-addressed cache of generations, so reruns and resumed runs repeat no work.

The key of one generation is the sha256 of (model, prompt, generation
settings); results are committed to SQLite batch by batch, so a run killed
half-way keeps every finished batch and never sees a half-written row.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path

Generator = Callable[[list[str]], list[str]]


def generation_key(model: str, prompt: str, settings: dict) -> str:
    payload = json.dumps([model, prompt, settings], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


class CachedGenerator:
    """Wrap ``generate(prompts) -> texts`` with a persistent cache keyed by content.

    The prompts missing from the cache are sorted by ``length`` (characters by
    default; pass a token counter) across the whole call, then handed to
    ``generate`` ``batch_size`` at a time, so a batch holds prompts of similar
    length (little left padding) and is exactly as large as the caller asked;
    each batch is committed before the next starts.

    ``requested`` counts the prompts asked for; ``calls`` and ``generated``
    count those actually sent to the model, which is how tests (and the
    results file) show that a rerun regenerates nothing.
    """

    def __init__(
        self,
        generate: Generator,
        path: Path,
        model: str,
        settings: dict,
        batch_size: int = 64,
        length: Callable[[str], int] = len,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self._generate = generate
        self.model = model
        self.settings = settings
        self.batch_size = batch_size
        self.length = length
        self.requested = 0
        self.calls = 0
        self.generated = 0
        self.new_texts: list[str] = []
        path.parent.mkdir(parents=True, exist_ok=True)
        # WAL and a busy timeout: data-parallel ranks share one file, readers never block
        self._db = sqlite3.connect(path, timeout=120)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS generations (key TEXT PRIMARY KEY, text TEXT)")
        self._db.commit()

    def __call__(self, prompts: Sequence[str]) -> list[str]:
        keys = [generation_key(self.model, p, self.settings) for p in prompts]
        self.requested += len(keys)
        found = self._lookup(set(keys))
        missing: dict[str, str] = {}
        for key, prompt in zip(keys, prompts):
            if key not in found:
                missing.setdefault(key, prompt)
        pending = sorted(missing.items(), key=lambda item: self.length(item[1]))
        for start in range(0, len(pending), self.batch_size):
            chunk = pending[start : start + self.batch_size]
            self.calls += 1
            texts = self._generate([prompt for _, prompt in chunk])
            self.generated += len(chunk)
            self.new_texts.extend(texts)
            with self._db:
                self._db.executemany(
                    "INSERT OR REPLACE INTO generations VALUES (?, ?)",
                    [(key, text) for (key, _), text in zip(chunk, texts)],
                )
            found.update({key: text for (key, _), text in zip(chunk, texts)})
        return [found[key] for key in keys]

    def _lookup(self, keys: set[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        key_list = list(keys)
        for start in range(0, len(key_list), 500):
            chunk = key_list[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT key, text FROM generations WHERE key IN ({marks})", chunk
            )
            out.update(dict(rows))
        return out

    def close(self) -> None:
        self._db.close()
