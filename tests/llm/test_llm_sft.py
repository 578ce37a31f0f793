"""LoRA SFT batches: left padding must not change the loss or poison the gradients.

Runs on the CPU by default; ``HARNESS_TEST_DEVICE=cuda`` runs the same checks
on a GPU, where the fused attention kernels used to turn long runs of padding
into NaN gradients.
"""

import os

import pytest
import torch

from harness.llm import answer_token_ids, load_model
from harness.llm.packing import (
    PackedCollator,
    PromptGroup,
    block_mask,
    packed_loss,
    tokenize_groups,
)
from harness.llm.sft import fresh_model

DEVICE = os.environ.get("HARNESS_TEST_DEVICE", "cpu")
SHORT = "Will the user watch Toy Story? Answer yes or no."
LONG = (
    "The user watched: " + "; ".join(f"Movie number {i} (1995)" for i in range(20)) + ". " + SHORT
)
PREFIX = "The user watched: Heat (1995); Casino (1995); Fargo (1996). Candidate: "
TAILS = ("Toy Story (1995)\nAnswer:", "Babe (1995)\nAnswer:", "Se7en (1995)\nAnswer:", "Up")


@pytest.fixture(scope="module")
def lm(session_cache):
    return load_model(dtype="float32", device=DEVICE, cache_dir=session_cache)


def rows_for(lm, groups, packed=True):
    yes_no = answer_token_ids(lm.tokenizer, "yes", "no")
    return tokenize_groups(lm.tokenizer, groups, yes_no, packed=packed), yes_no


def single(prompt: str, label: bool) -> PromptGroup:
    """One prompt as a group of one (its last character as the candidate tail)."""
    return PromptGroup(prompt[:-1], (prompt[-1],), (label,))


def to_device(batch, device):
    return {k: v.to(device) for k, v in batch.items()}


def test_padded_batch_loss_equals_each_row_alone(lm):
    groups = [single(SHORT, True), single(LONG, False), single("Yes?", True)]
    rows, _ = rows_for(lm, groups)
    collate = PackedCollator(lm.tokenizer.pad_token_id, lm.dtype)
    padded = collate(rows)
    assert padded["input_ids"].shape[1] == max(len(r["prefix"]) + 1 for r in rows)
    with torch.inference_mode():
        together = packed_loss(lm.model, to_device(padded, lm.device)).item()
        alone = [packed_loss(lm.model, to_device(collate([r]), lm.device)).item() for r in rows]
    assert together == pytest.approx(sum(alone) / len(alone), rel=1e-4)


def test_the_mask_built_on_the_device_is_the_collators(lm):
    """On a GPU the collator hands over segment ids and packed_loss builds the mask there;
    the loss must be the one from the mask the collator builds on the CPU."""
    groups = [PromptGroup(PREFIX, TAILS, (True, False, False, False)), single(LONG, False)]
    rows, _ = rows_for(lm, groups)
    built = PackedCollator(lm.tokenizer.pad_token_id, lm.dtype)(rows)
    deferred = PackedCollator(lm.tokenizer.pad_token_id, lm.dtype, build_mask=False)(rows)
    assert "attention_mask" not in deferred
    assert torch.equal(block_mask(deferred["segments"], lm.dtype), built["attention_mask"])
    with torch.inference_mode():
        a = packed_loss(lm.model, to_device(built, lm.device)).item()
        b = packed_loss(lm.model, to_device(deferred, lm.device)).item()
    assert a == b


def test_mask_lets_tails_see_the_prefix_and_themselves_only(lm):
    groups = [PromptGroup(PREFIX, TAILS, (True, False, False, False)), single(SHORT, True)]
    rows, _ = rows_for(lm, groups)
    batch = PackedCollator(lm.tokenizer.pad_token_id, lm.dtype)(rows)
    allowed = batch["attention_mask"][:, 0] == 0
    assert allowed.any(dim=-1).all()  # every softmax row has at least one allowed key
    packed = rows[0]
    width, prefix = allowed.shape[-1], len(packed["prefix"])
    assert width == prefix + sum(map(len, packed["tails"]))  # the packed row has no padding
    assert torch.equal(allowed[0, :prefix, :prefix], torch.ones(prefix, prefix).tril().bool())
    start = prefix
    for tail in packed["tails"]:
        end = start + len(tail)
        assert allowed[0, start:end, :prefix].all()  # each tail sees the whole prefix
        own = allowed[0, start:end, start:end]
        assert torch.equal(own, torch.ones(len(tail), len(tail)).tril().bool())
        assert not allowed[0, start:end, prefix:start].any()  # and no earlier tail
        positions = batch["position_ids"][0, start:end]
        assert positions.tolist() == list(range(prefix, prefix + len(tail)))  # restart
        start = end
    # the short row is left-padded: its padding sees only itself, its tokens never see padding
    pad = int((batch["position_ids"][1] == 0).nonzero().max())  # last position-0 column
    assert not allowed[1, pad:, :pad].any()
    assert batch["answer_cols"].tolist()[-1] == width - 1


