"""Candidate scoring, the hot path: the logits of N answer labels for every prompt.

:func:`score_choices` is the one primitive: a request is a prompt prefix with
one or more continuations, and each full prompt gets the logits of the same N
single-token labels at its last position. A pointwise recommender sends 21
continuations (one per candidate) and two labels; :func:`score_yes_no` is
that case, P(yes) = softmax over the "yes"/"no" logits. A listwise
recommender sends one continuation holding the candidate list and one label
per candidate.

A user's 21 prompts share a long prefix (instruction, preference summary,
recent items) and differ only in a short candidate tail. We run the shared
prefix once per user, keep its KV cache, and feed all of that user's candidate
tails in one packed row after it: each tail attends to the prefix cache and to
its own earlier tokens only (a block mask), and its positions continue from
the end of the prefix. So the prefix cache is reused by all candidates without
being copied 21 times, and nothing is padded beyond the longest row of a
batch. Several users are batched together (rows sorted by prefix length to
keep that padding small). Only the hidden states at the answer positions go
through the output head, and only its "yes"/"no" rows, so no vocabulary-wide
logits are materialized.

The split between shared prefix and tails is taken from the tokens, not the
text: each full prompt ``prefix + continuation`` is tokenized as a whole and
the longest common token prefix of a user's prompts is shared. Scores are
therefore those of a plain forward pass over each full prompt, whatever the
tokenizer does at the text boundary.

Answer strings: SmolLM2's tokenizer (GPT-2 style BPE) has " yes" and " no" as
single tokens, and a prompt ending in ``"Answer:"`` is naturally continued by
``" yes"``/``" no"``; hence the defaults. Do not end prompts with whitespace:
the tokenizer would emit the space as its own token and the model would be
asked for a word after a lone space. After a chat template's
``"<|im_start|>assistant\\n"`` use ``yes="yes", no="no"``. An answer that is
not one token raises :class:`~harness.llm.tokens.AnswerTokenError`.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from harness.faults import kill_point
from harness.llm.loading import LoadedModel
from harness.llm.resume import ScoredBatches
from harness.llm.tokens import encode, label_token_ids, pad_token_id

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScoringRequest:
    """One user's prompts: a shared ``prefix`` and one continuation per candidate.

    Each full prompt is ``prefix + continuation`` and should end right where
    the answer token comes (e.g. with ``"Answer:"``).
    """

    prefix: str
    continuations: tuple[str, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.continuations, tuple):
            object.__setattr__(self, "continuations", tuple(self.continuations))


@dataclass
class ScoringStats:
    """What scoring passes measured: each full prompt's token count, request by request
    and continuation by continuation, and seconds spent tokenizing and in forward passes
    (accumulated over the passes it is handed to)."""

    prompt_tokens: list[int] = field(default_factory=list)
    tokenize_s: float = 0.0
    forward_s: float = 0.0

    def record_phases(self, context) -> None:
        """Hand the seconds to a row's :class:`~harness.RunContext` as its ``tokenize``
        and ``forward`` phases."""
        context.add_phase("tokenize", self.tokenize_s)
        context.add_phase("forward", self.forward_s)

    @contextlib.contextmanager
    def timing(self, name: str, device: torch.device | None = None) -> Iterator[None]:
        """Add the block's wall seconds to ``name`` (CUDA work finished first)."""
        started = time.perf_counter()
        try:
            yield
        finally:
            if device is not None and device.type == "cuda":
                torch.cuda.synchronize(device)
            setattr(self, name, getattr(self, name) + time.perf_counter() - started)


@dataclass
class _Encoded:
    """A request as tokens: the shared token prefix, each candidate's tail, tails grouped in chunks."""

    index: int
    shared: list[int]
    tails: list[list[int]]
    chunks: list[list[int]]


def score_yes_no(
    lm: LoadedModel,
    requests: Sequence[ScoringRequest],
    *,
    yes: str = " yes",
    no: str = " no",
    users_per_batch: int = 8,
    progress: bool = True,
    model: torch.nn.Module | None = None,
    max_tail_tokens: int = 2048,
    resume: ScoredBatches | None = None,
    batch_tokens: int | None = None,
    stats: ScoringStats | None = None,
) -> list[np.ndarray]:
    """P(yes) = softmax over the "yes"/"no" logits at the end of every prompt, per request.

    The two-label case of :func:`score_choices` (same arguments). Returns one
    float64 array per request, aligned with its continuations.
    """
    logits = score_choices(
        lm,
        requests,
        (yes, no),
        users_per_batch=users_per_batch,
        progress=progress,
        model=model,
        max_tail_tokens=max_tail_tokens,
        resume=resume,
        batch_tokens=batch_tokens,
        stats=stats,
    )
    return [yes_probability(pair) for pair in logits]


