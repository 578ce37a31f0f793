import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from harness.metrics import (
    auc,
    candidate_metrics,
    catalog_ranking,
    chance_level,
    chance_test,
    full_ranking_metrics,
    mean_with_ci,
    paired_test,
    position_diagnostics,
    positive_ranks,
)


def test_hand_computed_case():
    # positive (index 1) has score 0.7; two negatives above it, one equal, one below
    scores = np.array([[0.9, 0.7, 0.8, 0.7, 0.1]])
    m = candidate_metrics(scores, np.array([1]))
    # pessimistic: the equal-scored negative ranks above, so rank = 3 (0-based)
    assert positive_ranks(scores, np.array([1]))[0] == 3
    assert m["recall@3"][0] == 0.0
    assert m["recall@5"][0] == 1.0
    assert m["mrr@5"][0] == pytest.approx(1 / 4)
    assert m["ndcg@5"][0] == pytest.approx(1 / np.log2(5))
    assert m["auc"][0] == pytest.approx(1 / 4)


def test_constant_scorer_gets_the_floor():
    scores = np.zeros((50, 21))
    m = candidate_metrics(scores, np.arange(50) % 21)
    for key in ("recall@3", "recall@5", "recall@10", "mrr@10", "ndcg@10", "auc"):
        assert m[key].max() == 0.0


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 30), st.data())
def test_perfect_scorer_gets_one(n_candidates, data):
    positives = data.draw(arrays(np.int64, 8, elements=st.integers(0, n_candidates - 1)))
    scores = data.draw(arrays(np.float64, (8, n_candidates), elements=st.floats(-5, 5)))
    scores[np.arange(8), positives] = 10.0
    m = candidate_metrics(scores, positives)
    for key, values in m.items():
        assert np.all(values == 1.0), key


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_metrics_invariant_to_candidate_order(data):
    scores = data.draw(
        arrays(np.float64, (6, 21), elements=st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0]))
    )
    positives = data.draw(arrays(np.int64, 6, elements=st.integers(0, 20)))
    perm = np.array(data.draw(st.permutations(range(21))))
    before = candidate_metrics(scores, positives)
    inverse = np.argsort(perm)
    after = candidate_metrics(scores[:, perm], inverse[positives])
    for key in before:
        np.testing.assert_allclose(before[key], after[key])


def test_random_scorer_expected_recall():
    rng = np.random.default_rng(0)
    m = candidate_metrics(rng.random((20000, 21)), rng.integers(0, 21, 20000))
    assert m["recall@10"].mean() == pytest.approx(10 / 21, abs=0.01)
    assert m["auc"].mean() == pytest.approx(0.5, abs=0.01)


def test_auc_counts_strictly_lower_negatives():
    assert auc(np.array([[0.5, 0.2, 0.5, 0.9]]), np.array([0]))[0] == pytest.approx(1 / 3)


def test_full_ranking_excludes_earlier_items_but_not_the_target():
    scores = np.array([[5.0, 4.0, 3.0, 2.0, 1.0]])
    # earlier items 0 and 1 would outrank the target 2; excluded, the target is first
    ranks, top = catalog_ranking(scores, np.array([2]), [np.array([0, 1])])
    m = full_ranking_metrics(ranks)
    assert m["recall@10"][0] == 1.0 and m["ndcg@10"][0] == 1.0
    assert top[0].tolist() == [2, 3, 4, 0, 1]  # the excluded items sink to the bottom
    ranks, _ = catalog_ranking(scores, np.array([2]), [np.array([], dtype=int)])
    assert full_ranking_metrics(ranks)["ndcg@10"][0] == pytest.approx(1 / np.log2(4))
    # a target seen before stays rankable
    ranks, _ = catalog_ranking(scores, np.array([0]), [np.array([0, 1])])
    assert ranks.tolist() == [0]


def test_bootstrap_ci_is_seeded_and_brackets_the_mean():
    values = np.random.default_rng(1).random(300)
    a, b = mean_with_ci(values, seed=3), mean_with_ci(values, seed=3)
    assert a == b
    assert a[1] < a[0] < a[2]


def test_paired_test_detects_a_real_difference():
    rng = np.random.default_rng(0)
    a = rng.random(200)
    result = paired_test(a + 0.1, a + rng.normal(0, 0.01, 200))
    assert result["t_p"] < 1e-6 and result["mean_diff"] > 0
    assert paired_test(a, a)["t_p"] == 1.0


def test_holm_adjustment_by_hand():
    from harness.metrics import holm

    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert holm([]) == []


@pytest.mark.parametrize("metric", ["ndcg@10", "recall@3", "mrr@5", "auc"])
def test_chance_level_is_the_mean_over_uniform_ranks(metric):
    """The analytic level equals the exact mean over every rank of the positive."""
    n = 21
    scores = np.tile(np.arange(n, 0, -1, dtype=np.float64), (n, 1))  # row r: positive at rank r
    exact = candidate_metrics(scores, np.arange(n))[metric].mean()
    assert chance_level(metric, n) == pytest.approx(exact, abs=1e-12)
    assert chance_level("ndcg@10", 21) == pytest.approx(0.2164, abs=1e-4)


def test_chance_test_tells_a_random_scorer_from_one_that_knows():
    rng = np.random.default_rng(0)
    positive = np.zeros(400, dtype=int)
    random = candidate_metrics(rng.random((400, 21)), positive)["ndcg@10"]
    knowing = rng.random((400, 21))
    knowing[:, 0] += 0.3
    informed = candidate_metrics(knowing, positive)["ndcg@10"]
    level = chance_level("ndcg@10", 21)
    assert chance_test(random, level)["t_p"] > 0.05
    result = chance_test(informed, level)
    assert result["mean_diff"] > 0 and result["t_p"] < 1e-6


def test_position_diagnostics_flag_a_scorer_that_favours_the_first_slot():
    rng = np.random.default_rng(1)
    positive = rng.integers(0, 21, size=630)
    first_slot = np.tile(-np.arange(21, dtype=np.float64), (630, 1))  # always ranks slot 1 top
    biased = position_diagnostics(first_slot, positive)
    assert biased["top1_by_slot"][0] == 630 and biased["top1_p"] < 1e-100
    assert biased["hit@1_by_target_slot"][0] == 1.0 and biased["hit@1_by_target_slot"][5] == 0.0
    fair = position_diagnostics(rng.random((630, 21)), positive)
    assert fair["top1_p"] > 0.001
    assert sum(fair["targets_by_slot"]) == 630
    constant = position_diagnostics(np.zeros((630, 21)), positive)  # ties share a request
    assert constant["top1_chi2"] == pytest.approx(0.0) and constant["top1_p"] == pytest.approx(1.0)
