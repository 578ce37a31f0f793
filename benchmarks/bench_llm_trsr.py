"""LLM-TRSR's two expensive steps, each side by side with the naive way.

- Summarization, both modes, on real ml-100k histories (the last 25 items of
  seeded users, blocks of 5): all users in one batched call (what the plugin
  does) against one user at a time. Reported: generated tokens per second and
  seconds per user. One user at a time still batches that user's blocks in
  hierarchical mode; recurrent mode is then one prompt per step.
- LoRA SFT on LLM-TRSR-shaped prompts: the loss on the answer token with the
  output head at one position (the default) against the loss on the full text
  (what the paper's public code did). Reported: prompt tokens per second and
  peak extra memory.

No cache is involved: every summary is generated.

Environment: ``HARNESS_BENCH_DTYPE`` (default ``auto``: bf16 where the
hardware runs it), ``HARNESS_BENCH_USERS`` (default 8),
``HARNESS_BENCH_NEW_TOKENS`` (default 32, the quick profile's summary length),
``HARNESS_BENCH_TRAIN_PROMPTS`` (default 32).
Run: ``pytest benchmarks/bench_llm_trsr.py -p no:randomly``.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from harness import domain_words, numbered
from harness.costs import PeakMemory, cuda_allocated, release_freed_memory
from harness.llm import chat_prompt, count_tokens, generate
from harness.llm.packing import PromptGroup
from harness.llm.sft import SFTSettings, train_lora
from llm_trsr.summarizers import HierarchicalSummarizer, RecurrentSummarizer, SummarizerOptions

os.environ.setdefault("HF_HUB_OFFLINE", "1")

N_USERS = int(os.environ.get("HARNESS_BENCH_USERS", "8"))
NEW_TOKENS = int(os.environ.get("HARNESS_BENCH_NEW_TOKENS", "32"))
N_TRAIN = int(os.environ.get("HARNESS_BENCH_TRAIN_PROMPTS", "32"))
HISTORY, BATCH = 25, 64
MODES = {"hierarchical": HierarchicalSummarizer, "recurrent": RecurrentSummarizer}

MEASURED: dict[str, dict] = {}


@pytest.fixture(scope="module")
def ml100k():
    from harness.data.embedded_dataset import MovieLensOptions, load_ml_100k

    return load_ml_100k(MovieLensOptions())


@pytest.fixture(scope="module")
def histories(ml100k) -> list[list[str]]:
    rng = np.random.default_rng(0)
    users = rng.choice(len(ml100k.sequences), N_USERS, replace=False)
    return [ml100k.catalog.texts(ml100k.sequences[u][-HISTORY:]) for u in users]


class CountingGenerator:
    """The summarizers' generator without the cache, counting what it generates."""

    def __init__(self, lm):
        self.lm = lm
        self.tokens = self.prompts = 0

    def __call__(self, prompts: list[str]) -> list[str]:
        chats = [chat_prompt(self.lm.tokenizer, p) for p in prompts]
        out = generate(self.lm, chats, max_new_tokens=NEW_TOKENS, batch_size=BATCH, progress=False)
        self.tokens += sum(count_tokens(self.lm.tokenizer, out))
        self.prompts += len(prompts)
        return out


def summarize(benchmark, lm, histories, mode: str, per_user: bool) -> None:
    generator = CountingGenerator(lm)
    options = SummarizerOptions(max_new_tokens=NEW_TOKENS, batch_size=BATCH)
    summarizer = MODES[mode](options, generator=generator)

    def call():
        if per_user:
            return [summarizer.summarize([h], None, "movies")[0] for h in histories]
        return summarizer.summarize(histories, None, "movies")

    summaries = benchmark.pedantic(call, rounds=1, iterations=1)
    seconds = benchmark.stats.stats.min
    MEASURED[f"{mode} {'one user at a time' if per_user else 'batched'}"] = {
        "summaries": summaries,
        "tokens_per_second": generator.tokens / seconds,
        "seconds_per_user": seconds / len(histories),
        "prompts": generator.prompts,
    }
    benchmark.extra_info.update(
        dtype=str(lm.dtype), device=str(lm.device), tokens=generator.tokens, users=len(histories)
    )


@pytest.mark.benchmark(group="llm-trsr-summaries")
@pytest.mark.parametrize("mode", list(MODES))
def test_summaries_batched(benchmark, lm, histories, mode):
    summarize(benchmark, lm, histories, mode, per_user=False)


@pytest.mark.benchmark(group="llm-trsr-summaries")
@pytest.mark.parametrize("mode", list(MODES))
def test_summaries_one_user_at_a_time(benchmark, lm, histories, mode):
    summarize(benchmark, lm, histories, mode, per_user=True)


