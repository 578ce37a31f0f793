"""Text-to-token helpers shared by scoring, generation and cost reports.

Every path encodes text the same way (:func:`encode`), so token counts in the
cost report are the tokens the model really sees.
"""

from __future__ import annotations

from collections.abc import Sequence

from harness.errors import HarnessError


class AnswerTokenError(HarnessError, ValueError):
    """An answer string ("yes"/"no") is not exactly one token for this tokenizer."""


def encode(tokenizer, texts: Sequence[str]) -> list[list[int]]:
    """Token ids of each text with the tokenizer's special tokens (e.g. BOS) added once.

    Texts rendered by a chat template may already start with the BOS token;
    then the one the tokenizer prepends is dropped instead of doubling it.
    """
    if not texts:
        return []
    ids = tokenizer(list(texts), add_special_tokens=True)["input_ids"]
    bos = tokenizer.bos_token_id
    if bos is None:
        return ids
    return [row[1:] if len(row) > 1 and row[0] == bos and row[1] == bos else row for row in ids]


def pad_token_id(tokenizer) -> int:
    """The id that pads a batch: the tokenizer's pad token, else its end token, else 0.
    Id 0 is a real id (some vocabularies pad with it), never "missing"."""
    for token_id in (tokenizer.pad_token_id, tokenizer.eos_token_id):
        if token_id is not None:
            return token_id
    return 0


def count_tokens(lm_or_tokenizer, texts: Sequence[str]) -> list[int]:
    """Number of tokens the model sees for each text (a ``LoadedModel`` or a tokenizer)."""
    tokenizer = getattr(lm_or_tokenizer, "tokenizer", lm_or_tokenizer)
    return [len(row) for row in encode(tokenizer, texts)]


def chat_prompt(
    tokenizer,
    user_message: str,
    *,
    system: str | None = None,
    add_generation_prompt: bool = True,
) -> str:
    """A one-turn prompt in the model's own chat format, as text.

    With a chat template, ``system=None`` leaves the template's default
    (SmolLM2 inserts its own system prompt). Tokenizers without a template
    (base models) get plain text: ``"{system}\\n\\n{user_message}\\n"``, or
    ``"{user_message}\\n"`` without a system prompt.
    """
    if getattr(tokenizer, "chat_template", None):
        messages = [{"role": "system", "content": system}] if system is not None else []
        messages.append({"role": "user", "content": user_message})
        return tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=add_generation_prompt
        )
    head = f"{system}\n\n" if system is not None else ""
    return f"{head}{user_message}\n"


def label_token_ids(tokenizer, labels: Sequence[str]) -> tuple[int, ...]:
    """The token id of each answer label; every label must be one token, all distinct.

    Labels are what a prompt's answer position chooses among: ("yes", "no")
    for a pointwise prompt, ("A", "B", ...) for a listwise one.
    """
    ids = []
    for label in labels:
        tokens = tokenizer(label, add_special_tokens=False)["input_ids"]
        if len(tokens) != 1:
            pieces = tokenizer.convert_ids_to_tokens(tokens)
            raise AnswerTokenError(
                f"answer {label!r} is {len(tokens)} tokens {pieces} for this tokenizer, "
                "not one; pass answer strings that are single tokens (e.g. 'yes' or ' yes')"
            )
        ids.append(tokens[0])
    seen: dict[int, str] = {}
    for label, token in zip(labels, ids):
        if token in seen:
            raise AnswerTokenError(
                f"answers {seen[token]!r} and {label!r} are the same token ({token})"
            )
        seen[token] = label
    return tuple(ids)


def answer_token_ids(tokenizer, yes: str, no: str) -> tuple[int, int]:
    """The token ids of the two answers of a yes/no prompt (see :func:`label_token_ids`)."""
    yes_id, no_id = label_token_ids(tokenizer, (yes, no))
    return yes_id, no_id
