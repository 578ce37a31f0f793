"""Folded grouped-query attention gives SDPA's numbers without copying K/V: on random
tensors, on the embedded model's scores, and on its training gradients."""

import numpy as np
import pytest
import torch
from transformers.integrations.sdpa_attention import sdpa_attention_forward

from harness.llm import ScoringRequest, score_choices
from harness.llm.attention import NAME, folded_gqa_attention
from harness.llm.sft import fresh_model


class Heads:
    num_key_value_groups = 3
    is_causal = True


@pytest.mark.parametrize("queries", [7, 1])  # a prefill or a scoring pass; a decoding step
@pytest.mark.parametrize("boolean", [True, False])
def test_folding_matches_sdpa_with_repeated_heads(boolean, queries):
    generator = torch.Generator().manual_seed(0)
    query = torch.randn(2, 9, queries, 16, generator=generator)
    key, value = torch.randn(2, 2, 3, 11, 16, generator=generator)
    allowed = torch.rand(2, 1, queries, 11, generator=generator) > 0.3
    allowed[..., 0] = True
    mask = allowed
    if not boolean:
        mask = torch.zeros(allowed.shape).masked_fill(~allowed, torch.finfo(torch.float32).min)
    expected, _ = sdpa_attention_forward(Heads(), query, key, value, mask, scaling=0.25)
    folded, _ = folded_gqa_attention(Heads(), query, key, value, mask, scaling=0.25)
    assert folded.shape == expected.shape == (2, queries, 9, 16)
    assert torch.allclose(folded, expected, atol=1e-6, rtol=0)


def _sdpa_copy(embedded):
    model = fresh_model(embedded)
    model.set_attn_implementation("sdpa")
    return model


def test_the_embedded_model_scores_the_same_folded(embedded):
    assert embedded.model.config._attn_implementation == NAME  # loading switches it on
    requests = [
        ScoringRequest(
            "The user watched Heat, Casino and Toy Story. Candidate:",
            tuple(f" movie {i}. Answer:" for i in range(5)),
        ),
        ScoringRequest("Short. Candidate:", (" Jumanji. Answer:", " GoldenEye (1995). Answer:")),
    ]
    folded = score_choices(embedded, requests, (" yes", " no"), progress=False)
    plain = score_choices(
        embedded, requests, (" yes", " no"), progress=False, model=_sdpa_copy(embedded)
    )
    assert max(np.abs(a - b).max() for a, b in zip(folded, plain)) <= 1e-6


def test_training_gradients_are_the_same_folded(embedded):
    ids = torch.tensor([[2, 2, 504, 1390, 314, 253], [504, 1390, 314, 253, 4481, 30]])
    mask = torch.tensor([[0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1]])
    grads = []
    for model in (fresh_model(embedded), _sdpa_copy(embedded)):
        model.train()
        loss = model(input_ids=ids, attention_mask=mask, labels=ids.masked_fill(mask == 0, -100))
        loss.loss.backward()
        grads.append(model.model.layers[0].self_attn.q_proj.weight.grad.clone())
    assert grads[0].abs().max() > 0
    assert torch.allclose(grads[0], grads[1], atol=1e-6, rtol=1e-5)
