"""Dataset cards: the paper's Table 1 columns, computed from the data actually loaded.

A card answers "is this the data the paper used?" before anything is trained:
sequence, item and interaction counts, the history-length distribution, and
how many tokens an item's text costs in a prompt.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from harness.dataset import Dataset

log = logging.getLogger(__name__)

TokenCounter = Callable[[list[str]], list[int]]
BATCH = 4096


def count_words(texts: list[str]) -> list[int]:
    """Whitespace words: the tokenizer-free fallback."""
    return [len(text.split()) for text in texts]


def _summary(values: np.ndarray) -> dict[str, float]:
    if len(values) == 0:
        return {k: 0.0 for k in ("min", "q1", "median", "q3", "max", "mean")}
    q1, median, q3 = np.percentile(values, [25, 50, 75])
    return {
        "min": float(values.min()),
        "q1": float(q1),
        "median": float(median),
        "q3": float(q3),
        "max": float(values.max()),
        "mean": float(values.mean()),
    }


def dataset_card(
    dataset: Dataset, count_tokens: TokenCounter, tokenizer: str | None = None
) -> dict[str, Any]:
    """Counts and distributions of ``dataset``; ``tokenizer`` names ``count_tokens`` in the card.

    The history of a sequence is every item before its last one (the test
    target), the same quantity for per-user and per-session datasets.
    """
    lengths = np.fromiter(
        (len(s) for s in dataset.sequences), dtype=np.int64, count=len(dataset.sequences)
    )
    catalog = dataset.catalog
    used = np.unique(np.concatenate(dataset.sequences)) if dataset.sequences else np.zeros(0)
    tokens: list[int] = []
    with tqdm(total=len(catalog), desc="counting item tokens", unit="item", disable=None) as bar:
        for start in range(0, len(catalog), BATCH):
            texts = catalog.texts(range(start, min(start + BATCH, len(catalog))))
            tokens.extend(count_tokens(texts))
            bar.update(len(texts))
    counts = np.asarray(tokens, dtype=np.int64)
    return {
        "dataset": dataset.name,
        "domain": dataset.domain,
        "kind": dataset.kind,
        "sequences": len(dataset.sequences),
        "items": len(catalog),
        "items_in_sequences": int(len(used)),
        "interactions": dataset.n_interactions,
        "history_length": _summary(np.maximum(lengths - 1, 0)),
        "tokens_per_item": {
            "mean": float(counts.mean()) if len(counts) else 0.0,
            "median": float(np.median(counts)) if len(counts) else 0.0,
            "max": int(counts.max()) if len(counts) else 0,
        },
        "tokenizer": tokenizer
        or ("whitespace words" if count_tokens is count_words else count_tokens.__name__),
        "example_item": catalog.text(0) if len(catalog) else "",
        "source": dict(dataset.source),
    }


def _number(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:,.1f}"


def render_card(card: dict[str, Any]) -> str:
    """The card as aligned ``label  value`` lines for the terminal."""
    history = card["history_length"]
    tokens = card["tokens_per_item"]
    if card["kind"] == "users":
        unit, split = "users", "one sequence per user, split leave-one-out"
    else:
        unit, split = "sequences", "whole sequences split into train/valid/test"
    rows = [
        ("dataset", f"{card['dataset']} ({card['domain']}; {split})"),
        (unit, _number(card["sequences"])),
        ("items", f"{_number(card['items'])} ({_number(card['items_in_sequences'])} in sequences)"),
        ("interactions", _number(card["interactions"])),
        (
            "history length",
            "min {} / q1 {} / median {} / q3 {} / max {}, mean {:.2f}".format(
                *(_number(history[k]) for k in ("min", "q1", "median", "q3", "max")),
                history["mean"],
            ),
        ),
        (
            "tokens per item",
            f"mean {tokens['mean']:.1f}, median {_number(tokens['median'])}, "
            f"max {_number(tokens['max'])}",
        ),
        ("tokenizer", card["tokenizer"]),
        ("example item", card["example_item"]),
    ]
    rows += [(f"source {k}", v) for k, v in card["source"].items()]
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label:<{width}}  {value}" for label, value in rows)


def token_counter(choice: str) -> tuple[TokenCounter, str]:
    """``count_tokens`` and its label: the embedded LLM's tokenizer, else whitespace words."""
    if choice == "model":
        # the card is still worth printing when the LLM runtime is absent or broken
        try:
            llm = importlib.import_module("harness.llm")
            loader = getattr(llm, "load_tokenizer", None)
            tokenizer = loader(name=None) if loader is not None else None
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
        else:
            if tokenizer is not None:
                name = getattr(tokenizer, "name_or_path", "") or type(tokenizer).__name__

                def count_model_tokens(texts: list[str]) -> list[int]:
                    ids = tokenizer(list(texts), add_special_tokens=False)["input_ids"]
                    return [len(row) for row in ids]

                return count_model_tokens, f"model ({name})"
            reason = "harness.llm has no load_tokenizer"
        log.warning("counting whitespace words instead of model tokens: %s", reason)
        return count_words, f"whitespace words (model tokenizer unavailable: {reason})"
    return count_words, "whitespace words"
