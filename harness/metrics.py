"""Ranking metrics over candidate lists, with pessimistic ties, plus CIs and paired tests.

The positive's rank counts every negative scored at least as high as it, so a
constant scorer gets the floor instead of a free win.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

CUTOFFS = (3, 5, 10)
FULL_CUTOFFS = (10, 20)
# the headline: what boards sort by, pair-test, plot and chance-test first
HEADLINE = "ndcg@10"
# what an LLM row's epoch checkpoint is selected on, over validation requests
SELECTION = "recall@3"


def positive_ranks(scores: np.ndarray, positive: np.ndarray) -> np.ndarray:
    """0-based rank of each row's positive; ties rank it below the equal-scored candidates."""
    scores = np.asarray(scores, dtype=np.float64)
    rows = np.arange(len(scores))
    pos_scores = scores[rows, positive][:, None]
    at_least = (scores >= pos_scores).sum(axis=1)
    return at_least - 1  # the positive itself is always counted once


def ranking_metrics(ranks: np.ndarray, cutoffs: Sequence[int] = CUTOFFS) -> dict[str, np.ndarray]:
    """Per-request Recall@K, MRR@K and NDCG@K from 0-based ranks."""
    ranks = np.asarray(ranks)
    out: dict[str, np.ndarray] = {}
    for k in cutoffs:
        hit = ranks < k
        out[f"recall@{k}"] = hit.astype(np.float64)
        out[f"mrr@{k}"] = np.where(hit, 1.0 / (ranks + 1), 0.0)
        out[f"ndcg@{k}"] = np.where(hit, 1.0 / np.log2(ranks + 2), 0.0)
    return out


def auc(scores: np.ndarray, positive: np.ndarray) -> np.ndarray:
    """Per-request AUC: share of negatives scored strictly below the positive."""
    scores = np.asarray(scores, dtype=np.float64)
    rows = np.arange(len(scores))
    pos_scores = scores[rows, positive][:, None]
    below = (scores < pos_scores).sum(axis=1)
    return below / (scores.shape[1] - 1)


def candidate_metrics(scores: np.ndarray, positive: np.ndarray) -> dict[str, np.ndarray]:
    """All per-request metrics of the evaluation contract for one recommender."""
    ranks = positive_ranks(scores, positive)
    metrics = ranking_metrics(ranks)
    metrics["auc"] = auc(scores, positive)
    return metrics


def catalog_ranking(
    scores: np.ndarray, targets: np.ndarray, seen: Sequence[np.ndarray], top: int = 20
) -> tuple[np.ndarray, np.ndarray]:
    """Each target's 0-based rank in the whole catalog and the ``top`` items, best first.

    The items in ``seen`` (each user's whole sequence before the target, as
    for the sampled negatives) are excluded; the target itself stays rankable
    if it was seen before. Ties rank the target pessimistically.
    """
    scores = np.array(scores, dtype=np.float64, copy=True)
    targets = np.asarray(targets)
    for row, items in enumerate(seen):
        items = np.asarray(items)
        scores[row, items[items != targets[row]]] = -np.inf
    ranks = positive_ranks(scores, targets)
    top_items = np.argsort(-scores, axis=1, kind="stable")[:, :top]
    return ranks, top_items


def full_ranking_metrics(ranks: np.ndarray) -> dict[str, np.ndarray]:
    """Per-request Recall/NDCG at 10 and 20 from the targets' catalog ranks."""
    out = ranking_metrics(ranks, FULL_CUTOFFS)
    return {k: v for k, v in out.items() if not k.startswith("mrr")}


