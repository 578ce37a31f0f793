"""The training loop: full-softmax CE or sampled BCE, early stopping on validation NDCG@10.

Only the split's training sequences are learned from; validation requests
only choose when to stop and which epoch's weights to keep.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

from harness import LabeledRequest, RunContext, candidate_metrics
from harness_baselines.sasrec.batches import Batch, NegativeSampler, batches, to_tokens, windows
from harness_baselines.sasrec.config import SASRecOptions
from harness_baselines.sasrec.inference import Scorer
from harness_baselines.sasrec.model import SASRec

log = logging.getLogger(__name__)
METRIC = "ndcg@10"
LOGIT_BUDGET = 1 << 26  # CE logits held at once: 256 MiB in float32


@dataclass
class History:
    """What happened during training, for the run folder and the cost columns."""

    epochs: int = 0
    best_epoch: int = 0
    best_metric: float | None = None
    seconds_per_epoch: float = 0.0
    log: list[dict[str, float]] = field(default_factory=list)


def full_softmax_ce(
    states: torch.Tensor, weights: torch.Tensor, targets: torch.Tensor
) -> torch.Tensor:
    """Mean cross entropy over the whole catalog, in bounded memory.

    At most ``LOGIT_BUDGET`` logits exist at once: large catalogs (MIND,
    Amazon-M2) are handled in chunks of positions whose logits are recomputed
    in the backward pass (activation checkpointing) instead of being kept.
    """
    step = max(1, LOGIT_BUDGET // max(weights.shape[0], 1))
    if len(states) <= step:
        return F.cross_entropy(states @ weights.T, targets)
    total = states.new_zeros(())
    for start in range(0, len(states), step):
        part = slice(start, start + step)
        total = total + checkpoint(
            _ce_sum, states[part], weights, targets[part], use_reentrant=False
        )
    return total / len(states)


def _ce_sum(states: torch.Tensor, weights: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(states @ weights.T, targets, reduction="sum")


def loss_of(model: SASRec, batch: Batch, loss: str, device: torch.device) -> torch.Tensor:
    """Mean loss over the batch's real positions (padding never predicted or predicted from)."""
    inputs = torch.as_tensor(batch.inputs, device=device)
    targets = torch.as_tensor(batch.targets, device=device)
    real = targets != 0
    states = model(inputs)[real]
    if loss == "ce":
        return full_softmax_ce(states, model.item_weights(), targets[real] - 1)
    negatives = torch.as_tensor(batch.negatives, device=device)[real]
    pos = (states * model.embed_items(targets[real])).sum(-1)
    neg = (states * model.embed_items(negatives)).sum(-1)
    ones, zeros = torch.ones_like(pos), torch.zeros_like(neg)
    return F.binary_cross_entropy_with_logits(pos, ones) + F.binary_cross_entropy_with_logits(
        neg, zeros
    )


def train_epoch(
    model: SASRec,
    optimizer: torch.optim.Optimizer,
    epoch_batches: Iterable[Batch],
    options: SASRecOptions,
) -> float:
    """One pass over the batches; returns the mean batch loss."""
    device = next(model.parameters()).device
    model.train()
    total, count = 0.0, 0
    for batch in epoch_batches:
        loss = loss_of(model, batch, options.loss, device)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total, count = total + float(loss.detach()), count + 1
    return total / max(count, 1)


def make_optimizer(model: SASRec, options: SASRecOptions) -> torch.optim.Optimizer:
    """Adam(W) with the betas of Kang & McAuley's code (0.9, 0.98)."""
    return torch.optim.AdamW(
        model.parameters(), lr=options.lr, betas=(0.9, 0.98), weight_decay=options.weight_decay
    )


def validate(scorer: Scorer, requests: Sequence[LabeledRequest]) -> float:
    """Mean validation NDCG@10 over the candidate lists, with the harness's own metrics."""
    scores = scorer.candidates(requests)
    positives = np.array([r.positive_index for r in requests])
    return float(candidate_metrics(scores, positives)[METRIC].mean())


def train(
    model: SASRec,
    train: Sequence[np.ndarray],
    valid: Sequence[LabeledRequest],
    scorer: Scorer,
    options: SASRecOptions,
    context: RunContext,
) -> History:
    """Train ``model`` in place and leave it at its best validation epoch."""
    tokens = [to_tokens(s) for s in train]
    chunks, source = windows(tokens, options.max_length)
    if not chunks:
        raise ValueError("no training sequence has two items; nothing to learn")
    sampler = NegativeSampler(tokens, model.n_items) if options.loss == "bce" else None
    rng = np.random.default_rng([context.seed, 4])
    optimizer = make_optimizer(model, options)
    history = History()
    best_state = copy.deepcopy(model.state_dict())
    stale = 0
    bar = context.bar(range(1, options.epochs + 1), desc="sasrec", unit="epoch")
    started = time.perf_counter()
    for epoch in bar:
        epoch_batches = batches(chunks, source, options.batch_size, rng, sampler)
        record = {"epoch": epoch, "loss": train_epoch(model, optimizer, epoch_batches, options)}
        history.epochs = epoch
        if valid and (epoch % options.eval_every == 0 or epoch == options.epochs):
            metric = validate(scorer, valid)
            record[METRIC] = metric
            if history.best_metric is None or metric > history.best_metric:
                history.best_metric, history.best_epoch, stale = metric, epoch, 0
                best_state = copy.deepcopy(model.state_dict())
            else:
                stale += 1
        history.log.append(record)
        _postfix(bar, record, history)
        if not np.isfinite(record["loss"]):
            raise FloatingPointError(f"training loss became {record['loss']} at epoch {epoch}")
        if valid and stale > options.patience:
            log.info("sasrec: early stop at epoch %d (best epoch %d)", epoch, history.best_epoch)
            break
    history.seconds_per_epoch = (time.perf_counter() - started) / max(history.epochs, 1)
    if valid:
        model.load_state_dict(best_state)
    else:
        history.best_epoch = history.epochs
        log.warning("sasrec: no validation requests; keeping the last epoch's weights")
    return history


def _postfix(bar: object, record: dict[str, float], history: History) -> None:
    set_postfix = getattr(bar, "set_postfix", None)
    if set_postfix is None:
        return
    values = {"loss": f"{record['loss']:.4f}"}
    if METRIC in record:
        values[METRIC] = f"{record[METRIC]:.4f}"
        values["best"] = f"{history.best_metric:.4f}@{history.best_epoch}"
    set_postfix(values)
