"""The listwise LLM baseline (LlamaRec's scoring head): one prompt per request.

The prompt holds what the yes/no rows hold about the user (the same user
sections: raw history lines, newest kept within the prompt budget, or any
registered summarizer's preference summary with the recent items, as
LLM-TRSR's prompt), then every candidate under a single-token index label
("A", "B", ...); a candidate's score is its label's log-probability among the
labels at the answer position, read in one forward pass by
:func:`harness.llm.score_choices`. Where pointwise rows send 21 prompts per
request, this sends one.

Fine-tuning (the default; ``zero_shot=true`` scores the model as is) is LoRA
SFT with the N-way choice loss: cross entropy over the label logits, each
training target listed at a uniformly random slot among as many negatives as
the split's requests have, drawn by the rule of the other LLM rows; the same
training users, targets per user and schedule options as they take.

The order of the list matters to an LLM (position bias), so
``permutations=P`` scores P seeded shuffles of the candidate order (the
first is the split's own order) and averages each candidate's
log-probability. Shuffles are seeded per request, so a request's scores do
not depend on which other requests share its batch.
"""

from __future__ import annotations

import dataclasses
import string
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from harness import (
    PROMPT_BUDGET_TOKENS,
    PROMPT_TOKENS_PER_REQUEST,
    Dataset,
    HarnessError,
    LLMRecommender,
    Request,
    RunContext,
    SummaryOptions,
    TrainData,
    Window,
    domain_words,
    hookimpl,
    numbered,
    selection_metrics,
    summary_sections,
)
from harness_baselines.truncated_llm import SUMMARY_PLACEHOLDER, keep_newest_within

# single-token labels in the order they are given to candidates
LABELS = tuple(string.ascii_uppercase + string.ascii_lowercase)
RECENT_UNDER_SUMMARY = 5  # LLM-TRSR's recent items, and the budget rule's


@dataclass(frozen=True)
class ListwiseOptions(SummaryOptions):
    recent_items: int | None = field(
        default=None,
        metadata={
            "help": "newest history items shown (None: 5 under a summary, as LLM-TRSR; "
            "without one, the whole window cut to the prompt budget)"
        },
    )
    negatives: int | None = field(
        default=None,
        metadata={
            "help": "negatives listed per training target (None: as many as the split's "
            "requests have, so training lists look like test lists)"
        },
    )
    max_prompt_tokens: int | None = field(
        default=None,
        metadata={
            "help": "prompt budget for the raw history; None matches LLM-TRSR's user section "
            "on the same request (a summary of summary_tokens tokens + 5 recent items)"
        },
    )
    permutations: int = field(
        default=1,
        metadata={"help": "seeded candidate orders averaged per request (1: the split's order)"},
    )

    def __post_init__(self):
        super().__post_init__()
        if self.permutations < 1:
            raise ValueError("permutations must be at least 1")
        if self.recent_items is not None and self.recent_items < 0:
            raise ValueError("recent_items must be at least 0")
        if self.max_prompt_tokens is not None and self.max_prompt_tokens < 1:
            raise ValueError("max_prompt_tokens must be at least 1")
        if self.max_prompt_tokens is not None and self.summarizer != "none":
            raise ValueError("max_prompt_tokens cuts raw history lines: it needs summarizer=none")
        if self.loss != "pointwise" or self.loss_on != "answer" or not self.packing:
            raise ValueError(
                "listwise-llm trains on its label choice: loss, loss_on and packing do not apply"
            )


def candidate_orders(request: Request, seed: int, permutations: int) -> list[np.ndarray]:
    """The slot order of each pass: the split's order first, then seeded shuffles."""
    key = zlib.crc32(request.sequence_id.encode())
    rng = np.random.default_rng([seed, key, 5])
    n = len(request.candidates)
    return [np.arange(n)] + [rng.permutation(n) for _ in range(permutations - 1)]


def training_order(example: Window, seed: int) -> np.ndarray:
    """A training list's slot order: the target (candidate 0) at a uniformly random slot,
    seeded by the example itself, so an example's list does not depend on the sample."""
    key = zlib.crc32(np.asarray(example.candidates, dtype=np.int64).tobytes())
    return np.random.default_rng([seed, 6, key, example.offset]).permutation(
        len(example.candidates)
    )


