"""The LLM as an item encoder, zero-shot: a candidate's score is the cosine between its text
embedding and the recency-weighted mean of the history items' embeddings.

The embeddings are the LLM's pooled last hidden layer over each item's text
line (:func:`harness.llm.embed_texts`), computed once per catalog and cached
by content, so a second row or run on the same model embeds nothing. Mean
pooled states of a causal LM share a large common direction (every cosine
is near 1), so by default the catalog's mean vector is subtracted before
normalizing (``center=false`` keeps the raw vectors). The recency weighting
is ``text-knn``'s, so the two rows differ in the item vectors alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from harness import (
    Capabilities,
    Recommender,
    Request,
    RunContext,
    TrainData,
    check_model_name,
    hookimpl,
)
from harness_baselines.text_knn import recency_weights


@dataclass(frozen=True)
class LLMEmbOptions:
    model: str | None = field(
        default=None, metadata={"help": "HF model id or folder (default: the embedded SmolLM2)"}
    )
    pooling: Literal["mean", "last"] = field(
        default="mean", metadata={"help": "mean over the text's tokens, or the last token's state"}
    )
    center: bool = field(
        default=True, metadata={"help": "subtract the catalog's mean vector before the cosine"}
    )
    recency: float = field(
        default=0.8,
        metadata={"help": "weight of the k-th newest history item: recency**k (1: plain mean)"},
    )
    history_items: int | None = field(
        default=None, metadata={"help": "newest history items used (None: the whole window)"}
    )
    batch_size: int = field(default=32, metadata={"help": "texts per forward pass"})

    def __post_init__(self):
        check_model_name(self.model)
        if not 0 < self.recency <= 1:
            raise ValueError("recency must be in (0, 1]")
        if self.history_items is not None and self.history_items < 1:
            raise ValueError("history_items must be at least 1 (or none for the whole window)")
        if self.batch_size < 1:
            raise ValueError("batch_size must be at least 1")


class LLMEmb(Recommender):
    """Cosine of LLM text embeddings: candidate against the weighted history."""

    reproducible_within = 0.01  # float32 sums round differently on another CPU kind

    def __init__(self, options: LLMEmbOptions):
        self.options = options
        self.vectors: np.ndarray | None = None  # (items, hidden), unit rows

    def capabilities(self) -> Capabilities:
        return Capabilities(trained=False)

    def fit(self, data: TrainData, context: RunContext) -> None:
        from harness.llm import catalog_vectors

        opts = self.options
        vectors = catalog_vectors(
            data.dataset.catalog, context, opts.model, opts.pooling, opts.batch_size
        ).astype(np.float64)
        if opts.center:
            vectors -= vectors.mean(axis=0)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        self.vectors = vectors / np.where(norms > 0, norms, 1.0)

    def profiles(self, requests: Sequence[Request]) -> np.ndarray:
        """Each request's weighted mean history vector, of unit length (zero if no history)."""
        out = np.zeros((len(requests), self.vectors.shape[1]))
        for row, request in enumerate(requests):
            w = recency_weights(
                len(request.history), self.options.recency, self.options.history_items
            )
            if len(w):
                out[row] = w @ self.vectors[request.history[len(request.history) - len(w) :]]
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms > 0, norms, 1.0)

    def score(self, requests: Sequence[Request], context: RunContext) -> np.ndarray:
        profiles = self.profiles(requests)
        return np.stack([self.vectors[r.candidates] @ p for r, p in zip(requests, profiles)])

    def score_catalog(self, requests: Sequence[Request], context: RunContext) -> np.ndarray:
        return self.profiles(requests) @ self.vectors.T


@hookimpl
def register_recommenders(register):
    register(
        "llm-emb",
        LLMEmb,
        options=LLMEmbOptions,
        description="zero-shot LLM encoder: cosine of item-text embeddings to the weighted history",
    )