def lora_model(lm, seed=0):
    from peft import LoraConfig, get_peft_model

    from harness.llm.sft import attention_projections

    torch.manual_seed(seed)
    base = fresh_model(lm)
    config = LoraConfig(
        r=8, lora_alpha=16, lora_dropout=0.0, target_modules=attention_projections(base)
    )
    model = get_peft_model(base, config)
    # B starts at zero; give it values so the gradients of A are not all zero
    for name, param in model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(param, std=0.02)
    return model


def loss_and_grads(model, batch):
    model.zero_grad()
    loss = packed_loss(model, batch)
    loss.backward()
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    return loss.item(), grads


def test_packed_loss_and_lora_gradients_equal_one_prompt_per_example(lm):
    groups = [
        PromptGroup(PREFIX, TAILS, (True, False, False, False)),
        PromptGroup(SHORT + " Candidate: ", TAILS[:2], (False, True)),
    ]
    pad_id = lm.tokenizer.pad_token_id
    packed_rows, _ = rows_for(lm, groups, packed=True)
    unpacked_rows, _ = rows_for(lm, groups, packed=False)
    assert len(packed_rows) == 2 and len(unpacked_rows) == 6
    model = lora_model(lm)
    model.train()
    packed = to_device(PackedCollator(pad_id)(packed_rows), lm.device)
    unpacked = to_device(PackedCollator(pad_id)(unpacked_rows), lm.device)
    assert packed["input_ids"].numel() < unpacked["input_ids"].numel()
    loss_p, grads_p = loss_and_grads(model, packed)
    loss_u, grads_u = loss_and_grads(model, unpacked)
    assert loss_p == pytest.approx(loss_u, abs=1e-4)
    assert grads_p.keys() == grads_u.keys() and len(grads_p) > 0
    for name in grads_p:
        assert torch.allclose(grads_p[name], grads_u[name], atol=1e-4, rtol=1e-3), name
    assert any(g.abs().max() > 1e-6 for g in grads_p.values())


def test_listwise_loss_is_the_softmax_over_a_groups_log_odds(lm):
    groups = [PromptGroup(PREFIX, TAILS, (False, True, False, False))]
    rows, yes_no = rows_for(lm, groups)
    batch = to_device(PackedCollator(lm.tokenizer.pad_token_id)(rows), lm.device)
    with torch.inference_mode():
        listwise = packed_loss(lm.model, batch, "listwise", yes_no).item()
        # the same from each tail's own unpacked prompt
        alone_rows, _ = rows_for(lm, groups, packed=False)
        alone = to_device(PackedCollator(lm.tokenizer.pad_token_id)(alone_rows), lm.device)
        logits = lm.model(
            input_ids=alone["input_ids"],
            attention_mask=alone["attention_mask"],
            position_ids=alone["position_ids"],
        ).logits[:, -1, list(yes_no)]
    log_odds = (logits[:, 0] - logits[:, 1]).double()
    expected = -torch.log_softmax(log_odds, 0)[1].item()
    assert listwise == pytest.approx(expected, abs=1e-4)


def test_lora_gradients_stay_finite_under_long_left_padding(session_cache):
    # bf16 is what a GPU trains in (fused SDPA kernels); on a CPU without bf16 units
    # its backward pass takes minutes, so the CPU run checks the same path in float32
    dtype = "bfloat16" if DEVICE != "cpu" else "float32"
    bf16 = load_model(dtype=dtype, device=DEVICE, cache_dir=session_cache)
    longish = "The user watched: " + "; ".join(f"Film {i} (1995)" for i in range(28)) + SHORT
    groups = [single(longish, True)] + [single(SHORT, i % 2 == 0) for i in range(3)]
    rows, _ = rows_for(bf16, groups)
    batch = to_device(PackedCollator(bf16.tokenizer.pad_token_id, bf16.dtype)(rows), bf16.device)
    assert int((batch["input_ids"][1] == bf16.tokenizer.pad_token_id).sum()) > 128
    model = lora_model(bf16)
    model.train()
    loss = packed_loss(model, batch)
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert torch.isfinite(loss)
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)


TWO = [single(SHORT, True), single(LONG, False)]


