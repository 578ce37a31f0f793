"""Grouped-query attention without repeating K/V, for masked attention.

SmolLM2-135M has 9 query heads on 3 key/value heads. PyTorch's SDPA takes
grouped heads natively (``enable_gqa``) only without a mask on CUDA, so
transformers copies K and V 3x in every layer whenever there is one: for the
scorer's block mask, for left-padded prefill and for training on packed rows.
Folding instead stacks the query heads of one group along the query axis, so
the group attends to its one K/V head in a single SDPA call: same arithmetic,
no copy. The mask is shared by all heads, so it is tiled along the query axis
(a 1-head mask, far smaller than the K/V copies it replaces). A decoding step
(one query) folds the same way, also under ``torch.compile``, where
transformers' own one-query packing is switched off.

Registered with transformers' attention and mask interfaces as
``harness_gqa``; :func:`use_folded_gqa` switches a loaded model to it. Where
folding does not apply (no mask, one KV head, per-head masks, position biases)
it hands over to transformers' own SDPA function unchanged.
"""

from __future__ import annotations

import torch

NAME = "harness_gqa"


def folded_gqa_attention(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    dropout: float = 0.0,
    scaling: float | None = None,
    is_causal: bool | None = None,
    **kwargs,
) -> tuple[torch.Tensor, None]:
    """transformers' attention-function signature: (batch, heads, q, dim) query and
    (batch, kv heads, kv, dim) key/value in; (batch, q, heads, dim) out."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    groups = getattr(module, "num_key_value_groups", 1)
    foldable = (
        groups > 1
        and attention_mask is not None
        and attention_mask.dim() == 4
        and attention_mask.shape[1] == 1
        and kwargs.get("position_bias") is None
        and kwargs.get("softcap") is None
        and not kwargs.get("output_attentions", False)
    )
    if not foldable:
        return sdpa_attention_forward(
            module, query, key, value, attention_mask, dropout, scaling, is_causal, **kwargs
        )
    batch, heads, q_length, dim = query.shape
    kv_heads = key.shape[1]
    # query head h = kv_head * groups + j (transformers' repeat_kv order): one group's heads
    # become one longer query block for their shared K/V head
    folded = query.reshape(batch, kv_heads, groups * q_length, dim)
    mask = attention_mask.expand(batch, 1, q_length, attention_mask.shape[-1])
    mask = mask.repeat(1, 1, groups, 1)
    out = torch.nn.functional.scaled_dot_product_attention(
        folded, key, value, attn_mask=mask, dropout_p=dropout, scale=scaling
    )
    out = out.reshape(batch, heads, q_length, value.shape[-1])
    return out.transpose(1, 2).contiguous(), None


def register() -> None:
    """Make ``harness_gqa`` a name transformers' models accept (idempotent)."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    AttentionInterface.register(NAME, folded_gqa_attention)
    AttentionMaskInterface.register(NAME, sdpa_mask)


def use_folded_gqa(model: torch.nn.Module) -> bool:
    """Switch a model that runs SDPA on grouped heads to the folded function; returns
    whether it did (models with one KV head per query head, or another attention
    implementation, are left as they are)."""
    config = getattr(model, "config", None)
    if config is None or getattr(config, "_attn_implementation", None) != "sdpa":
        return False
    heads = getattr(config, "num_attention_heads", None)
    kv_heads = getattr(config, "num_key_value_heads", heads)
    if not heads or not kv_heads or heads == kv_heads:
        return False
    register()
    model.set_attn_implementation(NAME)
    return True
