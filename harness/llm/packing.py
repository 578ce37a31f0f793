"""Shared-prefix packed training rows: the training twin of shared-prefix scoring.

A training example is (prompt prefix, candidate tail, yes/no). The examples of
one request share their prefix (instruction, summary or history) and differ
only in the candidate's short tail. A packed row holds the prefix once,
followed by every tail of the group; a block attention mask lets each tail see
the prefix and its own earlier tokens only, and each tail's position ids
restart right after the prefix. So every tail's answer logit is exactly the
one its own separate prompt would give, at a fraction of the tokens.

Unpacked rows (``packed=False``) are the same structure with one tail per row,
so the packed and the one-prompt-per-example paths share every line of the
model call and the loss.

An N-way choice example (:class:`ChoiceExample`, a listwise prompt whose
answer is one of N label tokens) is a row with one one-token tail: the
prompt's last token, where the scorer reads the label logits.

The split between prefix and tails is taken from the tokens of each full
prompt, as in :mod:`harness.llm.scoring`, so training sees the very tokens
the scorer sees.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch

from harness.llm.scoring import Backbone, shared_prefix_length
from harness.llm.tokens import encode

IGNORE = -100
Loss = Literal["pointwise", "listwise", "choice"]


@dataclass(frozen=True)
class PromptGroup:
    """One prompt prefix, its candidate continuations and whether each is a "yes"."""

    prefix: str
    continuations: tuple[str, ...]
    labels: tuple[bool, ...]

    def __post_init__(self) -> None:
        if len(self.continuations) != len(self.labels):
            raise ValueError("a prompt group needs one label per continuation")
        if not self.continuations:
            raise ValueError("a prompt group needs at least one continuation")


@dataclass(frozen=True)
class ChoiceExample:
    """One prompt ending where a label is answered, and the index of the right label."""

    prompt: str
    answer: int


def tokenize_choices(
    tokenizer, examples: Sequence[ChoiceExample], label_ids: Sequence[int]
) -> list[dict]:
    """Token rows for N-way choice: the whole prompt, its last token as the one tail.

    The prompt is tokenized whole, as :func:`harness.llm.score_choices`
    tokenizes a request with one empty continuation, so the answer position
    and every token before it are the scorer's.
    """
    rows = []
    for example, ids in zip(examples, encode(tokenizer, [e.prompt for e in examples])):
        if not 0 <= example.answer < len(label_ids):
            raise ValueError(f"answer {example.answer} is not one of {len(label_ids)} labels")
        if not ids:
            raise ValueError("a training prompt is empty")
        rows.append(
            {
                "prefix": ids[:-1],
                "tails": [ids[-1:]],
                "answers": [label_ids[example.answer]],
                "labels": [True],
            }
        )
    return rows


def tokenize_groups(
    tokenizer,
    groups: Sequence[PromptGroup],
    answer_ids: tuple[int, int],
    packed: bool = True,
) -> list[dict]:
    """Token rows for the collator: ``{"prefix", "tails", "answers", "labels"}`` each.

    Packed: one row per group, the group's longest common token prefix shared.
    Unpacked: one row per example (its whole prompt, the last token as the tail).
    """
    texts = [g.prefix + c for g in groups for c in g.continuations]
    ids = encode(tokenizer, texts)
    rows, start = [], 0
    yes_id, no_id = answer_ids
    for group in groups:
        prompts = ids[start : start + len(group.continuations)]
        start += len(prompts)
        answers = [yes_id if label else no_id for label in group.labels]
        if min(map(len, prompts)) == 0:
            raise ValueError("a training prompt is empty")
        if packed:
            shared = shared_prefix_length(prompts)
            rows.append(
                {
                    "prefix": prompts[0][:shared],
                    "tails": [p[shared:] for p in prompts],
                    "answers": answers,
                    "labels": list(group.labels),
                }
            )
        else:
            rows += [
                {"prefix": p[:-1], "tails": [p[-1:]], "answers": [a], "labels": [label]}
                for p, a, label in zip(prompts, answers, group.labels)
            ]
    return rows


def row_tokens(row: dict) -> int:
    """Tokens the model processes for one collated row (its prefix once, every tail)."""
    return len(row["prefix"]) + sum(map(len, row["tails"]))


class PackedCollator:
    """Left-pad rows to the batch's longest (never a fixed length), with a block mask.

    The mask is 4D and additive: a prefix token sees earlier prefix tokens, a
    tail token sees the prefix and its own tail up to itself, and each padding
    token sees only itself, so no softmax row is empty (on CUDA, empty rows
    in fused attention kernels can give NaN gradients).
    ``full_text`` adds next-token labels over the whole row (one tail per row
    only): the full-text loss ablation.
    """

    def __init__(
        self,
        pad_id: int,
        dtype: torch.dtype = torch.float32,
        full_text: bool = False,
        build_mask: bool = True,
    ):
        self.pad_id = pad_id
        self.dtype = dtype
        self.full_text = full_text
        # False: hand over the (rows, width) segment ids and let packed_loss build the
        # (rows, 1, width, width) mask on the device: width x fewer bytes to copy, no CPU work
        self.build_mask = build_mask

    def __call__(self, batch: list[dict]) -> dict[str, torch.Tensor]:
        width = max(map(row_tokens, batch))
        ids, segments, positions = [], [], []
        ends, answers, groups, labels = [], [], [], []
        for r, row in enumerate(batch):
            prefix, pad = row["prefix"], width - row_tokens(row)
            row_ids, row_segments = list(prefix), [0] * len(prefix)
            row_positions = list(range(len(prefix)))
            for s, tail in enumerate(row["tails"], start=1):
                row_ids += tail
                row_segments += [s] * len(tail)
                row_positions += range(len(prefix), len(prefix) + len(tail))
                ends.append((r, pad + len(row_ids) - 1))
            ids.append([self.pad_id] * pad + row_ids)
            segments.append([-1] * pad + row_segments)
            positions.append([0] * pad + row_positions)
            answers += row["answers"]
            labels += row["labels"]
            groups += [r] * len(row["tails"])
        input_ids = torch.tensor(ids)
        segment = torch.tensor(segments)
        mask = {"attention_mask": block_mask(segment, self.dtype)} if self.build_mask else {}
        out = {
            "input_ids": input_ids,
            **mask,
            "segments": segment,
            "position_ids": torch.tensor(positions),
            "answer_rows": torch.tensor([r for r, _ in ends]),
            "answer_cols": torch.tensor([c for _, c in ends]),
            "answer_ids": torch.tensor(answers),
            "answer_groups": torch.tensor(groups),
            "answer_labels": torch.tensor(labels, dtype=torch.bool),
        }
        if self.full_text:
            if any(len(row["tails"]) != 1 for row in batch):
                raise ValueError("the full-text loss needs one example per row (packing=false)")
            targets = torch.full_like(input_ids, IGNORE)
            real = segment >= 0
            targets[:, :-1] = torch.where(real[:, 1:] & real[:, :-1], input_ids[:, 1:], IGNORE)
            targets[:, -1] = out["answer_ids"]
            out["labels"] = targets
        return out


def block_mask(segment: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """(rows, 1, width, width) on ``segment``'s device from (rows, width) segment ids (0:
    prefix, 1..: tails, -1: padding): 0 where a query may attend to a key, dtype-min
    elsewhere."""
    width, device = segment.shape[1], segment.device
    causal = torch.ones(width, width, dtype=torch.bool, device=device).tril()[None]
    query, key = segment[:, :, None], segment[:, None, :]
    allowed = causal & (query >= 0) & ((key == 0) | (key == query))
    allowed |= torch.eye(width, dtype=torch.bool, device=device)[None]
    mask = torch.zeros(allowed.shape, dtype=dtype, device=device)
    mask.masked_fill_(~allowed, torch.finfo(dtype).min)
    return mask[:, None]


def _mask(inputs: dict[str, torch.Tensor], dtype: torch.dtype) -> torch.Tensor:
    """The collated mask, or the one built here from the segment ids."""
    if "attention_mask" in inputs:
        return inputs["attention_mask"]
    return block_mask(inputs["segments"], dtype)


def packed_loss(
    model: torch.nn.Module,
    inputs: dict[str, torch.Tensor],
    loss: Loss = "pointwise",
    answer_ids: Sequence[int] | None = None,
) -> torch.Tensor:
    """The training loss of a collated batch.

    ``pointwise`` (the paper's): cross entropy of each tail's answer token over
    the vocabulary, averaged over tails. ``listwise``: per group, a softmax
    over the tails' yes-vs-no log-odds (the quantity P(yes) ranks by), and the
    negative log-probability of the positive tails, averaged over groups
    (``answer_ids``: the yes and no token ids). ``choice``: cross entropy over
    the logits of the N label tokens ``answer_ids`` at each tail's answer
    position (the quantity a listwise row ranks by), the right label's token
    being the tail's answer.
    With ``labels`` in ``inputs`` (full-text ablation), the causal LM loss
    over every real token. Only the answer positions go through the output
    head, so no vocabulary-wide logits are kept for the whole row.
    """
    if isinstance(model, torch.nn.parallel.DistributedDataParallel):
        return _ddp_packed_loss(model, inputs, loss, answer_ids)
    backbone = Backbone(model)
    hidden = backbone.decoder(
        input_ids=inputs["input_ids"],
        attention_mask=_mask(inputs, backbone.dtype),
        position_ids=inputs["position_ids"],
        use_cache=False,
    ).last_hidden_state
    if "labels" in inputs:
        return _full_text_loss(backbone.head(hidden), inputs)
    at_answers = hidden[inputs["answer_rows"], inputs["answer_cols"]]
    if loss == "pointwise":
        return _pointwise(backbone.head(at_answers), inputs)
    ids = _needed(answer_ids, loss)
    if loss == "choice":
        return _choice(backbone.answer_logits(at_answers, ids), inputs, ids)
    pair = backbone.answer_logits(at_answers, ids)
    return _listwise(pair[:, 0] - pair[:, 1], inputs)


def _full_text_loss(logits: torch.Tensor, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    """The causal LM loss over every labelled token (the full-text ablation)."""
    return torch.nn.functional.cross_entropy(
        logits.float().flatten(0, 1), inputs["labels"].flatten(), ignore_index=IGNORE
    )


def _pointwise(answer_logits: torch.Tensor, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    """Cross entropy of each tail's answer token over the vocabulary, averaged over tails."""
    return torch.nn.functional.cross_entropy(answer_logits.float(), inputs["answer_ids"])


def _needed(answer_ids: Sequence[int] | None, loss: Loss) -> tuple[int, ...]:
    if answer_ids is None:
        raise ValueError(f"the {loss} loss needs its answer token ids")
    if loss == "listwise" and len(answer_ids) != 2:
        raise ValueError("the listwise loss needs two answer token ids: yes and no")
    return tuple(answer_ids)


def _choice(
    label_logits: torch.Tensor, inputs: dict[str, torch.Tensor], label_ids: Sequence[int]
) -> torch.Tensor:
    """Cross entropy over the N label logits; the target is the answer token's label index."""
    ids = torch.tensor(label_ids, device=label_logits.device)
    targets = (inputs["answer_ids"].to(ids.device)[:, None] == ids[None, :]).int().argmax(dim=1)
    return torch.nn.functional.cross_entropy(label_logits.float(), targets)


def _listwise(log_odds: torch.Tensor, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    """Per group, the softmax over its tails' yes-vs-no log-odds; mean NLL of the positives."""
    groups, labels = inputs["answer_groups"], inputs["answer_labels"]
    terms = []
    for group in torch.unique(groups):
        members = groups == group
        if not labels[members].any():
            continue  # a group without a positive has nothing to rank first
        log_p = torch.log_softmax(log_odds[members], dim=0)
        terms.append(-log_p[labels[members]].mean())
    if not terms:
        raise ValueError("the listwise loss needs at least one positive per batch")
    return torch.stack(terms).mean()


def _ddp_packed_loss(
    model: torch.nn.Module,
    inputs: dict[str, torch.Tensor],
    loss: Loss,
    answer_ids: Sequence[int] | None,
) -> torch.Tensor:
    """:func:`packed_loss` through the DDP wrapper's own forward, which DDP needs to
    synchronise gradients: the model's ``logits_to_keep`` keeps the answer positions only."""
    common = {
        "input_ids": inputs["input_ids"],
        "attention_mask": _mask(inputs, Backbone(model.module).dtype),
        "position_ids": inputs["position_ids"],
        "use_cache": False,
    }
    if "labels" in inputs:
        return _full_text_loss(model(**common).logits, inputs)
    columns, where = torch.unique(inputs["answer_cols"], return_inverse=True)
    logits = model(**common, logits_to_keep=columns).logits  # (rows, len(columns), vocab)
    at_answers = logits[inputs["answer_rows"], where].float()
    if loss == "pointwise":
        return _pointwise(at_answers, inputs)
    ids = _needed(answer_ids, loss)
    if loss == "choice":
        return _choice(at_answers[:, list(ids)], inputs, ids)
    yes, no = ids
    return _listwise(at_answers[:, yes] - at_answers[:, no], inputs)
