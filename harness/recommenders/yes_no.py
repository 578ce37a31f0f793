"""The pointwise yes/no head: a prompt per (history, candidate), LoRA SFT on yes/no
answers, P(yes) from the shared-prefix scorer.

LLM-TRSR and the truncated-prompt baseline differ only in the sections of the
prompt before the candidate (:meth:`PromptedYesNoRecommender.sections`); the
training examples, fine-tuning, checkpoint selection and scoring are shared,
so the comparison between them is about the prompt and nothing else.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from harness.costs import PROMPT_TOKENS_PER_REQUEST
from harness.dataset import Dataset
from harness.domains import domain_words
from harness.recommender import Capabilities, Request, RunContext, TrainData
from harness.recommenders.llm import LLMRecommender, Window, selection_metrics

_CANDIDATE = "\x00CANDIDATE\x00"


class PromptedYesNoRecommender(LLMRecommender):
    """The pointwise yes/no head: subclasses say what goes before ``[Candidate Item]``."""

    yes, no = "yes", "no"  # the answers after the chat template's assistant header

    def capabilities(self) -> Capabilities:
        return dataclasses.replace(super().capabilities(), prompts=True)

    # --- prompts --------------------------------------------------------------------------

    def prefix_and_suffix(self, sections: list[tuple[str, str]], domain: str) -> tuple[str, str]:
        """Render the chat prompt once, split where the candidate's text goes."""
        from harness.llm import chat_prompt

        body = [domain_words(domain).yes_no]
        body += [f"[{title}]\n{text}" for title, text in sections]
        body.append(f"[Candidate Item]\n{_CANDIDATE}")
        rendered = chat_prompt(self.lm.tokenizer, "\n".join(body))
        prefix, suffix = rendered.split(_CANDIDATE)
        return prefix, suffix

    def scoring_requests(self, windows: Sequence[Window], dataset: Dataset, context: RunContext):
        """One shared-prefix scoring request per window: its prompt up to the candidate, and
        per candidate the candidate's text and the rest of the prompt."""
        from harness.llm import ScoringRequest

        catalog = dataset.catalog
        out = []
        for parts, window in zip(self.sections(windows, dataset, context), windows):
            prefix, suffix = self.prefix_and_suffix(parts, dataset.domain)
            texts = tuple(catalog.text(c) + suffix for c in window.candidates)
            out.append(ScoringRequest(prefix, texts))
        return out

    def requests_for(self, requests: Sequence[Request], dataset: Dataset, context: RunContext):
        return self.scoring_requests(requests, dataset, context)

    def prompt_records(
        self, requests: Sequence[Request], dataset: Dataset, context: RunContext
    ) -> list[dict[str, Any]]:
        """What this row sends the LLM for each request, for the board's ``records/``: the
        user's preference summary (None without one), the prompt up to the candidates and
        one continuation per candidate. Prompts are rebuilt, not scored (summaries come
        from the generation cache), so a row read back from its checkpoint has them too."""
        self.load(context)
        self.dataset = dataset
        sections = self.sections(requests, dataset, context)
        scoring = self.requests_for(requests, dataset, context)
        return [
            {
                "summary": dict(parts).get("Preference Summary"),
                "prompt": request.prefix,
                "continuations": list(request.continuations),
            }
            for parts, request in zip(sections, scoring)
        ]

    # --- training and scoring -------------------------------------------------------------

    def fit(self, data: TrainData, context: RunContext) -> None:
        windows = self.training_windows(data, context)
        if windows is None:
            return
        from harness.llm import PromptGroup

        examples, valid = windows
        requests = self.scoring_requests(examples, data.dataset, context)
        groups = [
            PromptGroup(r.prefix, r.continuations, e.labels) for r, e in zip(requests, examples)
        ]
        valid_requests = self.requests_for(valid, data.dataset, context)
        positives = np.array([r.positive_index for r in valid])

        def validate(model) -> dict[str, float]:
            scores = np.stack(self._score(valid_requests, model, progress=False))
            return selection_metrics(scores, positives)

        self.train(groups, (self.yes, self.no), validate if valid_requests else None, context)

    def _score(self, requests, model, progress: bool, resume=None, stats=None) -> list[np.ndarray]:
        from harness.llm import score_yes_no

        return score_yes_no(
            self.lm,
            requests,
            yes=self.yes,
            no=self.no,
            model=model,
            users_per_batch=self.options.users_per_batch,
            batch_tokens=self.options.batch_tokens,
            progress=progress,
            resume=resume,
            stats=stats,
        )

    def score(self, requests: Sequence[Request], context: RunContext) -> np.ndarray:
        from harness.llm import ScoringStats

        scoring = self.requests_for(requests, self.dataset, context)
        resume = self.scoring_resume(context)
        stats = ScoringStats()
        scores = np.stack(self._score(scoring, self.model, context.progress, resume, stats))
        # one "request" to the LLM is one (history, candidate) prompt
        context.record_cost(PROMPT_TOKENS_PER_REQUEST, float(np.mean(stats.prompt_tokens)))
        stats.record_phases(context)
        return scores
