"""LoRA supervised fine-tuning on (prompt, yes/no answer) pairs with peft and the HF Trainer.

Using the Trainer means ``accelerate launch`` / ``torchrun`` (data parallel)
and DeepSpeed work without code changes. The prompt is tokenized exactly as
the scorer tokenizes it (:func:`harness.llm.tokens.encode` on the whole
text), so training and scoring see the same tokens.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch

from harness.llm.loading import LoadedModel
from harness.llm.tokens import encode

log = logging.getLogger(__name__)
IGNORE = -100


@dataclass(frozen=True)
class SFTSettings:
    """The paper's defaults: LoRA r=8, alpha=16, dropout 0.05, lr 1e-4."""

    epochs: int = 1
    lr: float = 1e-4
    batch_size: int = 8
    grad_accum: int = 1
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    loss_on: Literal["answer", "full"] = "answer"
    gradient_checkpointing: bool = False
    seed: int = 0


def attention_projections(model: torch.nn.Module) -> list[str]:
    """Names of the linear layers inside the model's attention blocks, found from its structure.

    An attention block is a module holding the query/key/value projections;
    we take every ``nn.Linear`` child of the modules whose class is an
    attention implementation, whatever the architecture calls them.
    """
    names: set[str] = set()
    for module in model.modules():
        if not type(module).__name__.lower().endswith("attention"):
            continue
        for child_name, child in module.named_children():
            if isinstance(child, torch.nn.Linear):
                names.add(child_name)
    if not names:
        raise ValueError(f"found no attention projections in {type(model).__name__}")
    return sorted(names)


def tokenize_examples(
    tokenizer, prompts: Sequence[str], answer_ids: Sequence[int], loss_on: str
) -> list[dict[str, list[int]]]:
    """input_ids = prompt tokens + answer token; labels mask all but the answer (or nothing)."""
    rows = encode(tokenizer, list(prompts))
    examples = []
    for ids, answer in zip(rows, answer_ids):
        input_ids = ids + [int(answer)]
        labels = list(input_ids) if loss_on == "full" else [IGNORE] * len(ids) + [int(answer)]
        examples.append({"input_ids": input_ids, "labels": labels})
    return examples


class _PadCollator:
    """Left-pad a batch to its own longest row (never to a fixed length).

    Left padding puts every answer token in the last column, so the answer
    loss needs the output head at one position only; positions are counted
    from each row's first real token. The attention mask is 4D: causal over
    the real tokens, and each padding position sees itself. Without that, a
    padding position's softmax row is empty, and on CUDA the fused SDPA
    kernels return NaN gradients for long runs of such rows (seen on an H100).
    """

    def __init__(self, pad_id: int, dtype: torch.dtype = torch.float32):
        self.pad_id = pad_id
        self.dtype = dtype

    def __call__(self, batch: list[dict[str, list[int]]]) -> dict[str, torch.Tensor]:
        width = max(len(b["input_ids"]) for b in batch)
        ids, labels, real = [], [], []
        for b in batch:
            pad = width - len(b["input_ids"])
            ids.append([self.pad_id] * pad + b["input_ids"])
            labels.append([IGNORE] * pad + b["labels"])
            real.append([False] * pad + [True] * len(b["input_ids"]))
        is_real = torch.tensor(real)
        return {
            "input_ids": torch.tensor(ids),
            "labels": torch.tensor(labels),
            "attention_mask": self.attention_mask(is_real),
            "position_ids": (is_real.cumsum(-1) - 1).clamp(min=0),
        }

    def attention_mask(self, is_real: torch.Tensor) -> torch.Tensor:
        """(rows, 1, width, width) additive mask: 0 where attention is allowed."""
        width = is_real.shape[1]
        causal = torch.ones(width, width, dtype=torch.bool).tril()
        allowed = causal[None] & is_real[:, None, :]
        allowed |= torch.eye(width, dtype=torch.bool)[None]
        mask = torch.zeros(allowed.shape, dtype=self.dtype)
        mask.masked_fill_(~allowed, torch.finfo(self.dtype).min)
        return mask[:, None]