@pytest.fixture(scope="module")
def sft_examples(lm, ml100k) -> list[PromptGroup]:
    """Prompts shaped like LLM-TRSR's: instruction, a summary-sized block, recent items,
    candidate; one prompt per example (the full-text loss cannot share a prefix)."""
    rng = np.random.default_rng(1)
    groups = []
    for i in range(N_TRAIN):
        seq = ml100k.sequences[int(rng.integers(len(ml100k.sequences)))]
        summary = "The user likes " + ", ".join(ml100k.catalog.texts(seq[:6]))
        body = (
            f"{domain_words('movies').yes_no}\n[Preference Summary]\n{summary}\n"
            f"[Recent Items]\n{numbered(ml100k.catalog.texts(seq[-5:]))}\n"
            f"[Candidate Item]\n{ml100k.catalog.text(int(rng.integers(len(ml100k.catalog))))}"
        )
        prompt = chat_prompt(lm.tokenizer, body)
        groups.append(PromptGroup(prompt[:-1], (prompt[-1],), (i % 2 == 0,)))
    return groups


def train(benchmark, lm, sft_examples, tmp_path, loss_on: str) -> None:
    groups = sft_examples
    settings = SFTSettings(epochs=1, batch_size=8, lr=1e-4, loss_on=loss_on, packing=False)
    prompts = [g.prefix + g.continuations[0] for g in groups]
    tokens = sum(count_tokens(lm.tokenizer, prompts)) + len(prompts)
    release_freed_memory()
    cuda_before = cuda_allocated()
    with PeakMemory() as memory:
        baseline = memory.peak_rss
        start = time.perf_counter()
        benchmark.pedantic(
            train_lora,
            args=(lm, groups, settings, tmp_path),
            kwargs={"progress": False},
            rounds=1,
            iterations=1,
        )
        seconds = time.perf_counter() - start
    MEASURED[f"sft {loss_on}"] = {
        "tokens_per_second": tokens / seconds,
        "tokens_per_prompt": tokens / len(prompts),
        "peak_extra_rss_mb": (memory.peak_rss - baseline) / 2**20,
        "peak_cuda_mb": max(0, memory.peak_cuda - cuda_before) / 2**20,
    }
    benchmark.extra_info.update(dtype=str(lm.dtype), device=str(lm.device), tokens=tokens)


@pytest.mark.benchmark(group="llm-trsr-sft")
def test_sft_answer_loss(benchmark, lm, sft_examples, tmp_path):
    train(benchmark, lm, sft_examples, tmp_path, "answer")


@pytest.mark.benchmark(group="llm-trsr-sft")
def test_sft_full_text_loss(benchmark, lm, sft_examples, tmp_path):
    train(benchmark, lm, sft_examples, tmp_path, "full")


def test_report(report, lm):
    lines = [
        f"llm-trsr on {lm.device} ({lm.dtype}): {N_USERS} ml-100k users, history {HISTORY}, "
        f"blocks of 5, summaries of at most {NEW_TOKENS} tokens, batches of {BATCH}"
    ]
    for mode in MODES:
        batched = MEASURED[f"{mode} batched"]
        single = MEASURED[f"{mode} one user at a time"]
        for name, m in (("one user at a time", single), ("batched", batched)):
            lines.append(
                f"  {mode:<12} {name:<19} {m['tokens_per_second']:7.1f} tokens/s "
                f"{m['seconds_per_user']:6.2f} s/user  ({m['prompts']} prompts)"
            )
        ratio = single["seconds_per_user"] / batched["seconds_per_user"]
        same = sum(a == b for a, b in zip(batched["summaries"], single["summaries"]))
        lines.append(
            f"  {mode:<12} batched vs one user at a time: {ratio:.1f}x faster; "
            f"identical summaries {same}/{N_USERS}"
        )
    answer, full = MEASURED["sft answer"], MEASURED["sft full"]
    for name, m in (("full-text loss", full), ("answer-token loss", answer)):
        lines.append(
            f"  LoRA SFT {name:<18} {m['tokens_per_second']:7.1f} prompt tokens/s  "
            f"peak extra RSS {m['peak_extra_rss_mb']:6.0f} MB  CUDA {m['peak_cuda_mb']:6.0f} MB"
        )
    lines.append(
        f"  LoRA SFT answer vs full-text loss: "
        f"{answer['tokens_per_second'] / full['tokens_per_second']:.2f}x tokens/s, "
        f"{N_TRAIN} prompts of {answer['tokens_per_prompt']:.0f} tokens, batch 8"
    )
    report(lines)
