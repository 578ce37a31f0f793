"""The TF-IDF text baseline on the real ml-100k catalog: its scores are the recency-weighted
mean cosines the docs describe, computed independently here with scikit-learn."""

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics.pairwise import cosine_similarity

from harness import RunContext
from harness.splits import SplitConfig, build_split
from harness_baselines.text_knn import TextKNN, TextKNNOptions


@pytest.fixture(scope="module")
def split(ml100k):
    return build_split(ml100k, SplitConfig(seed=0, users=20, history=12))


def fitted(split, **options):
    rec = TextKNN(TextKNNOptions(**options))
    rec.fit(split.train_data(), RunContext(progress=False))
    return rec


def test_scores_are_recency_weighted_mean_cosines(split, ml100k):
    rec = fitted(split, recency=0.5, history_items=6)
    requests = [r.unlabeled() for r in split.test]
    scores = rec.score(requests, RunContext(progress=False))
    texts = ml100k.catalog.texts(np.arange(len(ml100k.catalog)))
    vectors = TfidfVectorizer(sublinear_tf=True).fit_transform(texts)
    for request, row in zip(requests, scores):
        history = request.history[-6:]
        weights = 0.5 ** np.arange(len(history) - 1, -1, -1)  # the newest weighs 1
        cosines = cosine_similarity(vectors[request.candidates], vectors[history])
        np.testing.assert_allclose(row, cosines @ weights / weights.sum(), atol=1e-12)


def test_the_catalog_scores_agree_with_the_candidate_scores(split):
    rec = fitted(split)
    requests = [r.unlabeled() for r in split.test]
    context = RunContext(progress=False)
    catalog = rec.score_catalog(requests, context)
    candidates = rec.score(requests, context)
    for request, full, row in zip(requests, catalog, candidates):
        np.testing.assert_allclose(full[request.candidates], row, atol=1e-12)


def test_an_item_scores_highest_against_a_history_of_itself(split):
    rec = fitted(split)
    request = split.test[0].unlabeled()
    candidates = request.candidates
    alone = type(request)(request.sequence_id, candidates[3:4], candidates, 0)
    scores = rec.score([alone], RunContext(progress=False))[0]
    assert scores.argmax() == 3 and scores[3] == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"recency": 0}, "recency must be in"),
        ({"recency": 1.5}, "recency must be in"),
        ({"history_items": 0}, "history_items must be at least 1"),
        ({"ngrams": 0}, "ngrams must be at least 1"),
    ],
)
def test_bad_options_are_one_line_errors(options, message):
    with pytest.raises(ValueError, match=message):
        TextKNNOptions(**options)