def answer_loss(model: torch.nn.Module, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    """Cross entropy of the answer token only, from the logits of one position per row.

    ``logits_to_keep=2`` keeps the logits of the last two positions; the
    first of them predicts the answer (the last token). This skips the
    vocabulary-wide head at every other position, which is most of the
    memory of a full causal-LM loss.
    """
    out = model(
        input_ids=inputs["input_ids"],
        attention_mask=inputs["attention_mask"],
        position_ids=inputs["position_ids"],
        logits_to_keep=2,
    )
    logits = out.logits[:, 0, :].float()
    return torch.nn.functional.cross_entropy(logits, inputs["input_ids"][:, -1])


def _checkpointing_args(arguments_class, enabled: bool) -> dict:
    """Activation checkpointing under the name this transformers version uses (5.x renamed it)."""
    names = {f.name for f in dataclasses.fields(arguments_class)}
    name = (
        "activation_checkpointing"
        if "activation_checkpointing" in names
        else "gradient_checkpointing"
    )
    return {name: enabled, f"{name}_kwargs": {"use_reentrant": False}}


def fresh_model(lm: LoadedModel) -> torch.nn.Module:
    """A private copy of the weights to attach LoRA to: the shared model stays untouched."""
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(lm.path, dtype=lm.dtype).to(lm.device)


def train_lora(
    lm: LoadedModel,
    prompts: Sequence[str],
    answer_ids: Sequence[int],
    settings: SFTSettings,
    output_dir: Path,
    validate: Callable[[torch.nn.Module], float] | None = None,
    progress: bool = True,
) -> tuple[torch.nn.Module, list[dict]]:
    """Fine-tune LoRA adapters; keep the epoch with the best ``validate`` score.

    Returns the peft model (best adapter loaded) and a per-epoch history. The
    best adapter is saved in ``output_dir / "adapter"``.
    """
    from peft import LoraConfig, get_peft_model, set_peft_model_state_dict
    from peft.utils import get_peft_model_state_dict
    from transformers import Trainer, TrainerCallback, TrainingArguments

    torch.manual_seed(settings.seed)
    base = fresh_model(lm)
    config = LoraConfig(
        r=settings.lora_r,
        lora_alpha=settings.lora_alpha,
        lora_dropout=settings.lora_dropout,
        target_modules=attention_projections(base),
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(base, config)
    examples = tokenize_examples(lm.tokenizer, prompts, answer_ids, settings.loss_on)
    pad_id = lm.tokenizer.pad_token_id or lm.tokenizer.eos_token_id or 0
    output_dir.mkdir(parents=True, exist_ok=True)
    history: list[dict] = []
    best = {"score": -math.inf, "epoch": 0}

    class SelectOnValidation(TrainerCallback):
        def on_epoch_end(self, args, state, control, **kwargs):
            epoch = round(state.epoch or 0)
            loss = next((h["loss"] for h in reversed(state.log_history) if "loss" in h), None)
            # without a validation set the latest epoch is kept
            score = validate(model) if validate else None
            history.append({"epoch": epoch, "train_loss": loss, "validation": score})
            log.info("epoch %d: train loss %s, validation %s", epoch, loss, score)
            if score is None or score > best["score"]:
                best.update(score=-math.inf if score is None else score, epoch=epoch)
                model.save_pretrained(output_dir / "adapter")
                best["state"] = {
                    k: v.detach().clone() for k, v in get_peft_model_state_dict(model).items()
                }
            model.train()

    class StopOnNonFinite(TrainerCallback):
        """Fail at the first NaN/inf loss or gradient norm, not with garbage scores later."""

        def on_log(self, args, state, control, logs=None, **kwargs):
            for key in ("loss", "grad_norm"):
                value = (logs or {}).get(key)
                if value is not None and not math.isfinite(float(value)):
                    raise FloatingPointError(
                        f"LoRA training diverged at step {state.global_step}: {key} is {value} "
                        "(try a lower lr)"
                    )

    use_cpu = lm.device.type == "cpu"
    args = TrainingArguments(
        output_dir=str(output_dir / "trainer"),
        num_train_epochs=settings.epochs,
        learning_rate=settings.lr,
        per_device_train_batch_size=settings.batch_size,
        gradient_accumulation_steps=settings.grad_accum,
        lr_scheduler_type="constant",
        warmup_steps=0,
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        seed=settings.seed,
        data_seed=settings.seed,
        use_cpu=use_cpu,
        bf16=lm.dtype == torch.bfloat16 and not use_cpu,
        disable_tqdm=not progress,
        remove_unused_columns=False,
        **_checkpointing_args(TrainingArguments, settings.gradient_checkpointing),
        dataloader_num_workers=0,
    )

    class AnswerTrainer(Trainer):
        def compute_loss(self, model, inputs, return_outputs=False, **kwargs):
            if settings.loss_on == "full":
                return super().compute_loss(model, inputs, return_outputs, **kwargs)
            loss = answer_loss(model, inputs)
            return (loss, None) if return_outputs else loss

    trainer = AnswerTrainer(
        model=model,
        args=args,
        train_dataset=examples,
        data_collator=_PadCollator(pad_id, lm.dtype),
        callbacks=[StopOnNonFinite(), SelectOnValidation()],
    )
    trainer.train()
    if "state" in best:
        set_peft_model_state_dict(model, best.pop("state"))
    model.eval()
    return model, history
