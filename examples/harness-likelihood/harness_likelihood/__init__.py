"""An example third-party LLM recommender of a kind the harness does not ship: likelihood.

A generative recommender would write the next item's text; this scores each
candidate by the model's mean log-likelihood of the candidate's text as the
answer to "which movie next?", given the history: the likelihood score of
generative recommenders, without generating. It is written only against the
public names of ``harness`` and ``harness.llm`` (the contract in
``harness.Recommender``'s docstring): installed with pip, it runs as
``harness evaluate -r llm-likelihood``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from harness import (
    PROMPT_TOKENS_PER_REQUEST,
    Capabilities,
    Recommender,
    check_model_name,
    hookimpl,
    numbered,
)


@dataclass(frozen=True)
class LikelihoodOptions:
    model: str | None = field(
        default=None, metadata={"help": "HF model id or folder (default: the embedded SmolLM2)"}
    )
    history_items: int = field(default=10, metadata={"help": "newest history items shown"})

    def __post_init__(self):
        check_model_name(self.model)  # a missing model folder fails before any row runs
        if self.history_items < 0:
            raise ValueError("history_items must be at least 0")


class LikelihoodRecommender(Recommender):
    """A candidate's score: the mean log-probability of its text's tokens after the prompt."""

    reproducible_within = 0.01  # float32 sums round differently on another CPU kind
    row_name = "llm-likelihood (zero-shot)"

    def __init__(self, options: LikelihoodOptions):
        self.options = options
        self.lm = None
        self.dataset = None

    def capabilities(self) -> Capabilities:
        return Capabilities(trained=False)  # zero-shot: the 0 point of a learning curve

    def fit(self, data, context):
        from harness.llm import load_model

        self.dataset = data.dataset
        self.lm = load_model(self.options.model, device=context.device, cache_dir=context.cache_dir)

    def prompt(self, history) -> str:
        from harness.llm import chat_prompt

        kept = history[max(0, len(history) - self.options.history_items) :]
        lines = numbered(self.dataset.catalog.texts(kept)) or "(none)"
        question = (
            "These are the items a user interacted with, oldest first:\n"
            f"{lines}\nName the item the user will interact with next."
        )
        return chat_prompt(self.lm.tokenizer, question)

    def score(self, requests, context):
        scores = np.empty((len(requests), len(requests[0].candidates)))
        prompt_tokens = []
        for row, request in enumerate(context.bar(requests, desc="likelihood", unit="request")):
            texts = self.dataset.catalog.texts(request.candidates)
            scores[row], tokens = self.mean_log_likelihoods(self.prompt(request.history), texts)
            prompt_tokens.append(tokens)
        context.record_cost(PROMPT_TOKENS_PER_REQUEST, float(np.mean(prompt_tokens)))
        return scores

    def mean_log_likelihoods(self, prefix: str, continuations: list[str]) -> tuple[np.ndarray, int]:
        """Per continuation, its tokens' mean log-probability after ``prefix``, in one
        left-padded batch (each row's positions start at its first real token); and the
        tokens per prompt. Only the continuation positions go through the output head."""
        import torch

        tokenizer, model = self.lm.tokenizer, self.lm.model
        head = tokenizer(prefix)["input_ids"]
        tails = [tokenizer(text, add_special_tokens=False)["input_ids"] for text in continuations]
        rows = [head + tail for tail in tails]
        width, keep = max(map(len, rows)), max(map(len, tails)) + 1
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        ids = torch.tensor([[pad] * (width - len(r)) + r for r in rows], device=model.device)
        mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows])
        positions = (mask.cumsum(1) - 1).clamp(min=0)
        with torch.inference_mode():
            logits = model(
                input_ids=ids,
                attention_mask=mask.to(model.device),
                position_ids=positions.to(model.device),
                logits_to_keep=keep,
            ).logits.float()
        log_probs = torch.log_softmax(logits[:, :-1], dim=-1)  # position t predicts t + 1
        out = np.empty(len(tails))
        for i, tail in enumerate(tails):
            picked = log_probs[i, -len(tail) :].gather(
                1, torch.tensor(tail)[:, None].to(ids.device)
            )
            out[i] = picked.mean().item()
        return out, int(np.mean([len(r) for r in rows]))


@hookimpl
def register_recommenders(register):
    register(
        "llm-likelihood",
        LikelihoodRecommender,
        options=LikelihoodOptions,
        description="zero-shot LLM: mean log-likelihood of each candidate's text after the history",
    )
