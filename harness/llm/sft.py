"""LoRA supervised fine-tuning on answer tokens with peft and the HF Trainer.

The caller gives the answers and the targets: yes/no prompt groups
(:class:`~harness.llm.packing.PromptGroup`, the pointwise and listwise
losses) or N-way choice prompts (:class:`~harness.llm.packing.ChoiceExample`
with N label words, the ``choice`` loss). Training rows are shared-prefix
packed (:mod:`harness.llm.packing`): a prompt prefix once, then its
candidate tails. The schedule warms up and then
decays; every step's loss, learning rate and examples seen go to a training
log, and the run's summary (first, last and final loss against the label
prior's loss, tokens per second) comes back as a :class:`TrainingReport`, so
anyone can see whether a row learned. The prompt is tokenized exactly as the
scorer tokenizes it, so training and scoring see the same tokens.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from peft import LoraConfig, get_peft_model, set_peft_model_state_dict
from peft.utils import get_peft_model_state_dict
from transformers import Trainer, TrainerCallback, TrainingArguments

from harness import data_parallel
from harness.errors import HarnessError
from harness.faults import kill_point
from harness.llm.loading import LoadedModel
from harness.llm.packing import (
    ChoiceExample,
    Loss,
    PackedCollator,
    PromptGroup,
    packed_loss,
    row_tokens,
    tokenize_choices,
    tokenize_groups,
)
from harness.llm.resume import ADAPTER_FILE, TrainingRecord, last_complete_checkpoint
from harness.llm.sft_settings import SFTSettings
from harness.llm.tokens import label_token_ids, pad_token_id
from harness.metrics import SELECTION

__all__ = ["ADAPTER_FILE", "SFTSettings", "TrainingReport", "train_lora"]

log = logging.getLogger(__name__)
CHECKPOINT_STEPS_ENV = "HARNESS_CHECKPOINT_STEPS"
CHECKPOINT_SECONDS_ENV = "HARNESS_CHECKPOINT_SECONDS"


@dataclass
class TrainingReport:
    """What a trained row records, so anyone can see whether it learned.

    ``final_loss`` is the mean loss over the last tenth of the steps;
    ``prior_loss`` is the loss of predicting the label prior alone (the
    binary entropy of the positive rate for the pointwise loss, ln of the
    group size for the listwise one, the entropy of the right labels'
    frequencies for the choice loss). A final loss not below it means the row
    learned nothing beyond how often each answer is right.
    """

    steps: int
    examples: int
    epochs: int
    tokens: int
    seconds: float
    first_loss: float | None
    last_loss: float | None
    final_loss: float | None
    prior_loss: float
    log: list[dict]
    validation: list[dict]
    answer_tokens: tuple[int, ...] | None = None  # the token ids the loss was taken on

    @property
    def learned(self) -> bool:
        return self.final_loss is not None and self.final_loss < self.prior_loss

    @property
    def validation_seconds(self) -> float:
        """Seconds spent validating epochs inside training (not training throughput)."""
        return sum(e.get("validation_s", 0.0) for e in self.validation)

    @property
    def training_seconds(self) -> float:
        """Seconds of training steps: the whole ``seconds`` less the validation."""
        return max(self.seconds - self.validation_seconds, 0.0)

    def summary(self) -> dict:
        """The report without the per-step log (for results.json's row costs); tokens per
        second count training time only, without the epochs' validation passes."""
        trained = self.training_seconds
        return {
            "train_examples": self.examples,
            "train_steps": self.steps,
            "train_epochs": self.epochs,
            "train_tokens": self.tokens,
            "train_tokens_per_s": self.tokens / trained if trained else 0.0,
            "train_loss_first": self.first_loss,
            "train_loss_last": self.last_loss,
            "train_loss_final": self.final_loss,
            "train_loss_final_se": final_loss_se([e["loss"] for e in self.log if "loss" in e]),
            "train_loss_prior": self.prior_loss,
        }


def prior_loss(rows: Sequence[dict], loss: Loss) -> float:
    """The loss of a model that knows only the label prior (see :class:`TrainingReport`)."""
    if loss == "listwise":
        return sum(math.log(len(r["tails"])) for r in rows) / len(rows)
    if loss == "choice":
        counts = Counter(answer for r in rows for answer in r["answers"])
        total = sum(counts.values())
        return -sum(n / total * math.log(n / total) for n in counts.values())
    labels = [label for r in rows for label in r["labels"]]
    p = sum(labels) / len(labels)
    if p in (0.0, 1.0):
        return 0.0
    return -(p * math.log(p) + (1 - p) * math.log(1 - p))


def _last_tenth(losses: Sequence[float]) -> Sequence[float]:
    return losses[-max(1, math.ceil(len(losses) / 10)) :]


def final_loss(losses: Sequence[float]) -> float | None:
    """Mean loss over the last tenth of the steps (at least one step)."""
    if not losses:
        return None
    tail = _last_tenth(losses)
    return sum(tail) / len(tail)


def final_loss_se(losses: Sequence[float]) -> float | None:
    """Standard error of :func:`final_loss` over the same steps (None under two steps), so
    a final loss a hair below the prior's can be read as the tie it is."""
    tail = _last_tenth(losses)
    if len(tail) < 2:
        return None
    return statistics.stdev(tail) / math.sqrt(len(tail))


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

    from harness.llm.attention import use_folded_gqa

    model = AutoModelForCausalLM.from_pretrained(lm.path, dtype=lm.dtype).to(lm.device)
    use_folded_gqa(model)  # the attention the shared model scores with
    return model


def _per_process_batch(batch_size: int) -> int:
    """Under DDP each of N processes takes batch_size / N rows, so the global batch is the same."""
    size = data_parallel.world().size
    if batch_size % size:
        raise HarnessError(
            f"batch_size {batch_size} does not divide among {size} processes; "
            "choose a multiple of the process count"
        )
    return batch_size // size


@dataclass(frozen=True)
class Steps:
    """How the training rows fall into optimizer steps, and the examples seen by each step.

    Examples are candidate tails, counted over the rows in their given order: the Trainer
    draws them shuffled, so inside an epoch a step's count is that of as many rows.
    """

    tails: tuple[int, ...]  # the examples of each training row
    per_step: int  # rows per optimizer step: the batch size times the gradient accumulation
    epochs: int

    @property
    def per_epoch(self) -> int:
        return math.ceil(len(self.tails) / self.per_step)

    @property
    def total(self) -> int:
        return self.per_epoch * self.epochs

    @property
    def examples(self) -> int:
        """Examples in one epoch."""
        return sum(self.tails)

    def examples_seen(self, step: int) -> int:
        epoch, within = divmod(step, self.per_epoch)
        if within == 0 and epoch:
            return epoch * self.examples
        done = min(within * self.per_step, len(self.tails))
        return epoch * self.examples + sum(self.tails[:done])

    def log_entry(self, step: int, logs: dict) -> dict:
        """One training log line: the step's loss, learning rate and examples seen."""
        return {
            "step": step,
            "loss": float(logs["loss"]),
            "lr": float(logs.get("learning_rate", 0.0)),
            "examples": self.examples_seen(step),
        }


def _check_finite(logs: dict, step: int) -> None:
    """Stop at the first NaN/inf loss or gradient norm: the rest of the run would be noise."""
    for key in ("loss", "grad_norm"):
        value = logs.get(key)
        if value is not None and not math.isfinite(float(value)):
            raise FloatingPointError(
                f"LoRA training diverged at step {step}: {key} is {value} (try a lower lr)"
            )


class LogSteps(TrainerCallback):
    """Every logged step's loss and lr into the record's log; fail at the first NaN/inf."""

    def __init__(self, record: TrainingRecord, steps: Steps):
        self.record, self.steps = record, steps

    def on_train_begin(self, args, state, control, **kwargs):
        # a resumed run: the steps before the checkpoint come from its trainer state
        history = [e for e in state.log_history if "loss" in e]
        self.record.log = [self.steps.log_entry(e["step"], e) for e in history]

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs or {}
        _check_finite(logs, state.global_step)
        if "loss" in logs:
            self.record.log.append(self.steps.log_entry(state.global_step, logs))
            kill_point(f"train-step:{state.global_step}")


class SelectOnValidation(TrainerCallback):
    """Validate each epoch's adapter and keep the best; its record survives a kill.

    Must come after :class:`LogSteps`: an epoch's entry reads its steps' losses.
    """

    def __init__(
        self,
        record: TrainingRecord,
        model: torch.nn.Module,
        validate: Callable[[torch.nn.Module], dict[str, float]] | None,
        steps_per_epoch: int,
    ):
        self.record, self.model, self.validate = record, model, validate
        self.steps_per_epoch = steps_per_epoch

    def on_train_begin(self, args, state, control, **kwargs):
        if state.global_step == 0:
            return
        self.record.restore()
        if state.global_step // self.steps_per_epoch > len(self.record.validation):
            # killed after the epoch's last checkpoint and before its validation
            self.on_epoch_end(args, state, control)

    def on_epoch_end(self, args, state, control, **kwargs):
        epoch = len(self.record.validation) + 1
        kill_point(f"validate:{epoch}")
        validating = time.perf_counter()
        scores = self.validate(self.model) if self.validate else None
        spent = time.perf_counter() - validating
        recent = [e["loss"] for e in self.record.log[-self.steps_per_epoch :]]
        entry = {
            "epoch": epoch,
            "train_loss": final_loss(recent),
            **(scores or {}),
            "validation_s": spent,
        }
        if scores is not None:  # one epoch: nothing to select, nothing validated
            log.info("epoch %d: validation %s", epoch, scores)
        # without a validation set the latest epoch is kept
        score = scores[SELECTION] if scores else None
        self.record.add_epoch(entry, score, lambda: _adapter_copy(self.model))
        self.model.train()


def _adapter_copy(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in get_peft_model_state_dict(model).items()}


class RecordElapsed(TrainerCallback):
    """Training seconds up to each checkpoint, so a resumed run reports the whole time."""

    def __init__(self, record: TrainingRecord):
        self.record = record

    def on_save(self, args, state, control, **kwargs):
        self.record.save_elapsed(state.global_step)


class SaveByTime(TrainerCallback):
    """Ask for a checkpoint at the first step end ``every_s`` seconds after the last one."""

    def __init__(self, every_s: float):
        self.every_s = every_s

    def on_train_begin(self, args, state, control, **kwargs):
        self.last = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        if time.perf_counter() - self.last >= self.every_s:
            control.should_save = True

    def on_save(self, args, state, control, **kwargs):
        self.last = time.perf_counter()


class PackedTrainer(Trainer):
    """The HF Trainer with the loss of packed rows (:func:`~harness.llm.packing.packed_loss`)."""

    def __init__(self, *args, loss: Loss, answer_ids: Sequence[int], **kwargs):
        self.row_loss, self.answer_ids = loss, answer_ids
        super().__init__(*args, **kwargs)

    def compute_loss(self, model, inputs, return_outputs=False, **kwargs):
        loss = packed_loss(model, inputs, self.row_loss, self.answer_ids)
        return (loss, None) if return_outputs else loss


def _lora_model(lm: LoadedModel, settings: SFTSettings) -> torch.nn.Module:
    """A private copy of the weights with fresh LoRA adapters on its attention projections."""
    torch.manual_seed(settings.seed)
    base = fresh_model(lm)
    config = LoraConfig(
        r=settings.lora_r,
        lora_alpha=settings.lora_alpha,
        lora_dropout=settings.lora_dropout,
        target_modules=attention_projections(base),
        task_type="CAUSAL_LM",
    )
    return get_peft_model(base, config)


def _training_rows(
    lm: LoadedModel,
    groups: Sequence[PromptGroup] | Sequence[ChoiceExample],
    settings: SFTSettings,
    answer_ids: tuple[int, ...],
) -> list[dict]:
    """The packed training rows, tokenized as the scorer tokenizes its prompts."""
    if settings.loss == "choice":
        if not all(isinstance(g, ChoiceExample) for g in groups):
            raise TypeError("loss=choice trains on ChoiceExample prompts")
        return tokenize_choices(lm.tokenizer, groups, answer_ids)
    if len(answer_ids) != 2 or not all(isinstance(g, PromptGroup) for g in groups):
        raise TypeError(f"loss={settings.loss} trains on PromptGroups with two answers")
    return tokenize_groups(lm.tokenizer, groups, answer_ids, packed=settings.packing)


def _checkpoint_steps(given: int | None) -> int | None:
    """Steps between checkpoints: as given, else ``$HARNESS_CHECKPOINT_STEPS``, else by time."""
    if given is None and os.environ.get(CHECKPOINT_STEPS_ENV):
        return int(os.environ[CHECKPOINT_STEPS_ENV])
    return given


def _saving(checkpoint_dir: Path | None, output_dir: Path, every: int | None) -> dict:
    """The Trainer arguments for where and when it checkpoints (``every`` None: by time,
    each save asked for by :class:`SaveByTime`)."""
    return {
        "output_dir": str(checkpoint_dir or output_dir / "trainer"),
        "save_strategy": "steps" if checkpoint_dir else "no",
        "save_steps": every or 10**9,
        "save_total_limit": 1,
    }


def _arguments(
    lm: LoadedModel, settings: SFTSettings, steps: Steps, progress: bool, **saving
) -> TrainingArguments:
    """The Trainer's arguments: the settings' schedule, and knobs chosen for the device."""
    use_cpu = lm.device.type == "cpu"
    log_steps = settings.log_steps or (1 if use_cpu else 10)
    workers = (0 if use_cpu else 2) if settings.loader_workers is None else settings.loader_workers
    return TrainingArguments(
        num_train_epochs=settings.epochs,
        learning_rate=settings.lr,
        per_device_train_batch_size=_per_process_batch(settings.batch_size),
        gradient_accumulation_steps=settings.grad_accum,
        lr_scheduler_type=settings.schedule,
        warmup_steps=math.ceil(settings.warmup * steps.total),
        logging_steps=log_steps,
        report_to=[],
        seed=settings.seed,
        data_seed=settings.seed,
        use_cpu=use_cpu,
        bf16=lm.dtype == torch.bfloat16 and not use_cpu,
        disable_tqdm=not progress,
        remove_unused_columns=False,
        **_checkpointing_args(TrainingArguments, settings.gradient_checkpointing),
        # on a GPU, rows are collated in two worker processes while the device computes
        dataloader_num_workers=workers,
        dataloader_pin_memory=not use_cpu,
        **saving,
    )


def _collator(lm: LoadedModel, settings: SFTSettings) -> PackedCollator:
    """Pads and masks rows; on a GPU the block mask is built there (``mask_on_device``)."""
    on_device = (
        lm.device.type != "cpu" if settings.mask_on_device is None else settings.mask_on_device
    )
    return PackedCollator(
        pad_token_id(lm.tokenizer),  # 0 is a real id, not "missing"
        lm.dtype,
        full_text=settings.loss_on == "full",
        build_mask=not on_device,
    )


def _callbacks(
    record: TrainingRecord,
    model: torch.nn.Module,
    validate: Callable[[torch.nn.Module], dict[str, float]] | None,
    steps: Steps,
    every: int | None,
) -> list[TrainerCallback]:
    """The step log, epoch selection and, with a checkpoint folder, resume bookkeeping."""
    callbacks = [
        LogSteps(record, steps),
        SelectOnValidation(record, model, validate, steps.per_epoch),
    ]
    if record.folder is not None:
        callbacks.append(RecordElapsed(record))
        if not every:
            callbacks.append(SaveByTime(float(os.environ.get(CHECKPOINT_SECONDS_ENV, "300"))))
    return callbacks


def train_lora(
    lm: LoadedModel,
    groups: Sequence[PromptGroup] | Sequence[ChoiceExample],
    settings: SFTSettings,
    output_dir: Path,
    validate: Callable[[torch.nn.Module], dict[str, float]] | None = None,
    progress: bool = True,
    checkpoint_dir: Path | None = None,
    checkpoint_steps: int | None = None,
    answers: Sequence[str] = ("yes", "no"),
) -> tuple[torch.nn.Module, TrainingReport]:
    """Fine-tune LoRA adapters; keep the epoch with the best validation :data:`~harness.metrics.SELECTION`.

    ``answers`` are the answer words, each one token: the positive and the
    negative word for yes/no prompt groups, the N labels for choice examples
    (``settings.loss == "choice"``, each example's ``answer`` indexing them).
    The caller scores with the same words, so training and scoring read the
    same logits (the report records their token ids).

    Returns the peft model (best adapter loaded) and the training report; the
    best adapter is saved in ``output_dir / "adapter"`` and the per-step log in
    ``output_dir / "training_log.jsonl"``. With ``checkpoint_dir``, a Trainer
    checkpoint (adapter, optimizer, scheduler, RNG states, step log) is saved
    there every ``checkpoint_steps`` steps (``$HARNESS_CHECKPOINT_STEPS``) or,
    by default, after the first step that ends ``$HARNESS_CHECKPOINT_SECONDS``
    (default 300) after the last save, so a fast GPU does not stop to save
    every few seconds; a call that finds one resumes from it: a killed run,
    rerun, trains the same steps to the same adapter.
    """
    if not groups:
        raise ValueError("no training examples")
    model = _lora_model(lm, settings)
    answer_ids = label_token_ids(lm.tokenizer, answers)
    rows = _training_rows(lm, groups, settings, answer_ids)
    output_dir.mkdir(parents=True, exist_ok=True)
    # under DDP, rank 0 alone writes the work folder
    record = TrainingRecord.open(checkpoint_dir, writer=data_parallel.world().main)
    finished = record.finished()
    if finished is not None:
        state, saved = finished
        where = checkpoint_dir / "finished"
        log.info("LoRA training already finished in %s: reusing its adapter", where)
        set_peft_model_state_dict(model, state)
        return _finish(model, TrainingReport(**saved), output_dir)
    resume = last_complete_checkpoint(checkpoint_dir) if checkpoint_dir else None
    steps = Steps(
        tuple(len(r["tails"]) for r in rows),
        settings.batch_size * settings.grad_accum,
        settings.epochs,
    )
    every = _checkpoint_steps(checkpoint_steps)
    trainer = PackedTrainer(
        model=model,
        args=_arguments(
            lm, settings, steps, progress, **_saving(checkpoint_dir, output_dir, every)
        ),
        train_dataset=rows,
        data_collator=_collator(lm, settings),
        callbacks=_callbacks(record, model, validate, steps, every),
        loss=settings.loss,
        answer_ids=answer_ids,
    )
    if resume is not None:
        log.info("resuming LoRA training from %s", resume)
    record.start(resume)
    trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    seconds = record.seconds()
    if record.best_state is not None:
        set_peft_model_state_dict(model, record.best_state)
    report = _report(record, rows, settings, trainer.state.global_step, seconds, answer_ids)
    record.finish(get_peft_model_state_dict(model), dataclasses.asdict(report))
    return _finish(model, report, output_dir)


def _report(
    record: TrainingRecord,
    rows: Sequence[dict],
    settings: SFTSettings,
    steps: int,
    seconds: float,
    answer_ids: tuple[int, ...],
) -> TrainingReport:
    """The run's report from its record: the step log, the validations and the losses."""
    losses = [e["loss"] for e in record.log]
    return TrainingReport(
        steps=steps,
        examples=sum(len(r["tails"]) for r in rows) * settings.epochs,
        epochs=settings.epochs,
        tokens=sum(map(row_tokens, rows)) * settings.epochs,
        seconds=seconds,
        first_loss=losses[0] if losses else None,
        last_loss=losses[-1] if losses else None,
        final_loss=final_loss(losses),
        prior_loss=prior_loss(rows, settings.loss),
        log=record.log,
        validation=record.validation,
        answer_tokens=answer_ids,
    )


def _finish(
    model: torch.nn.Module, report: TrainingReport, output_dir: Path
) -> tuple[torch.nn.Module, TrainingReport]:
    """Save the adapter and the step log into the row's folder; warn if nothing was learned."""
    model.save_pretrained(output_dir / "adapter")
    model.eval()
    with (output_dir / "training_log.jsonl").open("w") as handle:
        for entry in report.log:
            handle.write(json.dumps(entry) + "\n")
    if not report.learned:
        log.warning(
            "final training loss %.4f is not below the label prior's %.4f: the row learned "
            "nothing beyond how often each answer is right",
            report.final_loss or math.nan,
            report.prior_loss,
        )
    return model, report
