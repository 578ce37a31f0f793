"""Catalog embedding throughput: length-sorted batches against one text per forward pass.

Both ways embed the same real ml-100k item lines with the embedded model
(mean pooling, no cache: each round writes to a fresh folder), for the same
number of rounds, timed by their fastest round; the ratio is texts per second,
batched over one at a time. The two ways' vectors are checked to agree
(the batching-invariance the tests assert, here at the benchmark's size).

Environment: ``HARNESS_BENCH_TEXTS`` (default 256), ``HARNESS_BENCH_ROUNDS``
(default 2). Run: ``pytest benchmarks/bench_embedding.py -p no:randomly -s``.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np

from harness.llm import embed_texts

os.environ.setdefault("HF_HUB_OFFLINE", "1")
N_TEXTS = int(os.environ.get("HARNESS_BENCH_TEXTS", "256"))
ROUNDS = int(os.environ.get("HARNESS_BENCH_ROUNDS", "2"))


def fastest(lm, texts: list[str], batch_size: int) -> tuple[float, np.ndarray]:
    times, vectors = [], None
    for _ in range(ROUNDS):
        with tempfile.TemporaryDirectory() as cache:  # no cache hit: every text is embedded
            start = time.perf_counter()
            vectors = embed_texts(lm, texts, cache_dir=Path(cache), batch_size=batch_size)
            times.append(time.perf_counter() - start)
    return min(times), vectors


def test_batched_against_one_at_a_time(lm, report):
    from harness.data.embedded_dataset import MovieLensOptions, load_ml_100k

    catalog = load_ml_100k(MovieLensOptions()).catalog
    texts = catalog.texts(np.arange(min(N_TEXTS, len(catalog))))
    batched_s, batched = fastest(lm, texts, batch_size=32)
    single_s, single = fastest(lm, texts, batch_size=1)
    difference = float(np.abs(batched - single).max())
    n = len(texts)
    report(
        [
            f"{n} ml-100k item texts, mean pooling, {lm.dtype}, best of {ROUNDS} rounds each",
            f"batched (32, length-sorted): {n / batched_s:.1f} texts/s",
            f"one at a time              : {n / single_s:.1f} texts/s",
            f"ratio batched/one-at-a-time: {single_s / batched_s:.2f}x",
            f"largest difference between the two ways' vectors: {difference:.2e}",
        ]
    )
    assert difference < 1e-3