def yes_probability(logits: np.ndarray) -> np.ndarray:
    """P(first label) from (rows, 2) label logits: the sigmoid of their difference."""
    difference = torch.from_numpy(np.ascontiguousarray(logits[:, 0] - logits[:, 1]))
    return torch.sigmoid(difference).numpy()


def score_choices(
    lm: LoadedModel,
    requests: Sequence[ScoringRequest],
    labels: Sequence[str],
    *,
    users_per_batch: int = 8,
    progress: bool = True,
    model: torch.nn.Module | None = None,
    max_tail_tokens: int = 2048,
    resume: ScoredBatches | None = None,
    batch_tokens: int | None = None,
    stats: ScoringStats | None = None,
) -> list[np.ndarray]:
    """The logits of the N single-token ``labels`` at the end of every prompt, per request.

    Returns one float64 array of shape (continuations, N) per request. A label
    that is not one token is an :class:`~harness.llm.tokens.AnswerTokenError`
    naming it. ``model`` replaces ``lm.model`` (e.g. a peft-wrapped LoRA
    model); it runs in eval mode and its training flag is restored afterwards.
    ``max_tail_tokens`` bounds the packed continuation tokens per row and
    forward pass; a request with more is scored in several passes that all
    reuse the same prefix cache. With ``resume``, every finished batch is
    stored there and a batch already stored is read back instead of scored.
    A request's logits do not depend on which other requests share its batch
    (up to float rounding), so requests may be sharded and batches resumed.

    ``batch_tokens`` sizes each forward pass by tokens instead of users: as
    many users as fit that many prefix-plus-tail tokens (padding counted, at
    least one user), so short prompts batch widely and long ones do not run
    out of memory; None batches ``users_per_batch`` users. ``stats`` (a
    :class:`ScoringStats`) receives every full prompt's token count from the one
    tokenization scoring does (for the cost metric, without tokenizing again)
    and the seconds spent tokenizing and in forward passes.
    """
    model = lm.model if model is None else model
    answer_ids = label_token_ids(lm.tokenizer, labels)
    _warn_on_trailing_whitespace(requests, labels[0])
    stats = ScoringStats() if stats is None else stats
    with stats.timing("tokenize_s"):
        encoded = _encode_requests(lm.tokenizer, requests, max_tail_tokens)
    stats.prompt_tokens.extend(len(e.shared) + len(tail) for e in encoded for tail in e.tails)
    results = [np.empty((0, len(labels)), dtype=np.float64) for _ in requests]
    todo = sorted((e for e in encoded if e.tails), key=lambda e: len(e.shared), reverse=True)
    pad_id = pad_token_id(lm.tokenizer)
    backbone = Backbone(model)
    number = -1
    bar = tqdm(total=len(todo), desc="scoring", unit="user", disable=None if progress else True)
    with bar, _eval_mode(model), torch.inference_mode():
        for number, batch in enumerate(_batches(todo, users_per_batch, batch_tokens)):
            indices = [e.index for e in batch]
            stored = resume.get(indices) if resume is not None else None
            if stored is None:
                # _score_batch may reorder the batch: key every score by its request
                with stats.timing("forward_s", backbone.device):
                    by_index = {
                        e.index: s for e, s in _score_batch(backbone, batch, answer_ids, pad_id)
                    }
                stored = [by_index[i] for i in indices]
                if resume is not None:
                    resume.put(indices, stored)
                    kill_point(f"score-batch:{number}")
            for index, scores in zip(indices, stored):
                results[index] = scores
            bar.update(len(batch))
    if resume is not None and resume.reused:
        log.info("resumed scoring: %d of %d batches read back", resume.reused, number + 1)
    return results


def _batches(todo: list[_Encoded], users: int, tokens: int | None) -> Iterator[list[_Encoded]]:
    """Consecutive runs of ``todo`` (longest prefix first): ``users`` at a time, or as many
    as keep (users x (widest prefix + longest first-round row)) within ``tokens``."""
    if tokens is None:
        step = max(1, users)
        for start in range(0, len(todo), step):
            yield todo[start : start + step]
        return
    batch: list[_Encoded] = []
    width = row = 0
    for e in todo:
        e_row = max(sum(len(e.tails[c]) for c in chunk) for chunk in e.chunks)
        wider, longer = max(width, len(e.shared)), max(row, e_row)
        if batch and (len(batch) + 1) * (wider + longer) > tokens:
            yield batch
            batch, wider, longer = [], len(e.shared), e_row
        batch.append(e)
        width, row = wider, longer
    if batch:
        yield batch


