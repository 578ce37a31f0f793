"""The truncated-prompt LLM baseline: raw history texts instead of a summary.

Same LLM, LoRA SFT, training pairs and yes/no scoring as ``llm-trsr`` (both
are :class:`~harness.PromptedYesNoRecommender`); the prompt
holds the history's item lines, newest kept, oldest dropped until the whole
prompt (with the request's longest candidate) fits ``max_prompt_tokens``.
Items are dropped whole, never cut in half. With ``recent_items=R`` the
prompt is exactly LLM-TRSR's ``summarizer=none`` ablation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from harness import (
    PROMPT_BUDGET_TOKENS,
    HarnessError,
    LLMOptions,
    PromptedYesNoRecommender,
    hookimpl,
    numbered,
)

SUMMARY_PLACEHOLDER = " summary"  # one token per repetition for BPE tokenizers


@dataclass(frozen=True)
class TruncatedOptions(LLMOptions):
    recent_items: int | None = field(
        default=None, metadata={"help": "keep at most R newest items (None: the whole history)"}
    )
    max_prompt_tokens: int | None = field(
        default=None,
        metadata={
            "help": "prompt budget in tokens; None matches LLM-TRSR's prompt on the same "
            "request (a summary of summary_tokens tokens + recent 5 items)"
        },
    )
    summary_tokens: int = field(
        default=64, metadata={"help": "summary length assumed when matching LLM-TRSR's budget"}
    )
    full_context: bool = field(
        default=False,
        metadata={"help": "budget = the model's whole context window (max_position_embeddings)"},
    )

    def __post_init__(self):
        super().__post_init__()
        if self.full_context and self.max_prompt_tokens is not None:
            raise ValueError("set either full_context or max_prompt_tokens, not both")
        if self.recent_items is not None and self.recent_items < 0:
            raise ValueError("recent_items must be at least 0")
        if self.max_prompt_tokens is not None and self.max_prompt_tokens < 1:
            raise ValueError("max_prompt_tokens must be at least 1")


class TruncatedLLM(PromptedYesNoRecommender):
    """Raw history lines, newest kept, within a token budget."""

    options: TruncatedOptions

    def __init__(self, options: TruncatedOptions):
        super().__init__(options)
        self.kept_items: list[int] = []
        parts = []
        if options.max_prompt_tokens:
            parts.append(f"{options.max_prompt_tokens} tok")
        if options.full_context:
            parts.append("full context")
        if options.recent_items is not None:
            parts.append(f"R={options.recent_items}")
        if options.zero_shot:
            parts.append("zero-shot")
        self.row_name = "truncated-llm" + (f" ({', '.join(parts)})" if parts else "")

    def _tokens(self, sections, domain, candidate_texts: list[str]) -> int:
        """Tokens of the longest of the request's full prompts (one per candidate)."""
        from harness.llm import count_tokens

        prefix, suffix = self.prefix_and_suffix(sections, domain)
        return max(count_tokens(self.lm, [prefix + text + suffix for text in candidate_texts]))

    def budget(self, history, candidate_texts: list[str], dataset) -> int:
        """The request's token budget: the option, or what LLM-TRSR's prompt would use."""
        if self.options.max_prompt_tokens is not None:
            return self.options.max_prompt_tokens
        if self.options.full_context:
            return self.context_window()
        placeholder = SUMMARY_PLACEHOLDER * self.options.summary_tokens
        recent = numbered(dataset.catalog.texts(history[-5:])) if len(history) else "(none)"
        sections = [("Preference Summary", placeholder.strip()), ("Recent Items", recent)]
        return self._tokens(sections, dataset.domain, candidate_texts)

    def context_window(self) -> int:
        """The model's longest input in tokens, from its config (else the tokenizer's limit)."""
        window = getattr(self.lm.model.config, "max_position_embeddings", None)
        return int(window or self.lm.tokenizer.model_max_length)

    def sections(self, windows, dataset, context):
        out, kept_counts, budgets = [], [], []
        recent = self.options.recent_items
        for window in windows:
            history, cands = window.history, window.candidates
            if recent is not None:
                history = history[max(0, len(history) - recent) :] if recent else history[:0]
            texts = dataset.catalog.texts(cands)
            budget = self.budget(history, texts, dataset)
            budgets.append(budget)
            lines = self.newest_lines_within(
                dataset.catalog.texts(history), texts, budget, dataset.domain
            )
            kept_counts.append(len(lines))
            out.append([("Recent Items", numbered(lines) or "(none)")])
        self.kept_items = kept_counts
        if kept_counts:
            context.record_cost("history_items_kept", float(np.mean(kept_counts)))
            context.record_cost(PROMPT_BUDGET_TOKENS, float(np.mean(budgets)))
        return out

    def newest_lines_within(
        self, lines: list[str], candidates: list[str], budget: int, domain: str
    ) -> list[str]:
        """The newest whole item lines whose prompt fits ``budget`` with every candidate."""

        def tokens_with(k: int) -> int:
            kept = numbered(lines[len(lines) - k :]) if k else "(none)"
            return self._tokens([("Recent Items", kept)], domain, candidates)

        kept = keep_newest_within(len(lines), tokens_with, budget)
        if kept == 0 and tokens_with(0) > budget:
            raise HarnessError(
                f"a prompt budget of {budget} tokens cannot hold even the instruction "
                "and the candidate; raise max_prompt_tokens"
            )
        return lines[len(lines) - kept :] if kept else []


def keep_newest_within(n_items: int, tokens_for, budget: int) -> int:
    """Largest k ≤ n_items whose prompt (newest k items) fits ``budget``; binary search,
    since a prompt with more whole items is never shorter."""
    low, high = 0, n_items
    while low < high:
        mid = (low + high + 1) // 2
        if tokens_for(mid) <= budget:
            low = mid
        else:
            high = mid - 1
    return low


def _factory(options):
    return TruncatedLLM(options)


@hookimpl
def register_recommenders(register):
    register(
        "truncated-llm",
        _factory,
        options=TruncatedOptions,
        description="same LLM and SFT as llm-trsr, raw history truncated to a token budget",
    )