def test_checkpoint_selection_keeps_the_best_validated_epoch(lm, tmp_path):
    from peft.utils import get_peft_model_state_dict
    from safetensors.torch import load_file

    from harness.llm.sft import SFTSettings, train_lora

    scores = iter([0.5, 0.2])  # epoch 1 validates better than epoch 2
    seen = []

    def validate(model):
        seen.append({k: v.clone() for k, v in get_peft_model_state_dict(model).items()})
        return {"recall@3": next(scores), "ndcg@10": 0.0}

    settings = SFTSettings(epochs=2, batch_size=2, lr=1e-3)
    model, report = train_lora(lm, TWO, settings, tmp_path, validate=validate, progress=False)
    assert [v["recall@3"] for v in report.validation] == [0.5, 0.2]
    assert all("ndcg@10" in v and v["train_loss"] is not None for v in report.validation)
    final = get_peft_model_state_dict(model)
    saved = load_file(tmp_path / "adapter" / "adapter_model.safetensors")
    assert not all(torch.equal(seen[0][k], seen[1][k]) for k in seen[0])  # epoch 2 moved
    for key, value in seen[0].items():
        assert torch.equal(final[key].cpu(), value.cpu())
        assert torch.equal(saved[key].cpu(), value.cpu())


def test_without_validation_the_last_epoch_is_kept(lm, tmp_path):
    from peft.utils import get_peft_model_state_dict

    from harness.llm.sft import SFTSettings, train_lora

    settings = SFTSettings(epochs=2, batch_size=2, lr=1e-3)
    model, report = train_lora(lm, TWO, settings, tmp_path, validate=None, progress=False)
    assert [v["epoch"] for v in report.validation] == [1, 2]
    assert all(torch.isfinite(v).all() for v in get_peft_model_state_dict(model).values())


def test_full_text_loss_trains_on_the_prompt_too(lm, tmp_path):
    from harness.llm.sft import SFTSettings, train_lora

    losses = {}
    for loss_on in ("answer", "full"):
        settings = SFTSettings(epochs=1, batch_size=2, loss_on=loss_on, packing=False)
        _, report = train_lora(lm, TWO, settings, tmp_path / loss_on, progress=False)
        losses[loss_on] = report.first_loss
    assert all(loss is not None and loss > 0 for loss in losses.values())
    # the prompt's own tokens are far easier to predict than a yes/no the model never saw
    assert losses["full"] != pytest.approx(losses["answer"], rel=0.05)
    with pytest.raises(ValueError, match="loss_on=full needs packing=false"):
        SFTSettings(loss_on="full")


def test_gradient_checkpointing_trains_the_same_adapter(lm, tmp_path):
    from peft.utils import get_peft_model_state_dict

    from harness.llm.sft import SFTSettings, train_lora

    states, losses = {}, {}
    for checkpointing in (False, True):
        settings = SFTSettings(
            epochs=1, batch_size=2, lr=1e-3, gradient_checkpointing=checkpointing
        )
        model, report = train_lora(lm, TWO, settings, tmp_path / str(checkpointing), progress=False)
        base = model.base_model.model
        enabled = getattr(base, "is_activation_checkpointing", None)
        if enabled is None:  # transformers before 5.x
            enabled = base.is_gradient_checkpointing
        assert enabled == checkpointing
        states[checkpointing] = get_peft_model_state_dict(model)
        losses[checkpointing] = report.first_loss
    assert losses[True] == pytest.approx(losses[False], rel=1e-5)
    for key, value in states[False].items():
        assert torch.allclose(states[True][key], value, rtol=1e-4, atol=1e-6), key


def test_training_report_and_log(lm, tmp_path):
    import json
    import math

    from harness.llm.sft import SFTSettings, final_loss, train_lora

    groups = [PromptGroup(PREFIX, TAILS, (True, False, False, False))] * 3
    settings = SFTSettings(epochs=2, batch_size=1, lr=1e-3, warmup=0.25)
    _, report = train_lora(lm, groups, settings, tmp_path, progress=False)
    lines = [json.loads(x) for x in (tmp_path / "training_log.jsonl").read_text().splitlines()]
    assert [e["step"] for e in lines] == list(range(1, 7)) and report.steps == 6
    assert [e["examples"] for e in lines] == [4, 8, 12, 16, 20, 24] and report.examples == 24
    lrs = [e["lr"] for e in lines]
    assert lrs[0] < lrs[1] and lrs[1] > lrs[-1]  # warmup, then decay
    assert report.final_loss == final_loss([e["loss"] for e in lines]) == lines[-1]["loss"]
    p = 0.25  # 1 positive : 3 negatives
    assert report.prior_loss == pytest.approx(-(p * math.log(p) + (1 - p) * math.log(1 - p)))
    summary = report.summary()
    assert summary["train_tokens"] > 0 and summary["train_tokens_per_s"] > 0
    assert final_loss([1.0] * 9 + [0.0] * 11) == pytest.approx(0.0)