def mean_with_ci(
    values: np.ndarray, seed: int, level: float = 0.95, resamples: int = 1000
) -> tuple[float, float, float]:
    """Mean and a seeded percentile-bootstrap confidence interval."""
    from scipy import stats  # heavy import, only needed when reporting

    values = np.asarray(values, dtype=np.float64)
    mean = float(values.mean())
    if len(values) < 2 or np.ptp(values) == 0:
        return mean, mean, mean
    result = stats.bootstrap(
        (values,),
        np.mean,
        n_resamples=resamples,
        confidence_level=level,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    return mean, float(result.confidence_interval.low), float(result.confidence_interval.high)


def paired_test(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """Paired t-test and Wilcoxon signed-rank test of per-request values of two recommenders."""
    from scipy import stats

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    diff = a - b
    if len(diff) < 2 or np.all(diff == 0):
        return {
            "mean_diff": float(diff.mean()) if len(diff) else 0.0,
            "t_p": 1.0,
            "wilcoxon_p": 1.0,
        }
    # a constant non-zero difference is a certain difference; ttest_rel would return NaN
    t_p = 0.0 if np.ptp(diff) == 0 else float(stats.ttest_rel(a, b).pvalue)
    # zsplit: requests where both rows score the same count half for each side instead of
    # being dropped (scipy's default, "wilcox", drops them); documented in the README
    w_p = float(stats.wilcoxon(a, b, zero_method="zsplit").pvalue)
    return {"mean_diff": float(diff.mean()), "t_p": t_p, "wilcoxon_p": w_p}


def all_pairs(values: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    """Every pair of rows on one per-request metric, the better mean first, each with its
    paired tests and their Holm correction over all these pairs (t and Wilcoxon apart)."""
    ordered = sorted(values, key=lambda name: -float(np.mean(values[name])))
    pairs = [
        {"a": a, "b": b, **paired_test(values[a], values[b])}
        for i, a in enumerate(ordered)
        for b in ordered[i + 1 :]
    ]
    for pair, t_holm, w_holm in zip(
        pairs, holm([p["t_p"] for p in pairs]), holm([p["wilcoxon_p"] for p in pairs])
    ):
        pair["holm_p"], pair["wilcoxon_holm_p"] = t_holm, w_holm
    return pairs


CHANCE_METRICS = (HEADLINE, "auc")


def chance_level(metric: str, n_candidates: int) -> float:
    """The expected value of a per-request metric when the positive's rank is uniform over
    ``n_candidates`` (a scorer that knows nothing, without ties): AUC .5, NDCG@10 .2164 at 21.
    """
    if metric == "auc":
        return 0.5
    name, _, k = metric.partition("@")
    ranks = np.arange(min(int(k), n_candidates))
    gains = {"recall": np.ones(len(ranks)), "mrr": 1.0 / (ranks + 1)}
    gains["ndcg"] = 1.0 / np.log2(ranks + 2)
    return float(gains[name].sum() / n_candidates)


def chance_test(values: np.ndarray, level: float) -> dict[str, float]:
    """One-sample t-test of per-request values against a chance level: is a row's mean
    distinguishable from knowing nothing?

    Not the Wilcoxon signed-rank test: it tests a median, and per-request NDCG at
    chance is skewed (its median is 0, below its mean .2164 at 21 candidates), so
    it would call a random scorer worse than chance.
    """
    from scipy import stats

    values = np.asarray(values, dtype=np.float64)
    diff = values - level
    if len(diff) < 2 or np.ptp(diff) == 0:  # a constant: certain unless it is the level
        return {"mean_diff": float(diff.mean()) if len(diff) else 0.0, "t_p": float(not diff.any())}
    return {"mean_diff": float(diff.mean()), "t_p": float(stats.ttest_1samp(values, level).pvalue)}


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (step-down, monotone, capped at 1), in input order."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted = [1.0] * len(p_values)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def position_diagnostics(scores: np.ndarray, positive: np.ndarray) -> dict[str, object]:
    """Does a row favour candidate slots? The split shuffles candidate order, so the
    target's slot is uniform and an order-free scorer's top-1 slot is uniform too.

    Returns, per slot, the number of requests whose target sits there and the
    share of those ranked first (``hit@1_by_target_slot``), the count of
    requests whose top-scored candidate sits in each slot (ties share a
    request equally), and a chi-square test of that count against uniform.
    """
    from scipy import stats

    scores = np.asarray(scores, dtype=np.float64)
    n, slots = scores.shape
    top = scores == scores.max(axis=1, keepdims=True)
    top_counts = (top / top.sum(axis=1, keepdims=True)).sum(axis=0)
    first = positive_ranks(scores, positive) == 0
    targets = np.bincount(positive, minlength=slots)
    hits = np.bincount(positive, weights=first.astype(np.float64), minlength=slots)
    hit_rate = np.divide(hits, targets, out=np.zeros(slots), where=targets > 0)
    chi2, p = stats.chisquare(top_counts, np.full(slots, n / slots))
    return {
        "targets_by_slot": targets.tolist(),
        "hit@1_by_target_slot": hit_rate.tolist(),
        "top1_by_slot": top_counts.tolist(),
        "top1_chi2": float(chi2),
        "top1_p": float(p),
    }


def sampled_runs(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows of the sampled-candidate tables, tests and plots: all but reranked rows,
    whose sampled-candidate numbers are those of the same row without ``rerank`` (they
    are read in the full-catalog table)."""
    return [r for r in results["runs"] if not r.get("rerank")]
