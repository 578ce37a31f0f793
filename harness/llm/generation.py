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
from harness.llm.tokens import encode


def generate(
    lm: LoadedModel,
    prompts: Sequence[str],
    *,
    max_new_tokens: int = 128,
    batch_size: int = 16,
    do_sample: bool = False,
    seed: int = 0,
    progress: bool = True,
) -> list[str]:
    """Complete every prompt; returns the new text only, stripped, in the order of ``prompts``.

    Generation stops at the end-of-sequence token(s) or after
    ``max_new_tokens``. ``do_sample=True`` samples with the model's
    generation settings after seeding torch with ``seed``, inside a forked
    RNG state so the caller's random streams are left as they were.
    """
    tokenizer, model = lm.tokenizer, lm.model
    ids = encode(tokenizer, prompts)
    if any(not row for row in ids):
        raise ValueError("cannot generate from an empty prompt")
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    pad_id = (
        tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    )
    settings = {
        "max_new_tokens": max_new_tokens,
        "do_sample": do_sample,
        "pad_token_id": pad_id,
        "eos_token_id": _eos_ids(lm),
    }
    if not do_sample:
        # Greedy: drop sampling knobs a checkpoint's generation_config may carry.
        settings.update(temperature=None, top_p=None, top_k=None)
    outputs: list[str] = [""] * len(ids)
    bar = tqdm(total=len(ids), desc="generating", unit="prompt", disable=None if progress else True)
    devices = [lm.device] if lm.device.type == "cuda" else []
    with bar, torch.random.fork_rng(devices=devices), torch.inference_mode():
        torch.manual_seed(seed)
        step = max(1, batch_size)
        for start in range(0, len(order), step):
            batch = order[start : start + step]
            input_ids, attention_mask = _left_padded([ids[i] for i in batch], pad_id, lm.device)
            generated = model.generate(
                input_ids=input_ids, attention_mask=attention_mask, **settings
            )
            texts = tokenizer.batch_decode(
                generated[:, input_ids.shape[1] :], skip_special_tokens=True
            )
            for i, text in zip(batch, texts):
                outputs[i] = text.strip()
            bar.update(len(batch))
    return outputs


def _left_padded(
    rows: list[list[int]], pad_id: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(map(len, rows))
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
