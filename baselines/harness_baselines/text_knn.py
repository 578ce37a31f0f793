"""The bag-of-words text baseline: TF-IDF item vectors, candidates scored by their cosine to
the user's history, recency-weighted. No LLM.

The item texts are the lines the LLM prompts show (``catalog.text``), so an
LLM row that reads those texts is read against this: whatever it beats here,
it did not get from word overlap alone. The vectorizer is scikit-learn's
``TfidfVectorizer`` fitted on the catalog's texts (item metadata, no
interaction), rows L2-normalized. A candidate's score is the weighted mean of
its cosines to the history items, the newest weighing 1 and the k-th newest
``recency**k``; since cosines of unit vectors are dot products, that is the
candidate's dot product with the weighted mean of the history vectors, which
also scores the whole catalog at once (full-ranking metrics).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from harness import Recommender, Request, RunContext, TrainData, hookimpl


@dataclass(frozen=True)
class TextKNNOptions:
    recency: float = field(
        default=0.8,
        metadata={"help": "weight of the k-th newest history item: recency**k (1: plain mean)"},
    )
    history_items: int | None = field(
        default=None, metadata={"help": "newest history items used (None: the whole window)"}
    )
    ngrams: int = field(default=1, metadata={"help": "longest word n-gram (1: words only)"})
    sublinear_tf: bool = field(default=True, metadata={"help": "1 + log(tf) instead of tf"})

    def __post_init__(self):
        if not 0 < self.recency <= 1:
            raise ValueError("recency must be in (0, 1]")
        if self.history_items is not None and self.history_items < 1:
            raise ValueError("history_items must be at least 1 (or none for the whole window)")
        if self.ngrams < 1:
            raise ValueError("ngrams must be at least 1")


def recency_weights(length: int, recency: float, limit: int | None = None) -> np.ndarray:
    """Weights of the newest ``min(length, limit)`` history items, oldest first, summing to
    1: the newest weighs ``1``, the k-th newest ``recency**k`` before normalizing."""
    if limit is not None:
        length = min(length, limit)
    raw = recency ** np.arange(length - 1, -1, -1, dtype=np.float64)
    return raw / raw.sum() if length else raw


class TextKNN(Recommender):
    """TF-IDF cosine between a candidate and the user's recency-weighted history."""

    def __init__(self, options: TextKNNOptions):
        self.options = options
        self.vectors = None  # (items, vocabulary) sparse, rows of unit length

    def fit(self, data: TrainData, context: RunContext) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        catalog = data.dataset.catalog
        texts = catalog.texts(np.arange(len(catalog)))
        vectorizer = TfidfVectorizer(
            ngram_range=(1, self.options.ngrams), sublinear_tf=self.options.sublinear_tf
        )
        self.vectors = vectorizer.fit_transform(texts).tocsr()
        context.record_cost("vocabulary", float(len(vectorizer.vocabulary_)))

    def weights(self, length: int) -> np.ndarray:
        return recency_weights(length, self.options.recency, self.options.history_items)

    def profiles(self, requests: Sequence[Request]):
        """Each request's weighted mean history vector, as rows of one sparse matrix."""
        from scipy import sparse

        rows = []
        for request in requests:
            w = self.weights(len(request.history))
            used = request.history[len(request.history) - len(w) :]
            if len(w):
                rows.append(sparse.csr_matrix(w) @ self.vectors[used])
            else:  # an empty history: no text to compare with, every candidate scores 0
                rows.append(sparse.csr_matrix((1, self.vectors.shape[1])))
        return sparse.vstack(rows).tocsr()

    def score(self, requests: Sequence[Request], context: RunContext) -> np.ndarray:
        profiles = self.profiles(requests)
        out = np.empty((len(requests), len(requests[0].candidates) if requests else 0))
        for row, request in enumerate(requests):
            out[row] = (self.vectors[request.candidates] @ profiles[row].T).toarray().ravel()
        return out

    def score_catalog(self, requests: Sequence[Request], context: RunContext) -> np.ndarray:
        return (self.profiles(requests) @ self.vectors.T).toarray()


@hookimpl
def register_recommenders(register):
    register(
        "text-knn",
        TextKNN,
        options=TextKNNOptions,
        description="TF-IDF cosine of a candidate's text to the recency-weighted history (no LLM)",
    )
