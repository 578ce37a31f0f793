"""Batched generation vs one prompt at a time, in generated tokens per second.

Summarizers send many prompts at once; batching them amortizes reading the
weights once per decoding step over the whole batch. Both ways decode greedily
and produce the same texts, so the ratio of tokens/s is the ratio of times.

Environment: ``HARNESS_BENCH_DTYPE`` (default ``auto``), ``HARNESS_BENCH_PROMPTS``
(default 16), ``HARNESS_BENCH_NEW_TOKENS`` (default 32).
Run: ``pytest benchmarks/bench_llm_generation.py -p no:randomly``.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from harness.costs import PeakMemory, cuda_allocated, release_freed_memory
from harness.llm import chat_prompt, count_tokens, generate

os.environ.setdefault("HF_HUB_OFFLINE", "1")

N_PROMPTS = int(os.environ.get("HARNESS_BENCH_PROMPTS", "16"))
NEW_TOKENS = int(os.environ.get("HARNESS_BENCH_NEW_TOKENS", "32"))
ITEMS = [
    "title: The Matrix; genre: sci-fi, action",
    "title: Toy Story; genre: animation, family",
    "title: Heat; genre: crime, thriller",
    "title: Alien; genre: horror, sci-fi",
    "title: Babe; genre: family, comedy",
    "title: Fargo; genre: crime, drama",
    "title: Casablanca; genre: romance, drama",
]

MEASURED: dict[str, dict] = {}


@pytest.fixture(scope="module")
def prompts(lm) -> list[str]:
    """Summarization prompts of different lengths, as the hierarchical summarizer sends them."""
    rng = np.random.default_rng(0)
    out = []
    for _ in range(N_PROMPTS):
        history = "\n".join(rng.choice(ITEMS, int(rng.integers(2, 6))))
        message = f"Summarize this user's movie preferences in one sentence:\n{history}"
        out.append(chat_prompt(lm.tokenizer, message))
    return out


def run(benchmark, lm, prompts, batch_size: int) -> None:
    def call():
        return generate(
            lm, prompts, max_new_tokens=NEW_TOKENS, batch_size=batch_size, progress=False
        )

    release_freed_memory()
    cuda_before = cuda_allocated()
    with PeakMemory() as memory:
        baseline = memory.peak_rss
        texts = benchmark.pedantic(call, rounds=1, iterations=1)
    tokens = sum(count_tokens(lm.tokenizer, texts))
    MEASURED[f"batch {batch_size}"] = {
        "texts": texts,
        "tokens_per_second": tokens / benchmark.stats.stats.min,
        "peak_extra_rss_mb": (memory.peak_rss - baseline) / 2**20,
        "peak_cuda_mb": max(0, memory.peak_cuda - cuda_before) / 2**20,
    }
    benchmark.extra_info.update(
        dtype=str(lm.dtype), device=str(lm.device), generated_tokens=tokens, batch_size=batch_size
    )


@pytest.mark.benchmark(group="llm-generation")
def test_batched(benchmark, lm, prompts):
    run(benchmark, lm, prompts, batch_size=len(prompts))


@pytest.mark.benchmark(group="llm-generation")
def test_one_at_a_time(benchmark, lm, prompts):
    run(benchmark, lm, prompts, batch_size=1)


def test_report(report, lm, prompts):
    batched, single = MEASURED[f"batch {len(prompts)}"], MEASURED["batch 1"]
    lines = [
        f"llm generation on {lm.device} ({lm.dtype}), {len(prompts)} prompts, {NEW_TOKENS} new tokens max"
    ]
    for name, m in (("batch 1", single), (f"batch {len(prompts)}", batched)):
        lines.append(
            f"  {name:<9} {m['tokens_per_second']:8.1f} tokens/s   peak extra RSS "
            f"{m['peak_extra_rss_mb']:7.0f} MB   peak extra CUDA {m['peak_cuda_mb']:7.0f} MB"
        )
    ratio = batched["tokens_per_second"] / single["tokens_per_second"]
    lines.append(f"  batched vs one at a time: {ratio:.1f}x tokens/s (target >= 3x)")
    same = sum(a == b for a, b in zip(batched["texts"], single["texts"]))
    lines.append(f"  identical outputs: {same}/{len(prompts)}")
    report(lines)
