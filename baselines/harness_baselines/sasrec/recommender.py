"""The ``sasrec`` recommender: fit on the split's training sequences, score like everyone else."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import asdict

import numpy as np
import torch

from harness import HarnessError, Recommender, Request, RunContext, TrainData
from harness.llm import resolve_device
from harness_baselines.sasrec.config import SASRecOptions
from harness_baselines.sasrec.inference import Scorer
from harness_baselines.sasrec.model import SASRec
from harness_baselines.sasrec.runtime import cpu_threads, seeded
from harness_baselines.sasrec.train import History, train

log = logging.getLogger(__name__)


class SASRecRecommender(Recommender):
    """SASRec (Kang & McAuley 2018), Pre-LN, CE or BCE loss; also scores the whole catalog.

    Items never seen in training ("cold") get :meth:`Scorer.cold_score`, a
    constant below every trained item's score, and are skipped when they occur
    in a history (see ``harness_baselines.sasrec.inference``).
    """

    # bit for bit on one kind of CPU, but float32 kernels differ between CPU kinds (AVX-512
    # on Intel Xeon, AVX2 on AMD EPYC) and training carries the rounding through every
    # epoch: the ml-100k board's NDCG@10 is .7171 on one and .7185 on the other, and its
    # full-ranking Recall@20 moves by .0064
    reproducible_within = 0.01

    def __init__(self, options: SASRecOptions | None = None):
        self.options = options or SASRecOptions()
        self.scorer: Scorer | None = None
        self.history: History | None = None

    def fit(self, data: TrainData, context: RunContext) -> None:
        opts = self.options
        if opts.max_length < data.history_length:
            raise HarnessError(
                f"sasrec: max_length={opts.max_length} is below the history length "
                f"H={data.history_length}; raise max_length"
            )
        option = "sasrec option device" if opts.device else "device"
        device = resolve_device(opts.device or context.device, option)
        known = np.zeros(data.n_items, dtype=bool)
        if data.train:
            known[np.concatenate(data.train)] = True
        text = self.text_vectors(data, context) if opts.item_text == "llm" else None
        if not opts.id_embeddings:
            known[:] = True  # every item has its text vector, trained or not
        with seeded(context.seed, device), cpu_threads(opts.threads):
            model = SASRec(
                data.n_items,
                opts.hidden,
                opts.blocks,
                opts.heads,
                opts.dropout,
                opts.max_length,
                text=text,
                id_embeddings=opts.id_embeddings,
            ).to(device)
            scorer = Scorer(model, known, device, opts.score_batch_size)
            try:
                history = train(model, data.train, data.valid, scorer, opts, context)
            except (ValueError, FloatingPointError) as exc:
                raise HarnessError(f"sasrec: {exc}") from None
        model.eval()
        self.scorer, self.history = scorer, history
        log.info(
            "sasrec: %d epochs on %s (%.1f s/epoch), best validation ndcg@10 %s at epoch %d",
            history.epochs,
            device,
            history.seconds_per_epoch,
            "n/a" if history.best_metric is None else f"{history.best_metric:.4f}",
            history.best_epoch,
        )
        context.record_cost("epochs", history.epochs)
        context.record_cost("best_epoch", history.best_epoch)
        context.record_cost("s_per_epoch", history.seconds_per_epoch)
        if context.run_dir is not None:
            torch.save(model.state_dict(), context.run_dir / "model.pt")
            summary = {"options": asdict(opts), "device": str(device), **asdict(history)}
            (context.run_dir / "training.json").write_text(json.dumps(summary, indent=2) + "\n")

    def text_vectors(self, data: TrainData, context: RunContext) -> torch.Tensor:
        """Each item's LLM text embedding (cached by content), centered and of unit length, so
        the projection starts from comparable inputs whatever the LLM's scale."""
        from harness.llm import catalog_vectors

        opts = self.options
        vectors = catalog_vectors(data.dataset.catalog, context, opts.text_model, opts.text_pooling)
        vectors = vectors.astype(np.float64) - vectors.mean(axis=0)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return torch.from_numpy(vectors / np.where(norms > 0, norms, 1.0)).float()

    def _fitted(self) -> Scorer:
        if self.scorer is None:
            raise HarnessError("sasrec: score() called before fit()")
        return self.scorer

    def score(self, requests: Sequence[Request], context: RunContext) -> np.ndarray:
        """Scores of each request's candidates from its history (cold items: the cold score)."""
        if not requests:
            return np.zeros((0, 0))
        with cpu_threads(self.options.threads):
            return self._fitted().candidates(requests)

    def score_catalog(self, requests: Sequence[Request], context: RunContext) -> np.ndarray:
        """Scores of every catalog item per request, for the full-ranking table."""
        scorer = self._fitted()
        if not requests:
            return np.zeros((0, scorer.model.n_items), dtype=np.float32)
        with cpu_threads(self.options.threads):
            return scorer.catalog(requests)