def _encode_requests(
    tokenizer, requests: Sequence[ScoringRequest], max_tail_tokens: int
) -> list[_Encoded]:
    texts = [r.prefix + c for r in requests for c in r.continuations]
    ids = encode(tokenizer, texts)
    encoded, start = [], 0
    for index, request in enumerate(requests):
        rows = ids[start : start + len(request.continuations)]
        start += len(rows)
        if not rows:
            encoded.append(_Encoded(index, [], [], []))
            continue
        if min(map(len, rows)) == 0:
            raise ValueError(f"request {index} has an empty prompt: nothing to score")
        shared = shared_prefix_length(rows)
        tails = [row[shared:] for row in rows]
        encoded.append(_Encoded(index, rows[0][:shared], tails, _chunk(tails, max_tail_tokens)))
    return encoded


def shared_prefix_length(rows: Sequence[Sequence[int]]) -> int:
    """How many leading tokens a request's full prompts share and run once.

    The longest common token prefix, less whatever would leave a row without its
    last token: that is where the answer logit is read. Training packs rows
    (:mod:`harness.llm.packing`) with this same split, so it sees the tokens the
    scorer sees. ``rows`` must be non-empty token lists.
    """
    return min(len(os.path.commonprefix(rows)), min(map(len, rows)) - 1)


def _chunk(tails: list[list[int]], budget: int) -> list[list[int]]:
    """Group candidate indices so each group's tails fit ``budget`` tokens (at least one each)."""
    chunks: list[list[int]] = [[]]
    used = 0
    for i, tail in enumerate(tails):
        if chunks[-1] and used + len(tail) > budget:
            chunks.append([])
            used = 0
        chunks[-1].append(i)
        used += len(tail)
    return chunks


class Backbone:
    """The decoder stack and output head of a causal LM (peft-wrapped or not)."""

    def __init__(self, model: torch.nn.Module):
        base = model.get_base_model() if hasattr(model, "get_base_model") else model
        self.decoder = base.get_decoder()
        self.head = base.get_output_embeddings()
        self.softcap = getattr(base.config, "final_logit_softcapping", None)
        # transformers 5 renamed past_key_values to cache on the decoder.
        parameters = inspect.signature(self.decoder.forward).parameters
        self.cache_arg = "cache" if "cache" in parameters else "past_key_values"
        embeddings = self.decoder.get_input_embeddings().weight
        self.device, self.dtype = embeddings.device, embeddings.dtype

    def prefill(self, input_ids: torch.Tensor):
        """Run right-padded prefixes causally and return their KV cache."""
        out = self.decoder(input_ids=input_ids, use_cache=True)
        cache = getattr(out, "cache", None)
        return cache if cache is not None else out.past_key_values

    def hidden(self, input_ids, attention_mask, position_ids, cache) -> torch.Tensor:
        out = self.decoder(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            use_cache=cache is not None,
            **{self.cache_arg: cache},
        )
        return out.last_hidden_state

    def answer_logits(self, hidden: torch.Tensor, answer_ids: Sequence[int]) -> torch.Tensor:
        """Logits of the answer tokens only, in float32 (bf16 logits would create ties)."""
        rows = list(answer_ids)
        if type(self.head) is torch.nn.Linear:
            logits = hidden.float() @ self.head.weight[rows].float().T
            if self.head.bias is not None:
                logits = logits + self.head.bias[rows].float()
        else:
            logits = self.head(hidden).float()[:, rows]
        if self.softcap:
            logits = torch.tanh(logits / self.softcap) * self.softcap
        return logits


