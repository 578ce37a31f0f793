"""The listwise LLM baseline (LlamaRec's scoring head): one prompt per request.

The prompt lists the user's history (raw item lines, newest kept within the
prompt budget) and then every candidate under a single-token index label
("A", "B", ...); a candidate's score is its label's log-probability among the
labels at the answer position, read in one forward pass by
:func:`harness.llm.score_choices`. Where pointwise rows send 21 prompts per
request, this sends one.

The order of the list matters to an LLM (position bias), so
``permutations=P`` scores P seeded shuffles of the candidate order (the
first is the split's own order) and averages each candidate's
log-probability. Shuffles are seeded per request, so a request's scores do
not depend on which other requests share its batch.

Zero-shot only for now: LoRA training of the listwise head is not
implemented, and ``zero_shot=false`` is an error that says so.
"""

from __future__ import annotations

import string
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from harness import (
    PROMPT_TOKENS_PER_REQUEST,
    Capabilities,
    HarnessError,
    Recommender,
    Request,
    RunContext,
    TrainData,
    check_model_name,
    hookimpl,
)

# single-token labels in the order they are given to candidates
LABELS = tuple(string.ascii_uppercase + string.ascii_lowercase)
INSTRUCTIONS = {
    "movies": "Which candidate movie will the user watch next, given the movies the user "
    "watched? Answer with the candidate's letter only.",
    "news": "Which candidate news article will the user click next, given the news the user "
    "clicked? Answer with the candidate's letter only.",
    "products": "Which candidate product will the user view next, given the products the user "
    "viewed in this session? Answer with the candidate's letter only.",
}
GENERIC_INSTRUCTION = (
    "Which candidate item will the user interact with next, given the items the user "
    "interacted with? Answer with the candidate's letter only."
)


@dataclass(frozen=True)
class ListwiseOptions:
    model: str | None = field(
        default=None, metadata={"help": "HF model id or folder (default: the embedded SmolLM2)"}
    )
    zero_shot: bool = field(
        default=True,
        metadata={"help": "score the model as is (training the listwise head: not yet)"},
    )
    history_items: int = field(
        default=10, metadata={"help": "newest history items listed, before the budget cuts"}
    )
    max_prompt_tokens: int | None = field(
        default=None,
        metadata={"help": "prompt budget; oldest history lines dropped to fit (None: no cut)"},
    )
    permutations: int = field(
        default=1,
        metadata={"help": "seeded candidate orders averaged per request (1: the split's order)"},
    )
    users_per_batch: int = field(default=8, metadata={"help": "requests per forward pass"})

    def __post_init__(self):
        check_model_name(self.model)
        if not self.zero_shot:
            raise ValueError(
                "zero_shot=false: LoRA training of the listwise head is not implemented yet"
            )
        for name in ("permutations", "users_per_batch"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.history_items < 0:
            raise ValueError("history_items must be at least 0")
        if self.max_prompt_tokens is not None and self.max_prompt_tokens < 1:
            raise ValueError("max_prompt_tokens must be at least 1")


def candidate_orders(request: Request, seed: int, permutations: int) -> list[np.ndarray]:
    """The slot order of each pass: the split's order first, then seeded shuffles."""
    key = zlib.crc32(request.sequence_id.encode())
    rng = np.random.default_rng([seed, key, 5])
    n = len(request.candidates)
    return [np.arange(n)] + [rng.permutation(n) for _ in range(permutations - 1)]


class ListwiseLLM(Recommender):
    """One listwise prompt per request; scores are the candidates' label log-probabilities."""

    reproducible_within = 0.01  # float32 sums round differently on another CPU kind

    def __init__(self, options: ListwiseOptions):
        self.options = options
        self.lm = None
        self.dataset = None
        parts = [f"P={options.permutations}"] if options.permutations > 1 else []
        self.row_name = "listwise-llm (" + ", ".join(["zero-shot", *parts]) + ")"

    def capabilities(self) -> Capabilities:
        return Capabilities(trained=False)

    def fit(self, data: TrainData, context: RunContext) -> None:
        from harness.llm import load_model

        self.dataset = data.dataset
        if self.lm is None:
            self.lm = load_model(
                self.options.model, device=context.device, cache_dir=context.cache_dir
            )

    def labels(self, n_candidates: int) -> tuple[str, ...]:
        if n_candidates > len(LABELS):
            raise HarnessError(
                f"listwise-llm labels at most {len(LABELS)} candidates with single letters; "
                f"the split has {n_candidates} (lower negatives)"
            )
        return LABELS[:n_candidates]

    def prompt(self, history: np.ndarray, candidates: Sequence[int], order: np.ndarray) -> str:
        """The chat prompt for one slot order, ending where the label is answered."""
        from harness.llm import chat_prompt, count_tokens

        catalog, labels = self.dataset.catalog, self.labels(len(candidates))
        listed = "\n".join(
            f"{labels[slot]}. {catalog.text(candidates[i])}" for slot, i in enumerate(order)
        )
        instruction = INSTRUCTIONS.get(self.dataset.domain, GENERIC_INSTRUCTION)
        lines = catalog.texts(history[max(0, len(history) - self.options.history_items) :])

        def render(kept: list[str]) -> str:
            shown = "\n".join(f"{i}. {line}" for i, line in enumerate(kept, 1)) or "(none)"
            body = f"{instruction}\n[History]\n{shown}\n[Candidates]\n{listed}"
            return chat_prompt(self.lm.tokenizer, body)

        budget = self.options.max_prompt_tokens
        while budget is not None and count_tokens(self.lm, [render(lines)])[0] > budget:
            if not lines:
                raise HarnessError(
                    f"a prompt budget of {budget} tokens cannot hold the instruction and the "
                    "candidate list; raise max_prompt_tokens"
                )
            lines = lines[1:]  # drop the oldest item whole
        return render(lines)

    def score(self, requests: Sequence[Request], context: RunContext) -> np.ndarray:
        from harness.llm import ScoringRequest, count_tokens, score_choices

        passes, prompts = [], []
        for request in requests:
            orders = candidate_orders(request, context.seed, self.options.permutations)
            for order in orders:
                prompts.append(self.prompt(request.history, request.candidates, order))
                passes.append(order)
        n = len(requests[0].candidates) if requests else 0
        labels = self.labels(n)
        context.record_cost(
            PROMPT_TOKENS_PER_REQUEST, float(np.mean(count_tokens(self.lm, prompts)))
        )
        logits = score_choices(
            self.lm,
            [ScoringRequest(p, ("",)) for p in prompts],
            labels,
            users_per_batch=self.options.users_per_batch,
            progress=context.progress,
        )
        scores = np.zeros((len(requests), n))
        for index, (order, row) in enumerate(zip(passes, logits)):
            log_probs = row[0] - np.logaddexp.reduce(row[0])  # log-softmax over the labels
            scores[index // self.options.permutations, order] += log_probs
        return scores / self.options.permutations


@hookimpl
def register_recommenders(register):
    register(
        "listwise-llm",
        ListwiseLLM,
        options=ListwiseOptions,
        description="LlamaRec-style listwise LLM: one prompt, candidates under letter labels",
    )
