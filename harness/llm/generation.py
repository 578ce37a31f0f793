"""Batched text generation for summarizers: many prompts per forward pass.

Prompts are sorted by length before batching so that left padding stays
small, and results come back in the caller's order. Greedy decoding by
default, so a rerun reproduces the same summaries (and cache hits stay valid).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from tqdm.auto import tqdm

from harness.llm.loading import LoadedModel
from harness.llm.tokens import encode, pad_token_id


def generate(
    lm: LoadedModel,
    prompts: Sequence[str],
    *,
    max_new_tokens: int = 128,
    batch_size: int = 16,
    do_sample: bool = False,
    seed: int = 0,
    progress: bool = True,
    cache: str = "auto",
    width_multiple: int | None = None,
) -> list[str]:
    """Complete every prompt; returns the new text only, stripped, in the order of ``prompts``.

    Generation stops at the end-of-sequence token(s) or after
    ``max_new_tokens``. ``do_sample=True`` samples with the model's
    generation settings after seeding torch with ``seed``, inside a forked
    RNG state so the caller's random streams are left as they were.

    ``cache``: ``"static"`` preallocates the KV cache, which on CUDA lets
    transformers compile the decoding step (CUDA graphs: one launch per step
    instead of one per kernel); ``"dynamic"`` grows it step by step; ``"auto"``
    is static on CUDA, dynamic elsewhere. ``width_multiple`` left-pads each
    batch to a multiple of that many tokens (default 64 with a static cache on
    CUDA), so the compiled step sees few distinct shapes and recompiles little.
    Greedy token ids are the same either way (tested on CPU).
    """
    new_ids = generate_ids(
        lm,
        encode(lm.tokenizer, prompts),
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
        do_sample=do_sample,
        seed=seed,
        progress=progress,
        cache=cache,
        width_multiple=width_multiple,
    )
    texts = lm.tokenizer.batch_decode(new_ids, skip_special_tokens=True)
    return [text.strip() for text in texts]


def generate_ids(
    lm: LoadedModel,
    ids: Sequence[Sequence[int]],
    *,
    max_new_tokens: int = 128,
    batch_size: int = 16,
    do_sample: bool = False,
    seed: int = 0,
    progress: bool = True,
    cache: str = "auto",
    width_multiple: int | None = None,
    stop_at_end: bool = True,
) -> list[list[int]]:
    """:func:`generate` on token ids: each prompt's new token ids, up to and including its
    end token (padding after it dropped), in the order of ``ids``. ``stop_at_end=False``
    generates exactly ``max_new_tokens`` for every prompt (fixed-length benchmarks)."""
    if cache not in ("auto", "static", "dynamic"):
        raise ValueError(f"cache must be auto, static or dynamic, got {cache!r}")
    if any(not row for row in ids):
        raise ValueError("cannot generate from an empty prompt")
    on_cuda = lm.device.type == "cuda"
    static = cache == "static" or (cache == "auto" and on_cuda)
    if width_multiple is None:
        width_multiple = 64 if static and on_cuda else 1
    tokenizer, model = lm.tokenizer, lm.model
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    pad_id = pad_token_id(tokenizer)
    ends = _eos_ids(lm)
    settings = {
        "max_new_tokens": max_new_tokens,
        "do_sample": do_sample,
        "pad_token_id": pad_id,
        "eos_token_id": ends,
    }
    if static:
        settings["cache_implementation"] = "static"
    if not stop_at_end:
        settings["min_new_tokens"] = max_new_tokens
        ends = []
    if not do_sample:
        # Greedy: drop sampling knobs a checkpoint's generation_config may carry.
        settings.update(temperature=None, top_p=None, top_k=None)
    outputs: list[list[int]] = [[] for _ in ids]
    bar = tqdm(total=len(ids), desc="generating", unit="prompt", disable=None if progress else True)
    devices = [lm.device] if on_cuda else []
    with bar, torch.random.fork_rng(devices=devices), torch.inference_mode():
        torch.manual_seed(seed)
        step = max(1, batch_size)
        for start in range(0, len(order), step):
            batch = order[start : start + step]
            input_ids, attention_mask = _left_padded(
                [list(ids[i]) for i in batch], pad_id, lm.device, width_multiple
            )
            generated = model.generate(
                input_ids=input_ids, attention_mask=attention_mask, **settings
            )
            for i, row in zip(batch, generated[:, input_ids.shape[1] :].tolist()):
                outputs[i] = _until_end(row, ends)
            bar.update(len(batch))
    return outputs


def _until_end(row: list[int], ends: list[int]) -> list[int]:
    """A generated row up to and including its first end token (what follows is padding)."""
    for position, token in enumerate(row):
        if token in ends:
            return row[: position + 1]
    return row


def _left_padded(
    rows: list[list[int]], pad_id: int, device: torch.device, multiple: int = 1
) -> tuple[torch.Tensor, torch.Tensor]:
    width = -(-max(map(len, rows)) // multiple) * multiple
    input_ids = torch.tensor([[pad_id] * (width - len(r)) + r for r in rows], device=device)
    mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows], device=device)
    return input_ids, mask


def _eos_ids(lm: LoadedModel) -> list[int]:
    """The generation config's end tokens plus the tokenizer's (chat models often differ)."""
    configured = getattr(lm.model.generation_config, "eos_token_id", None)
    ids = configured if isinstance(configured, list) else [configured]
    ids = [i for i in ids if i is not None]
    if lm.tokenizer.eos_token_id is not None and lm.tokenizer.eos_token_id not in ids:
        ids.append(lm.tokenizer.eos_token_id)
    return ids