def _score_batch(
    backbone: Backbone, batch: list[_Encoded], answer_ids: Sequence[int], pad_id: int
) -> Iterator[tuple[_Encoded, np.ndarray]]:
    """Prefill the batch's prefixes once, then score candidate chunks against that cache."""
    # Users with the most chunks first: later rounds then keep a leading block of cache rows.
    batch = sorted(batch, key=lambda e: len(e.chunks), reverse=True)
    prefix_lengths = [len(e.shared) for e in batch]
    width = max(prefix_lengths)
    cache = None
    if width:
        cache = backbone.prefill(
            _right_padded([e.shared for e in batch], width, pad_id, backbone.device)
        )
    scores = [np.empty((len(e.tails), len(answer_ids)), dtype=np.float64) for e in batch]
    rows_in_cache, last_query_length = len(batch), 0
    for round_ in range(len(batch[0].chunks)):
        active = sum(len(e.chunks) > round_ for e in batch)
        if cache is not None and round_:
            cache.crop(-last_query_length)
            if active < rows_in_cache:
                cache.batch_select_indices(torch.arange(active, device=backbone.device))
                rows_in_cache = active
        rows = [[e.tails[c] for c in e.chunks[round_]] for e in batch[:active]]
        packed = _pack(rows, prefix_lengths[:active], width, pad_id, backbone)
        hidden = backbone.hidden(packed.input_ids, packed.mask, packed.positions, cache)
        logits = backbone.answer_logits(hidden[packed.end_rows, packed.end_cols], answer_ids)
        logits = logits.double().cpu().numpy()
        done = 0
        for row, e in enumerate(batch[:active]):
            candidates = e.chunks[round_]
            scores[row][candidates] = logits[done : done + len(candidates)]
            done += len(candidates)
        last_query_length = packed.input_ids.shape[1]
    return zip(batch, scores)


@dataclass
class _Packed:
    input_ids: torch.Tensor
    positions: torch.Tensor
    mask: torch.Tensor
    end_rows: torch.Tensor
    end_cols: torch.Tensor


def _pack(
    rows: list[list[list[int]]],
    prefix_lengths: list[int],
    width: int,
    pad_id: int,
    backbone: Backbone,
) -> _Packed:
    """Lay each user's candidate tails end to end in one row, with positions and a block mask.

    The mask has shape (rows, 1, tail tokens, prefix width + tail tokens): a
    tail token sees its user's real prefix tokens (not the prefix padding) and
    the tokens of its own tail up to itself. Padding tokens see only
    themselves, so no softmax row is empty.
    """
    device = backbone.device
    length = max(sum(map(len, row)) for row in rows)
    ids, segments, positions, end_rows, end_cols = [], [], [], [], []
    for r, (tails, start) in enumerate(zip(rows, prefix_lengths)):
        row_ids, row_segments, row_positions = [], [], []
        for s, tail in enumerate(tails):
            row_ids += tail
            row_segments += [s] * len(tail)
            row_positions += range(start, start + len(tail))
            end_rows.append(r)
            end_cols.append(len(row_ids) - 1)
        pad = length - len(row_ids)
        ids.append(row_ids + [pad_id] * pad)
        segments.append(row_segments + [-1] * pad)
        positions.append(row_positions + [0] * pad)
    segment = torch.tensor(segments, device=device)
    query = torch.arange(length, device=device)
    own_tail = (segment[:, :, None] == segment[:, None, :]) & (segment[:, :, None] >= 0)
    own_tail &= query[:, None] >= query[None, :]
    own_tail |= torch.eye(length, dtype=torch.bool, device=device)
    lengths = torch.tensor(prefix_lengths, device=device)
    real_prefix = torch.arange(width, device=device)[None, None, :] < lengths[:, None, None]
    allowed = torch.cat([real_prefix.expand(len(rows), length, width), own_tail], dim=2)
    mask = torch.zeros(allowed.shape, dtype=backbone.dtype, device=device)
    mask.masked_fill_(~allowed, torch.finfo(backbone.dtype).min)
    return _Packed(
        input_ids=torch.tensor(ids, device=device),
        positions=torch.tensor(positions, device=device),
        mask=mask[:, None],
        end_rows=torch.tensor(end_rows, device=device),
        end_cols=torch.tensor(end_cols, device=device),
    )


def _right_padded(
    rows: list[list[int]], width: int, pad_id: int, device: torch.device
) -> torch.Tensor:
    return torch.tensor([row + [pad_id] * (width - len(row)) for row in rows], device=device)


@contextlib.contextmanager
def _eval_mode(model: torch.nn.Module) -> Iterator[None]:
    """Dropout off while scoring (a LoRA model may arrive in training mode), then restore."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def _warn_on_trailing_whitespace(requests: Sequence[ScoringRequest], answer: str) -> None:
    if not answer[:1].isspace():
        return
    for request in requests:
        if any(c[-1:].isspace() for c in request.continuations):
            log.warning(
                "some prompts end with whitespace while the answer %r starts with a space; "
                "end prompts without trailing whitespace (e.g. 'Answer:')",
                answer,
            )
            return
