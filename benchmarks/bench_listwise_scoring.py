"""Listwise scoring (one prompt per request) against pointwise yes/no (21 prompts sharing a
prefix), side by side on the same requests at the same history.

Both rows are zero-shot on the embedded model and see the same newest 10
history items of real ml-100k test requests:
``listwise-llm[recent_items=10,max_prompt_tokens=4096]`` against
``truncated-llm[recent_items=10,max_prompt_tokens=4096]`` (the budget cuts
nothing, so both hold the same history lines). Each way
scores the same requests for the same number of rounds and is timed by its
fastest round; the ratio is requests per second, listwise over pointwise.
The prompt tokens each sends are printed too (the token counts bound the
ratio: one prompt holding 21 candidate lines against one prefix plus 21
candidate tails).

Environment: ``HARNESS_BENCH_REQUESTS`` (default 16), ``HARNESS_BENCH_ROUNDS``
(default 2). Run: ``pytest benchmarks/bench_listwise_scoring.py -p no:randomly -s``.
"""

from __future__ import annotations

import os
import time

import pytest

from harness import RunContext
from harness.splits import SplitConfig, build_split
from harness_baselines.listwise_llm import ListwiseLLM, ListwiseOptions
from harness_baselines.truncated_llm import TruncatedLLM, TruncatedOptions

os.environ.setdefault("HF_HUB_OFFLINE", "1")
N_REQUESTS = int(os.environ.get("HARNESS_BENCH_REQUESTS", "16"))
ROUNDS = int(os.environ.get("HARNESS_BENCH_ROUNDS", "2"))


@pytest.fixture(scope="module")
def split():
    from harness.data.embedded_dataset import MovieLensOptions, load_ml_100k

    return build_split(load_ml_100k(MovieLensOptions()), SplitConfig(seed=0, users=N_REQUESTS))


def fastest(recommender, split, context) -> tuple[float, float]:
    """(best seconds over ROUNDS, mean prompt tokens per request) scoring the test requests."""
    recommender.fit(split.train_data(), context)
    requests = [r.unlabeled() for r in split.test]
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        recommender.score(requests, context)
        times.append(time.perf_counter() - start)
    return min(times), context.costs["prompt_tokens_per_request"]


def test_listwise_against_pointwise_requests_per_second(lm, split, report):
    listwise = ListwiseLLM(ListwiseOptions(zero_shot=True, recent_items=10, max_prompt_tokens=4096))
    pointwise = TruncatedLLM(
        TruncatedOptions(zero_shot=True, recent_items=10, max_prompt_tokens=4096)
    )
    list_s, list_tokens = fastest(listwise, split, RunContext(progress=False))
    point_s, point_tokens = fastest(pointwise, split, RunContext(progress=False))
    n = len(split.test)
    # pointwise's cost counts each of the 21 (history, candidate) prompts in full
    point_sent = point_tokens * len(split.test[0].candidates)
    report(
        [
            f"{n} requests, best of {ROUNDS} rounds each, zero-shot, newest 10 history items",
            f"listwise : {n / list_s:.2f} requests/s ({list_s / n:.2f} s/request), "
            f"{list_tokens:.0f} prompt tokens per request",
            f"pointwise: {n / point_s:.2f} requests/s ({point_s / n:.2f} s/request), "
            f"21 prompts of {point_tokens:.0f} tokens sharing a prefix ({point_sent:.0f} in full)",
            f"ratio listwise/pointwise: {point_s / list_s:.2f}x",
        ]
    )
    assert list_s > 0 and point_s > 0
