"""SASRec speed and memory on ml-100k: one training epoch, scoring all test users, a full run.

Workload: the embedded ml-100k, default split (all 943 users, H=25, 20
negatives), default options (CE loss, L=50). Peak memory is the process RSS
sampled by :class:`harness.costs.PeakMemory` (psutil), so it includes torch
itself. ``test_full_run`` is the issue's target (train to early stop + score,
under 3 minutes on 2 CPU cores); set ``HARNESS_BENCH_SKIP_FULL=1`` to skip it.
Run: ``pytest benchmarks/bench_sasrec.py``; figures go to RESULTS-sasrec.md.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
import torch

from harness.boards.views import evaluate_board
from harness.costs import PeakMemory
from harness.data.embedded_dataset import MovieLensOptions, load_ml_100k
from harness.orchestration.experiment import Experiment, RunSpec
from harness.splits import SplitConfig, build_split
from harness_baselines.sasrec import SASRecOptions
from harness_baselines.sasrec.batches import NegativeSampler, batches, to_tokens, windows
from harness_baselines.sasrec.inference import Scorer
from harness_baselines.sasrec.model import SASRec
from harness_baselines.sasrec.runtime import seeded
from harness_baselines.sasrec.train import make_optimizer, train_epoch


@pytest.fixture(scope="module")
def split():
    return build_split(load_ml_100k(MovieLensOptions()), SplitConfig())


def _model(split, options: SASRecOptions) -> SASRec:
    torch.manual_seed(0)
    n_items = len(split.dataset.catalog)
    return SASRec(
        n_items, options.hidden, options.blocks, options.heads, options.dropout, options.max_length
    )


@pytest.mark.parametrize("loss", ["ce", "bce"])
def test_one_epoch(benchmark, split, loss):
    options = SASRecOptions(loss=loss)
    model = _model(split, options)
    optimizer = make_optimizer(model, options)
    tokens = [to_tokens(s) for s in split.train]
    chunks, source = windows(tokens, options.max_length)
    sampler = NegativeSampler(tokens, model.n_items) if loss == "bce" else None
    rng = np.random.default_rng(0)

    def epoch() -> float:
        return train_epoch(
            model, optimizer, batches(chunks, source, options.batch_size, rng, sampler), options
        )

    with seeded(0, torch.device("cpu")), PeakMemory() as memory:  # as fit() runs it
        benchmark.pedantic(epoch, rounds=3, iterations=1, warmup_rounds=1)
    benchmark.extra_info.update(
        positions=int(sum(len(c) - 1 for c in chunks)),
        windows=len(chunks),
        peak_rss_mb=round(memory.peak_rss_mb),
    )


@pytest.mark.parametrize("what", ["candidates", "catalog"])
def test_score_all_test_users(benchmark, split, what):
    options = SASRecOptions()
    known = np.zeros(len(split.dataset.catalog), dtype=bool)
    known[np.concatenate(split.train)] = True
    scorer = Scorer(_model(split, options).eval(), known, torch.device("cpu"))
    score = getattr(scorer, what)
    with PeakMemory() as memory:
        benchmark.pedantic(lambda: score(split.test), rounds=5, iterations=1, warmup_rounds=1)
    benchmark.extra_info.update(requests=len(split.test), peak_rss_mb=round(memory.peak_rss_mb))


@pytest.mark.skipif(os.environ.get("HARNESS_BENCH_SKIP_FULL") == "1", reason="asked to skip")
def test_full_run(benchmark, tmp_path):
    experiment = Experiment(runs=[RunSpec("sasrec")], device="cpu")
    results = {}

    def run() -> None:
        started = time.perf_counter()
        results.update(
            evaluate_board(experiment, tmp_path / "out", tmp_path / "cache", progress=False)
        )
        results["wall_s"] = time.perf_counter() - started

    benchmark.pedantic(run, rounds=1, iterations=1)
    record = results["runs"][0]
    benchmark.extra_info.update(
        wall_s=round(results["wall_s"], 1),
        ndcg10=round(record["metrics"]["ndcg@10"], 4),
        full_ndcg10=round(record["full_ranking"]["ndcg@10"], 4),
        **{k: round(v, 2) for k, v in record["costs"].items()},
    )
