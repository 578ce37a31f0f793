"""The shared LLM runtime: loading, N-answer candidate scoring, batched generation.

Every LLM recommender and summarizer goes through this package, so model
loading is memoized per process and the hot paths (shared-prefix scoring,
batched generation) are written once.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

# Names are imported on first use: plugins import option classes from this
# package at registration time, and `harness plugins` must not pay for torch.
_EXPORTS = {
    "EMBEDDED_MODEL": "harness.llm.embedded_model",
    "check_device": "harness.llm.devices",
    "resolve_device": "harness.llm.devices",
    "CachedGenerator": "harness.llm.generation_cache",
    "Generator": "harness.llm.generation_cache",
    "generate": "harness.llm.generation",
    "LoadedModel": "harness.llm.loading",
    "clear_loaded_models": "harness.llm.loading",
    "load_model": "harness.llm.loading",
    "load_tokenizer": "harness.llm.loading",
    "ChoiceExample": "harness.llm.packing",
    "TextEmbedder": "harness.llm.embedding",
    "embed_texts": "harness.llm.embedding",
    "catalog_vectors": "harness.llm.embedding",
    "PromptGroup": "harness.llm.packing",
    "SFTSettings": "harness.llm.sft_settings",
    "TrainingReport": "harness.llm.sft",
    "train_lora": "harness.llm.sft",
    "ScoringRequest": "harness.llm.scoring",
    "ScoringStats": "harness.llm.scoring",
    "score_choices": "harness.llm.scoring",
    "score_yes_no": "harness.llm.scoring",
    "yes_probability": "harness.llm.scoring",
    "AnswerTokenError": "harness.llm.tokens",
    "answer_token_ids": "harness.llm.tokens",
    "chat_prompt": "harness.llm.tokens",
    "count_tokens": "harness.llm.tokens",
    "label_token_ids": "harness.llm.tokens",
}

__all__ = [
    "EMBEDDED_MODEL",
    "ChoiceExample",
    "TextEmbedder",
    "embed_texts",
    "catalog_vectors",
    "PromptGroup",
    "SFTSettings",
    "TrainingReport",
    "train_lora",
    "CachedGenerator",
    "Generator",
    "AnswerTokenError",
    "LoadedModel",
    "ScoringRequest",
    "ScoringStats",
    "answer_token_ids",
    "chat_prompt",
    "check_device",
    "clear_loaded_models",
    "count_tokens",
    "generate",
    "load_model",
    "label_token_ids",
    "load_tokenizer",
    "resolve_device",
    "score_choices",
    "score_yes_no",
    "yes_probability",
]

if TYPE_CHECKING:
    from harness.llm.devices import check_device, resolve_device
    from harness.llm.embedded_model import EMBEDDED_MODEL
    from harness.llm.embedding import TextEmbedder, catalog_vectors, embed_texts
    from harness.llm.generation import generate
    from harness.llm.generation_cache import CachedGenerator, Generator
    from harness.llm.loading import LoadedModel, clear_loaded_models, load_model, load_tokenizer
    from harness.llm.packing import ChoiceExample, PromptGroup
    from harness.llm.scoring import (
        ScoringRequest,
        ScoringStats,
        score_choices,
        score_yes_no,
        yes_probability,
    )
    from harness.llm.sft import TrainingReport, train_lora
    from harness.llm.sft_settings import SFTSettings
    from harness.llm.tokens import (
        AnswerTokenError,
        answer_token_ids,
        chat_prompt,
        count_tokens,
        label_token_ids,
    )


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'harness.llm' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value
