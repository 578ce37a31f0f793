"""Candidate scoring, side by side: the paper's padded reference, plain batching, shared prefix.

Workload: users with a ~400-token prompt prefix and 21 candidates of ~30
tokens each, on the embedded model. The three ways must give the same P(yes)
(checked in float32) and are timed per user:

- reference: what the paper's public code did; every (user, candidate)
  prompt padded to 2048 tokens, one at a time, full-vocabulary logits;
- plain batching: a user's 21 full prompts in one left-padded batch, logits
  of the last position only;
- shared prefix: :func:`harness.llm.score_yes_no` (prefix once, KV cache
  reused by all candidates).

Environment: ``HARNESS_BENCH_DTYPE`` (default ``float32``; ``auto`` gives
bf16 where the hardware runs it), ``HARNESS_BENCH_USERS`` (default 2),
``HARNESS_BENCH_REFERENCE_USERS`` (default 1; the reference is the slow one),
``HARNESS_BENCH_ROUNDS`` (default 1; every way gets the same rounds, timed by
its fastest round).
Run: ``pytest benchmarks/bench_llm_scoring.py -p no:randomly``.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from conftest import decoder_weights, matmul_gflops

from harness.costs import PeakMemory, cuda_allocated, release_freed_memory
from harness.llm import ScoringRequest, answer_token_ids, count_tokens, load_model, score_yes_no

os.environ.setdefault("HF_HUB_OFFLINE", "1")

DTYPE = os.environ.get("HARNESS_BENCH_DTYPE", "float32")
N_USERS = int(os.environ.get("HARNESS_BENCH_USERS", "2"))
N_REFERENCE_USERS = int(os.environ.get("HARNESS_BENCH_REFERENCE_USERS", "1"))
ROUNDS = int(os.environ.get("HARNESS_BENCH_ROUNDS", "1"))  # the same for all three ways
PREFIX_WORDS, N_CANDIDATES, CANDIDATE_WORDS = 400, 21, 26
REFERENCE_LENGTH = 2048
YES, NO = " yes", " no"

MEASURED: dict[str, dict] = {}


@pytest.fixture(scope="module")
def lm():
    lm = load_model(dtype=DTYPE)
    warm_up(lm)
    return lm


def warm_up(lm) -> None:
    """One full forward, so that paging in the memory-mapped weights is not billed to a method."""
    with torch.inference_mode():
        lm.model(input_ids=torch.tensor([[lm.tokenizer.eos_token_id] * 8], device=lm.device))


@pytest.fixture(scope="module")
def requests(lm) -> list[ScoringRequest]:
    return make_requests(lm.tokenizer, N_USERS)


def make_requests(tokenizer, n_users: int, seed: int = 0) -> list[ScoringRequest]:
    """Word salad shaped like the recommender prompt (real words are mostly one token each)."""
    rng = np.random.default_rng(seed)
    vocab = tokenizer.get_vocab()
    words = sorted(w[1:] for w in vocab if w.startswith("Ġ") and w[1:].isalpha() and len(w) > 3)

    def text(n: int) -> str:
        return " ".join(rng.choice(words, n))

    out = []
    for _ in range(n_users):
        prefix = f"Instruction: {text(20)}\n[Preference Summary]\n{text(PREFIX_WORDS - 60)}\n"
        prefix += f"[Recent Items]\n{text(40)}\n"
        continuations = tuple(
            f"[Candidate Item]\ntitle: {text(CANDIDATE_WORDS - 8)}\nAnswer:"
            for _ in range(N_CANDIDATES)
        )
        out.append(ScoringRequest(prefix, continuations))
    return out


def reference_scores(lm, requests: list[ScoringRequest]) -> list[np.ndarray]:
    """The paper's way: each prompt right-padded to 2048 tokens, batch 1, full logits."""
    yes_id, no_id = answer_token_ids(lm.tokenizer, YES, NO)
    out = []
    with torch.inference_mode():
        for request in requests:
            scores = []
            for continuation in request.continuations:
                inputs = lm.tokenizer(
                    request.prefix + continuation,
                    padding="max_length",
                    padding_side="right",
                    max_length=REFERENCE_LENGTH,
                    return_tensors="pt",
                ).to(lm.device)
                logits = lm.model(**inputs).logits  # (1, 2048, vocabulary)
                last = int(inputs["attention_mask"].sum()) - 1
                pair = logits[0, last, [yes_id, no_id]].double()
                scores.append(torch.softmax(pair, dim=0)[0].item())
            out.append(np.array(scores))
    return out


def plain_batched_scores(lm, requests: list[ScoringRequest]) -> list[np.ndarray]:
    """A user's full prompts in one left-padded batch; only the last position's logits."""
    yes_id, no_id = answer_token_ids(lm.tokenizer, YES, NO)
    out = []
    with torch.inference_mode():
        for request in requests:
            texts = [request.prefix + c for c in request.continuations]
            inputs = lm.tokenizer(texts, padding=True, padding_side="left", return_tensors="pt").to(
                lm.device
            )
            positions = (inputs["attention_mask"].cumsum(-1) - 1).clamp(min=0)
            logits = lm.model(**inputs, position_ids=positions, logits_to_keep=1).logits
            pair = logits[:, -1, [yes_id, no_id]].double()
            out.append(torch.softmax(pair, dim=-1)[:, 0].cpu().numpy())
    return out


