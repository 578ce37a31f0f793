"""SASRec on the embedded ml-100k: it learns, both losses train, same seed gives same result."""

from __future__ import annotations

import json

import numpy as np
import pytest

from harness.boards.views import evaluate_board
from harness.orchestration.experiment import Experiment, RunSpec
from harness.recommender import RunContext, TrainData
from harness.splits import SplitConfig, build_split
from harness_baselines.sasrec import SASRecOptions
from harness_baselines.sasrec.recommender import SASRecRecommender

pytestmark = pytest.mark.slow
# one thread: OpenMP on all cores collapses when other processes share them
FAST = {"epochs": 6, "patience": 2, "max_length": 25, "threads": 1}


def test_sasrec_beats_popularity_with_both_tables(tmp_path):
    experiment = Experiment(
        dataset="ml-100k",
        split=SplitConfig(users=200),
        runs=[RunSpec("popularity"), RunSpec("sasrec", FAST, name="sasrec")],
        device="cpu",
    )
    results = evaluate_board(
        experiment, tmp_path / "out", cache_dir=tmp_path / "cache", progress=False
    )
    runs = {r["name"]: r for r in results["runs"]}
    sasrec, popularity = runs["sasrec"], runs["popularity"]
    assert sasrec["metrics"]["ndcg@10"] > popularity["metrics"]["ndcg@10"] + 0.05
    assert sasrec["full_ranking"]["ndcg@10"] > popularity["full_ranking"]["ndcg@10"]
    board = (tmp_path / "out" / "leaderboard.md").read_text()
    assert "Full-catalog ranking" in board
    training = json.loads((tmp_path / "out" / "runs" / "sasrec" / "training.json").read_text())
    assert all(np.isfinite(e["loss"]) for e in training["log"])
    assert training["best_metric"] == max(e["ndcg@10"] for e in training["log"])


@pytest.fixture(scope="module")
def small_data(ml100k) -> TrainData:
    """A third of ml-100k's users, for the quick fits below."""
    data = build_split(ml100k, SplitConfig(users=100)).train_data()
    data.train_ids, data.train = data.train_ids[:300], data.train[:300]
    return data


def _fit(data: TrainData, seed: int, **options) -> SASRecRecommender:
    opts = SASRecOptions(hidden=32, epochs=2, max_length=25, threads=1, **options)
    recommender = SASRecRecommender(opts)
    recommender.fit(data, RunContext(seed=seed, device="cpu", progress=False))
    return recommender


def test_same_seed_same_scores_on_cpu(small_data):
    first = _fit(small_data, seed=3)
    second = _fit(small_data, seed=3)
    other = _fit(small_data, seed=4)
    requests = small_data.valid
    context = RunContext(progress=False)
    a, b = first.score(requests, context), second.score(requests, context)
    np.testing.assert_array_equal(a, b)
    assert first.history.log == second.history.log
    assert not np.array_equal(a, other.score(requests, context))


@pytest.mark.parametrize("loss", ["ce", "bce"])
def test_both_losses_train_without_nan(small_data, loss):
    recommender = _fit(small_data, seed=0, loss=loss)
    losses = [e["loss"] for e in recommender.history.log]
    assert all(np.isfinite(losses)) and losses[-1] < losses[0]
    assert np.isfinite(recommender.score(small_data.valid, RunContext(progress=False))).all()
