"""LoRA SFT batches: left padding must not change the loss or poison the gradients.

Runs on the CPU by default; ``HARNESS_TEST_DEVICE=cuda`` runs the same checks
on a GPU, where the fused attention kernels used to turn long runs of padding
into NaN gradients.
"""

import os

import pytest
import torch

from harness.llm import answer_token_ids, load_model
from harness.llm.sft import _PadCollator, answer_loss, fresh_model, tokenize_examples

DEVICE = os.environ.get("HARNESS_TEST_DEVICE", "cpu")
SHORT = "Will the user watch Toy Story? Answer yes or no."
LONG = (
    "The user watched: " + "; ".join(f"Movie number {i} (1995)" for i in range(60)) + ". " + SHORT
)


@pytest.fixture(scope="module")
def lm(session_cache):
    return load_model(dtype="float32", device=DEVICE, cache_dir=session_cache)


def batch_for(lm, prompts, answers):
    yes_id, no_id = answer_token_ids(lm.tokenizer, "yes", "no")
    ids = [yes_id if a else no_id for a in answers]
    examples = tokenize_examples(lm.tokenizer, prompts, ids, "answer")
    collate = _PadCollator(lm.tokenizer.pad_token_id, lm.dtype)
    return examples, collate


def to_device(batch, device):
    return {k: v.to(device) for k, v in batch.items()}


def test_padded_batch_loss_equals_each_row_alone(lm):
    examples, collate = batch_for(lm, [SHORT, LONG, "Yes?"], [True, False, True])
    padded = collate(examples)
    assert padded["input_ids"].shape[1] == max(len(e["input_ids"]) for e in examples)
    with torch.inference_mode():
        together = answer_loss(lm.model, to_device(padded, lm.device)).item()
        alone = [answer_loss(lm.model, to_device(collate([e]), lm.device)).item() for e in examples]
    assert together == pytest.approx(sum(alone) / len(alone), rel=1e-4)


def test_mask_lets_padding_see_only_itself(lm):
    examples, collate = batch_for(lm, [SHORT, LONG], [True, False])
    batch = collate(examples)
    allowed = batch["attention_mask"][:, 0] == 0
    pad = (batch["input_ids"][0] == lm.tokenizer.pad_token_id).nonzero()[:, 0]
    first_real = int(pad.max()) + 1
    # every softmax row has at least one allowed key
    assert allowed.any(dim=-1).all()
    # real tokens of the short row never see its padding, and see each earlier real token
    assert not allowed[0, first_real:, :first_real].any()
    assert allowed[0, -1, first_real:].all()
    # the long row (no padding) is plain causal attention
    width = allowed.shape[-1]
    assert torch.equal(allowed[1], torch.ones(width, width, dtype=torch.bool).tril())


def test_lora_gradients_stay_finite_under_long_left_padding(session_cache):
    from peft import LoraConfig, get_peft_model

    bf16 = load_model(dtype="bfloat16", device=DEVICE, cache_dir=session_cache)
    prompts = [LONG] + [SHORT] * 7
    examples, collate = batch_for(bf16, prompts, [True, False] * 4)
    batch = to_device(collate(examples), bf16.device)
    assert int((batch["input_ids"][1] == bf16.tokenizer.pad_token_id).sum()) > 128
    torch.manual_seed(0)
    model = get_peft_model(
        fresh_model(bf16),
        LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"),
    )
    model.train()
    loss = answer_loss(model, batch)
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert torch.isfinite(loss)
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)


def test_checkpoint_selection_keeps_the_best_validated_epoch(lm, tmp_path):
    from peft.utils import get_peft_model_state_dict
    from safetensors.torch import load_file

    from harness.llm.sft import SFTSettings, train_lora

    yes_id, no_id = answer_token_ids(lm.tokenizer, "yes", "no")
    scores = iter([0.5, 0.2])  # epoch 1 validates better than epoch 2
    seen = []

    def validate(model):
        seen.append({k: v.clone() for k, v in get_peft_model_state_dict(model).items()})
        return next(scores)

    settings = SFTSettings(epochs=2, batch_size=2, lr=1e-3)
    model, history = train_lora(
        lm, [SHORT, LONG], [yes_id, no_id], settings, tmp_path, validate=validate, progress=False
    )
    assert [h["validation"] for h in history] == [0.5, 0.2]
    final = get_peft_model_state_dict(model)
    saved = load_file(tmp_path / "adapter" / "adapter_model.safetensors")
    assert not all(torch.equal(seen[0][k], seen[1][k]) for k in seen[0])  # epoch 2 moved
    for key, value in seen[0].items():
        assert torch.equal(final[key].cpu(), value.cpu())
        assert torch.equal(saved[key].cpu(), value.cpu())


def test_without_validation_the_last_epoch_is_kept(lm, tmp_path):
    from peft.utils import get_peft_model_state_dict

    from harness.llm.sft import SFTSettings, train_lora

    yes_id, no_id = answer_token_ids(lm.tokenizer, "yes", "no")
    model, history = train_lora(
        lm,
        [SHORT, LONG],
        [yes_id, no_id],
        SFTSettings(epochs=2, batch_size=2, lr=1e-3),
        tmp_path,
        validate=None,
        progress=False,
    )
    assert [h["validation"] for h in history] == [None, None]
    assert all(torch.isfinite(v).all() for v in get_peft_model_state_dict(model).values())


def test_full_text_loss_trains_on_the_prompt_too(lm, tmp_path):
    from harness.llm.sft import SFTSettings, train_lora

    yes_id, no_id = answer_token_ids(lm.tokenizer, "yes", "no")
    losses = {}
    for loss_on in ("answer", "full"):
        settings = SFTSettings(epochs=1, batch_size=2, loss_on=loss_on)
        _, history = train_lora(
            lm, [SHORT, LONG], [yes_id, no_id], settings, tmp_path / loss_on, progress=False
        )
        losses[loss_on] = history[0]["train_loss"]
    assert all(loss is not None and loss > 0 for loss in losses.values())
    # the prompt's own tokens are far easier to predict than a yes/no the model never saw
    assert losses["full"] != pytest.approx(losses["answer"], rel=0.05)


def test_gradient_checkpointing_trains_the_same_adapter(lm, tmp_path):
    from peft.utils import get_peft_model_state_dict

    from harness.llm.sft import SFTSettings, train_lora

    yes_id, no_id = answer_token_ids(lm.tokenizer, "yes", "no")
    states, losses = {}, {}
    for checkpointing in (False, True):
        settings = SFTSettings(
            epochs=1, batch_size=2, lr=1e-3, gradient_checkpointing=checkpointing
        )
        model, history = train_lora(
            lm,
            [SHORT, LONG],
            [yes_id, no_id],
            settings,
            tmp_path / str(checkpointing),
            progress=False,
        )
        base = model.base_model.model
        enabled = getattr(base, "is_activation_checkpointing", None)
        if enabled is None:  # transformers before 5.x
            enabled = base.is_gradient_checkpointing
        assert enabled == checkpointing
        states[checkpointing] = get_peft_model_state_dict(model)
        losses[checkpointing] = history[0]["train_loss"]
    assert losses[True] == pytest.approx(losses[False], rel=1e-5)
    for key, value in states[False].items():
        assert torch.allclose(states[True][key], value, rtol=1e-4, atol=1e-6), key
