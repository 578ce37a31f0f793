"""Shared-prefix packed LoRA SFT against one prompt per example, side by side.

The same training examples (LLM-TRSR-shaped prompts on real ml-100k users:
instruction, a preference summary, the 5 recent items, then 1 positive and
``HARNESS_BENCH_NEGATIVES`` negative candidates per prefix) go through
:func:`harness.llm.sft.train_lora` twice, through the HF Trainer as in a real
row: packed (one row per prefix with all its candidate tails) and unpacked
(one padded row per example). Both take the same optimizer steps over the same
examples (8 examples per step) and one round each. Reported: training
examples per second, tokens processed, and the ratio.

Environment: ``HARNESS_BENCH_DTYPE`` (default ``auto``), ``HARNESS_BENCH_PREFIXES``
(default 24), ``HARNESS_BENCH_NEGATIVES`` (default 3).
Run: ``pytest benchmarks/bench_llm_packing.py -p no:randomly -s``.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
from conftest import decoder_weights, matmul_gflops

from harness import domain_words, numbered
from harness.llm import chat_prompt
from harness.llm.packing import PromptGroup, row_tokens, tokenize_groups
from harness.llm.sft import SFTSettings, train_lora
from harness.llm.tokens import answer_token_ids

os.environ.setdefault("HF_HUB_OFFLINE", "1")

N_PREFIXES = int(os.environ.get("HARNESS_BENCH_PREFIXES", "24"))
NEGATIVES = int(os.environ.get("HARNESS_BENCH_NEGATIVES", "3"))
EXAMPLES_PER_STEP = 8
SUMMARY = (
    "The user enjoys character-driven dramas and crime thrillers from the 1990s, "
    "with some interest in classic comedies and animated family films."
)
MEASURED: dict[str, dict] = {}


@pytest.fixture(scope="module")
def groups(lm) -> list[PromptGroup]:
    from harness.data.embedded_dataset import MovieLensOptions, load_ml_100k

    data = load_ml_100k(MovieLensOptions())
    rng = np.random.default_rng(0)
    out = []
    for user in rng.choice(len(data.sequences), N_PREFIXES, replace=False):
        seq = data.sequences[user]
        body = (
            f"{domain_words('movies').yes_no}\n[Preference Summary]\n{SUMMARY}\n"
            f"[Recent Items]\n{numbered(data.catalog.texts(seq[-6:-1]))}\n"
            "[Candidate Item]\n\x00"
        )
        prefix, suffix = chat_prompt(lm.tokenizer, body).split("\x00")
        seen = set(seq.tolist())
        negatives = [i for i in rng.permutation(len(data.catalog))[:50] if i not in seen]
        candidates = [int(seq[-1]), *negatives[:NEGATIVES]]
        tails = tuple(data.catalog.text(c) + suffix for c in candidates)
        out.append(PromptGroup(prefix, tails, (True,) + (False,) * NEGATIVES))
    return out


def train(benchmark, lm, groups, tmp_path, packed: bool) -> None:
    per_row = 1 + NEGATIVES if packed else 1
    settings = SFTSettings(
        epochs=1, batch_size=EXAMPLES_PER_STEP // per_row, lr=1e-4, packing=packed
    )
    rows = tokenize_groups(
        lm.tokenizer, groups, answer_token_ids(lm.tokenizer, "yes", "no"), packed
    )
    start = time.perf_counter()
    _, report = benchmark.pedantic(
        train_lora,
        args=(lm, groups, settings, tmp_path),
        kwargs={"progress": False},
        rounds=1,
        iterations=1,
    )
    seconds = time.perf_counter() - start
    MEASURED["packed" if packed else "unpacked"] = {
        "examples_per_s": report.examples / seconds,
        "examples": report.examples,
        "steps": report.steps,
        "tokens": sum(map(row_tokens, rows)),
        "seconds": seconds,
        "training_seconds": report.training_seconds,
    }
    benchmark.extra_info.update(dtype=str(lm.dtype), examples=report.examples)


@pytest.mark.benchmark(group="llm-sft-packing")
def test_sft_one_prompt_per_example(benchmark, lm, groups, tmp_path):
    train(benchmark, lm, groups, tmp_path, packed=False)


@pytest.mark.benchmark(group="llm-sft-packing")
def test_sft_packed(benchmark, lm, groups, tmp_path):
    train(benchmark, lm, groups, tmp_path, packed=True)


def test_report(report, lm):
    packed, unpacked = MEASURED["packed"], MEASURED["unpacked"]
    assert packed["examples"] == unpacked["examples"] and packed["steps"] == unpacked["steps"]
    lines = [
        f"LoRA SFT on {lm.device} ({lm.dtype}), {N_PREFIXES} prefixes x (1 + {NEGATIVES}) "
        f"candidates = {packed['examples']} examples, {packed['steps']} steps of "
        f"{EXAMPLES_PER_STEP} examples, 1 round each"
    ]
    # useful work: the packed rows' tokens, 4 FLOPs per decoder weight per token (forward,
    # and backward through the frozen weights to the adapters), attention's own left out
    useful = 4 * decoder_weights(lm.model) * packed["tokens"]
    for name, m in (("one prompt per example", unpacked), ("packed", packed)):
        lines.append(
            f"  {name:<23} {m['examples_per_s']:6.2f} examples/s  {m['tokens']:6d} tokens  "
            f"{m['seconds']:6.1f} s  {useful / m['training_seconds'] / 1e9:5.1f} GFLOP/s useful"
        )
    ceiling = matmul_gflops()
    lines += [
        f"  packed vs one prompt per example: "
        f"{packed['examples_per_s'] / unpacked['examples_per_s']:.2f}x examples/s",
        f"  float32 matmul on this machine: {ceiling:.0f} GFLOP/s; packed training reaches "
        f"{useful / packed['training_seconds'] / 1e9 / ceiling:.0%} of it",
    ]
    report(lines)