def test_pad_id_zero_is_a_real_id_for_every_batch_builder(lm, tmp_path):
    """Scoring, generation, embedding and SFT pad with one rule: the pad token, else the end
    token, else 0; a vocabulary that pads with id 0 pads with 0 (SFT once read 0 as
    missing and padded with the end token)."""
    from types import SimpleNamespace

    from harness.llm.tokens import pad_token_id

    assert pad_token_id(SimpleNamespace(pad_token_id=0, eos_token_id=7)) == 0
    assert pad_token_id(SimpleNamespace(pad_token_id=None, eos_token_id=7)) == 7
    assert pad_token_id(SimpleNamespace(pad_token_id=None, eos_token_id=None)) == 0

    rows, _ = rows_for(lm, [single(SHORT, True), single(LONG, False)])
    zero = PackedCollator(pad_token_id(SimpleNamespace(pad_token_id=0, eos_token_id=7)))(rows)
    short = int((zero["segments"][0] == -1).sum())  # the shorter row's left padding
    assert short > 0 and zero["input_ids"][0, :short].tolist() == [0] * short


def test_a_run_crashed_before_its_last_validation_resumes_and_keeps_the_best_epoch(lm, tmp_path):
    """Epoch 1 validates best; the run dies in epoch 2's validation, after its checkpoint.
    The rerun trains no step, validates epoch 2 and still returns epoch 1's adapter: the
    record read back gives it the earlier validation, best score and best adapter."""
    from peft.utils import get_peft_model_state_dict

    from harness.llm.sft import SFTSettings, train_lora

    seen, scores = [], {1: 0.5, 3: 0.2}  # the second call (epoch 2's first) dies

    def validate(model):
        seen.append({k: v.clone() for k, v in get_peft_model_state_dict(model).items()})
        if len(seen) == 2:
            raise RuntimeError("killed in epoch 2's validation")
        return {"recall@3": scores[len(seen)], "ndcg@10": 0.0}

    settings = SFTSettings(epochs=2, batch_size=2, lr=1e-3)  # TWO: one step per epoch
    folders = {"output_dir": tmp_path / "row", "checkpoint_dir": tmp_path / "trainer"}
    with pytest.raises(RuntimeError, match="killed"):
        train_lora(
            lm, TWO, settings, validate=validate, progress=False, checkpoint_steps=1, **folders
        )
    assert (tmp_path / "trainer" / "checkpoint-2").is_dir()
    model, report = train_lora(
        lm, TWO, settings, validate=validate, progress=False, checkpoint_steps=1, **folders
    )
    assert len(seen) == 3 and all(torch.equal(seen[1][k], seen[2][k]) for k in seen[1])
    assert not all(torch.equal(seen[0][k], seen[2][k]) for k in seen[0])  # epoch 2 moved
    assert [(v["epoch"], v["recall@3"]) for v in report.validation] == [(1, 0.5), (2, 0.2)]
    assert [e["step"] for e in report.log] == [1, 2] and report.steps == 2
    final = get_peft_model_state_dict(model)
    for key, value in seen[0].items():
        assert torch.equal(final[key].cpu(), value.cpu()), key


def test_the_product_options_take_the_sft_settings_defaults():
    """LLMOptions' SFT options default to SFTSettings' fields, and every option that is also
    a setting is passed on, so the two cannot drift apart again (they once did: lr 1e-3
    against 1e-4, batch size 2 against 8)."""
    import dataclasses

    from harness.llm.sft import SFTSettings
    from harness.recommenders.llm import SFT_OPTIONS, LLMOptions

    settings = {f.name: f.default for f in dataclasses.fields(SFTSettings)}
    options = {f.name: f.default for f in dataclasses.fields(LLMOptions)}
    assert set(SFT_OPTIONS) == settings.keys() & options.keys()
    assert {name: options[name] for name in SFT_OPTIONS} == {
        name: settings[name] for name in SFT_OPTIONS
    }
    assert LLMOptions().sft_settings(seed=7) == SFTSettings(seed=7)
    # what the committed boards were trained with
    assert (SFTSettings().lr, SFTSettings().batch_size) == (1e-3, 2)


@pytest.mark.parametrize(
    "bad",
    [
        {"epochs": 0},
        {"batch_size": 0},
        {"grad_accum": 0},
        {"lora_r": 0},
        {"lora_alpha": 0},
        {"lora_dropout": 1.0},
        {"lr": 0.0},
        {"warmup": 1.0},
        {"loss": "listwise", "packing": False},
        {"loss_on": "full"},
    ],
)
def test_an_sft_option_fails_the_check_of_its_setting(bad):
    from harness.llm.sft import SFTSettings
    from harness.recommenders.llm import LLMOptions

    with pytest.raises(ValueError) as setting:
        SFTSettings(**bad)
    with pytest.raises(ValueError) as option:
        LLMOptions(**bad)
    assert str(option.value) == str(setting.value)