def labels_for(n_candidates: int) -> tuple[str, ...]:
    if n_candidates > len(LABELS):
        raise HarnessError(
            f"listwise-llm labels at most {len(LABELS)} candidates with single letters; "
            f"the split has {n_candidates} (lower negatives)"
        )
    return LABELS[:n_candidates]


class ListwiseLLM(LLMRecommender):
    """One listwise prompt per request; scores are the candidates' label log-probabilities."""

    options: ListwiseOptions

    def __init__(self, options: ListwiseOptions, registry=None):
        super().__init__(options)
        self.chosen = options.chosen_summarizer(registry)
        parts = [options.summarizer if self.chosen else "history"]
        if options.zero_shot:
            parts.append("zero-shot")
        if options.permutations > 1:
            parts.append(f"P={options.permutations}")
        self.row_name = "listwise-llm (" + ", ".join(parts) + ")"

    def capabilities(self):
        """Families by user section (a summarizer or the raw history); summaries precompute."""
        return dataclasses.replace(
            super().capabilities(),
            variant=self.options.summarizer,
            precompute=self.chosen is not None,
        )

    # --- prompts --------------------------------------------------------------------------

    def render(
        self, sections: list[tuple[str, str]], candidates: Sequence[int], order: np.ndarray
    ) -> str:
        """The chat prompt for one slot order, ending where the label is answered."""
        from harness.llm import chat_prompt

        catalog, labels = self.dataset.catalog, labels_for(len(candidates))
        listed = "\n".join(
            f"{labels[slot]}. {catalog.text(candidates[i])}" for slot, i in enumerate(order)
        )
        body = [domain_words(self.dataset.domain).pick_one]
        body += [f"[{title}]\n{text}" for title, text in sections]
        body.append(f"[Candidates]\n{listed}")
        return chat_prompt(self.lm.tokenizer, "\n".join(body))

    def _tokens(self, sections, candidates) -> int:
        from harness.llm import count_tokens

        return count_tokens(
            self.lm, [self.render(sections, candidates, np.arange(len(candidates)))]
        )[0]

    def budget(self, history: np.ndarray, candidates: Sequence[int], dataset: Dataset) -> int:
        """The raw history's budget: the option, or the tokens of this prompt with LLM-TRSR's
        user section (a ``summary_tokens`` summary and 5 recent items) in place of it."""
        if self.options.max_prompt_tokens is not None:
            return self.options.max_prompt_tokens
        placeholder = (SUMMARY_PLACEHOLDER * self.options.summary_tokens).strip()
        recent = history[-RECENT_UNDER_SUMMARY:]
        lines = numbered(dataset.catalog.texts(recent)) if len(recent) else "(none)"
        sections = [("Preference Summary", placeholder), ("Recent Items", lines)]
        return self._tokens(sections, candidates)

    def sections(self, windows, dataset, context):
        self.dataset = dataset
        recent = self.options.recent_items
        if self.chosen is not None:
            shown = RECENT_UNDER_SUMMARY if recent is None else recent
            return summary_sections(windows, dataset, context, self.chosen, shown)
        out, budgets, kept_counts = [], [], []
        for window in windows:
            history = window.history
            if recent is not None:
                history = history[max(0, len(history) - recent) :] if recent else history[:0]
            lines = dataset.catalog.texts(history)
            budget = self.budget(window.history, window.candidates, dataset)

            def tokens_with(k: int, lines=lines, window=window) -> int:
                kept = numbered(lines[len(lines) - k :]) if k else "(none)"
                return self._tokens([("Recent Items", kept)], window.candidates)

            kept = keep_newest_within(len(lines), tokens_with, budget)
            if kept == 0 and tokens_with(0) > budget:
                raise HarnessError(
                    f"a prompt budget of {budget} tokens cannot hold the instruction and the "
                    "candidate list; raise max_prompt_tokens"
                )
            shown = numbered(lines[len(lines) - kept :]) if kept else "(none)"
            out.append([("Recent Items", shown)])
            budgets.append(budget)
            kept_counts.append(kept)
        if budgets:
            context.record_cost(PROMPT_BUDGET_TOKENS, float(np.mean(budgets)))
            context.record_cost("history_items_kept", float(np.mean(kept_counts)))
        return out

    def prompts(
        self, windows: Sequence[Window], orders: Sequence[list[np.ndarray]], context: RunContext
    ) -> list[str]:
        """Every window's prompt in each of its slot orders, window by window."""
        sections = self.sections(windows, self.dataset, context)
        return [
            self.render(parts, window.candidates, order)
            for parts, window, window_orders in zip(sections, windows, orders)
            for order in window_orders
        ]

    # --- training and scoring -------------------------------------------------------------

    def fit(self, data: TrainData, context: RunContext) -> None:
        from harness.llm import ChoiceExample

        windows = self.training_windows(data, context)
        if windows is None:
            return
        examples, valid = windows
        orders = [[training_order(e, context.seed)] for e in examples]
        prompts = self.prompts(examples, orders, context)
        choices = [
            ChoiceExample(prompt, int(np.flatnonzero(order[0] == 0)[0]))
            for prompt, order in zip(prompts, orders)
        ]
        positives = np.array([r.positive_index for r in valid])

        def validate(model) -> dict[str, float]:
            return selection_metrics(self._score(valid, context, model, False), positives)

        labels = labels_for(len(examples[0].candidates))
        self.train(choices, labels, validate if valid else None, context, loss="choice")

    def training_examples(self, data: TrainData, seed: int, negatives: int | None = None):
        """The other LLM rows' targets, each listed with as many negatives as the split's
        requests have (unless the option says otherwise)."""
        if negatives is None and self.options.negatives is None:
            if not data.valid:
                raise HarnessError("listwise-llm: no validation request gives the list length")
            negatives = len(data.valid[0].candidates) - 1
        return super().training_examples(data, seed, negatives)

    def _score(
        self,
        requests: Sequence[Request],
        context: RunContext,
        model=None,
        progress: bool = True,
        resume=None,
        record: bool = False,
    ) -> np.ndarray:
        from harness.llm import ScoringRequest, ScoringStats, score_choices

        permutations = self.options.permutations
        orders = [candidate_orders(r, context.seed, permutations) for r in requests]
        prompts = self.prompts(requests, orders, context)
        n = len(requests[0].candidates) if requests else 0
        stats = ScoringStats()
        logits = score_choices(
            self.lm,
            [ScoringRequest(p, ("",)) for p in prompts],
            labels_for(n),
            users_per_batch=self.options.users_per_batch,
            batch_tokens=self.options.batch_tokens,
            progress=progress,
            model=model,
            resume=resume,
            stats=stats,
        )
        if record:
            context.record_cost(PROMPT_TOKENS_PER_REQUEST, float(np.mean(stats.prompt_tokens)))
            stats.record_phases(context)
        passes = [order for request_orders in orders for order in request_orders]
        scores = np.zeros((len(requests), n))
        for index, (order, row) in enumerate(zip(passes, logits)):
            log_probs = row[0] - np.logaddexp.reduce(row[0])  # log-softmax over the labels
            scores[index // permutations, order] += log_probs
        return scores / permutations

    def score(self, requests: Sequence[Request], context: RunContext) -> np.ndarray:
        resume = self.scoring_resume(context)
        return self._score(requests, context, self.model, context.progress, resume, record=True)

    def prompt_records(
        self, requests: Sequence[Request], dataset: Dataset, context: RunContext
    ) -> list[dict]:
        """Each request's listwise prompt in the split's slot order (the first of its
        permutations), with the summary it holds: one prompt, no per-candidate tails."""
        self.load(context)
        self.dataset = dataset
        sections = self.sections(requests, dataset, context)
        orders = [[np.arange(len(r.candidates))] for r in requests]
        prompts = self.prompts(requests, orders, context)
        return [
            {"summary": dict(parts).get("Preference Summary"), "prompt": prompt}
            for parts, prompt in zip(sections, prompts)
        ]


@hookimpl
def register_recommenders(register):
    register(
        "listwise-llm",
        ListwiseLLM,
        options=ListwiseOptions,
        description="LlamaRec-style listwise LLM: one prompt, candidates under letter labels, "
        "LoRA SFT on the label choice",
    )