def shared_prefix_scores(lm, requests: list[ScoringRequest]) -> list[np.ndarray]:
    return score_yes_no(lm, requests, yes=YES, no=NO, progress=False)


def run(benchmark, lm, method, requests, rounds: int) -> None:
    release_freed_memory()
    cuda_before = cuda_allocated()
    with PeakMemory() as memory:
        baseline = memory.peak_rss
        result = benchmark.pedantic(method, args=(lm, requests), rounds=rounds, iterations=1)
    extra_mb = (memory.peak_rss - baseline) / 2**20
    cuda_mb = max(0, memory.peak_cuda - cuda_before) / 2**20
    per_user = benchmark.stats.stats.min / len(requests)
    MEASURED[method.__name__] = {
        "scores": result,
        "seconds_per_user": per_user,
        "peak_extra_rss_mb": extra_mb,
        "peak_cuda_mb": cuda_mb,
    }
    benchmark.extra_info.update(
        dtype=str(lm.dtype),
        device=str(lm.device),
        users=len(requests),
        seconds_per_user=per_user,
        peak_extra_rss_mb=extra_mb,
        peak_cuda_mb=cuda_mb,
    )


@pytest.mark.benchmark(group="llm-scoring")
def test_shared_prefix(benchmark, lm, requests):
    run(benchmark, lm, shared_prefix_scores, requests, rounds=ROUNDS)
    prefix_tokens = count_tokens(lm, [r.prefix for r in requests])
    tails = count_tokens(lm, [r.prefix + c for r in requests for c in r.continuations])
    benchmark.extra_info.update(
        prefix_tokens=float(np.mean(prefix_tokens)),
        candidate_tokens=float(np.mean(tails) - np.mean(prefix_tokens)),
    )


@pytest.mark.benchmark(group="llm-scoring")
def test_plain_batching(benchmark, lm, requests):
    run(benchmark, lm, plain_batched_scores, requests, rounds=ROUNDS)


@pytest.mark.benchmark(group="llm-scoring")
def test_reference_padded_2048(benchmark, lm, requests):
    run(benchmark, lm, reference_scores, requests[:N_REFERENCE_USERS], rounds=ROUNDS)


def test_report(report, lm, requests):
    """Ratios and P(yes) agreement; equality is asserted in float32 only."""
    shared = MEASURED["shared_prefix_scores"]
    plain = MEASURED["plain_batched_scores"]
    reference = MEASURED["reference_scores"]
    n_ref = len(reference["scores"])
    diff_plain = max(np.abs(a - b).max() for a, b in zip(shared["scores"], plain["scores"]))
    diff_ref = max(
        np.abs(a - b).max() for a, b in zip(shared["scores"][:n_ref], reference["scores"])
    )
    prefix = np.mean(count_tokens(lm, [r.prefix for r in requests]))
    # useful work: each user's prefix once and every candidate's tail once, 2 FLOPs per
    # decoder weight per token (attention's own FLOPs left out)
    full = np.array(count_tokens(lm, [r.prefix + c for r in requests for c in r.continuations]))
    tokens = prefix * len(requests) + (full.sum() - prefix * len(full))
    flops_per_user = 2 * decoder_weights(lm.model) * tokens / len(requests)
    ceiling = matmul_gflops()
    lines = [
        f"llm scoring on {lm.device} ({lm.dtype}), {len(requests)} users x {N_CANDIDATES} "
        f"candidates, prefix ~{prefix:.0f} tokens, reference on {n_ref} user(s)",
    ]
    for name, m in (("reference", reference), ("plain", plain), ("shared", shared)):
        gflops = flops_per_user / m["seconds_per_user"] / 1e9
        lines.append(
            f"  {name:<9} {m['seconds_per_user']:8.3f} s/user   {gflops:6.1f} GFLOP/s useful   "
            f"peak extra RSS {m['peak_extra_rss_mb']:7.0f} MB   "
            f"peak extra CUDA {m['peak_cuda_mb']:7.0f} MB"
        )
    lines += [
        f"  shared prefix vs reference:      {reference['seconds_per_user'] / shared['seconds_per_user']:6.1f}x (target >= 25x on CPU)",
        f"  shared prefix vs plain batching: {plain['seconds_per_user'] / shared['seconds_per_user']:6.1f}x (target >= 4x)",
        f"  max |P(yes) diff|: shared vs plain {diff_plain:.2e}, shared vs reference {diff_ref:.2e}",
        f"  float32 matmul on this machine: {ceiling:.0f} GFLOP/s; shared prefix reaches "
        f"{flops_per_user / shared['seconds_per_user'] / 1e9 / ceiling:.0%} of it",
    ]
    report(lines)
    if lm.dtype == torch.float32:
        assert diff_plain <= 1e-4
        assert diff_ref <= 1e-4
