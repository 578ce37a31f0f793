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
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from safetensors.torch import load_file, save_file

from harness import data_parallel
from harness.atomic import write_json_atomic
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
from harness.llm.resume import last_complete_checkpoint
from harness.metrics import SELECTION

log = logging.getLogger(__name__)
CHECKPOINT_STEPS_ENV = "HARNESS_CHECKPOINT_STEPS"
CHECKPOINT_SECONDS_ENV = "HARNESS_CHECKPOINT_SECONDS"
ADAPTER_FILE = "adapter_model.safetensors"


@dataclass(frozen=True)
class SFTSettings:
    """LoRA r=8, alpha=16, dropout 0.05 (the paper's); ``batch_size`` counts packed rows.

    The schedule warms up linearly over ``warmup`` (a fraction of all steps),
    then decays (``schedule``: any HF scheduler name, e.g. cosine, linear).
    """

    epochs: int = 1
    lr: float = 1e-4
    batch_size: int = 8
    grad_accum: int = 1
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    loss_on: Literal["answer", "full"] = "answer"
    loss: Loss = "pointwise"
    packing: bool = True
    schedule: str = "cosine"
    warmup: float = 0.05
    gradient_checkpointing: bool = False
    seed: int = 0
    # steps per loss log entry (each a mean over its steps); None: 1 on a CPU, where a step
    # is slow anyway, 10 on a GPU, where reading the loss back every step stalls the queue
    log_steps: int | None = None
    # the block mask built on the device from segment ids (None: on a GPU) rather than in
    # the collator on the CPU, and rows collated in worker processes (None: 2 on a GPU)
    mask_on_device: bool | None = None
    loader_workers: int | None = None

    def __post_init__(self):
        if self.loss == "listwise" and not self.packing:
            raise ValueError("loss=listwise needs packing (the tails of a prefix share a row)")
        if self.loss == "choice" and self.loss_on != "answer":
            raise ValueError("loss=choice takes its loss on the label (loss_on=answer)")
        if self.loss_on == "full" and (self.packing or self.loss != "pointwise"):
            raise ValueError("loss_on=full needs packing=false and loss=pointwise")
        if not 0 <= self.warmup < 1:
            raise ValueError("warmup must be a fraction in [0, 1)")
        if self.log_steps is not None and self.log_steps < 1:
            raise ValueError("log_steps must be at least 1")


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
    import time

    from peft import LoraConfig, get_peft_model, set_peft_model_state_dict
    from peft.utils import get_peft_model_state_dict
    from transformers import Trainer, TrainerCallback, TrainingArguments

    from harness.llm.tokens import label_token_ids, pad_token_id

    if not groups:
        raise ValueError("no training examples")
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
    answer_ids = label_token_ids(lm.tokenizer, answers)
    if settings.loss == "choice":
        if not all(isinstance(g, ChoiceExample) for g in groups):
            raise TypeError("loss=choice trains on ChoiceExample prompts")
        rows = tokenize_choices(lm.tokenizer, groups, answer_ids)
    else:
        if len(answer_ids) != 2 or not all(isinstance(g, PromptGroup) for g in groups):
            raise TypeError(f"loss={settings.loss} trains on PromptGroups with two answers")
        rows = tokenize_groups(lm.tokenizer, groups, answer_ids, packed=settings.packing)
    examples = sum(len(r["tails"]) for r in rows)
    pad_id = pad_token_id(lm.tokenizer)  # 0 is a real id, not "missing"
    output_dir.mkdir(parents=True, exist_ok=True)
    per_step = settings.batch_size * settings.grad_accum
    steps_per_epoch = math.ceil(len(rows) / per_step)
    total_steps = steps_per_epoch * settings.epochs
    step_log: list[dict] = []
    validation: list[dict] = []
    best = {"score": -math.inf, "epoch": 0}
    finished = checkpoint_dir / "finished" if checkpoint_dir else None
    if finished is not None and (finished / "report.json").is_file():
        log.info("LoRA training already finished in %s: reusing its adapter", finished)
        set_peft_model_state_dict(model, load_file(finished / ADAPTER_FILE))
        report = TrainingReport(**json.loads((finished / "report.json").read_text()))
        return _finish(model, report, output_dir)

    def examples_seen(step: int) -> int:
        epoch, within = divmod(step, steps_per_epoch)
        if within == 0 and epoch:
            return epoch * examples
        done = min(within * per_step, len(rows))
        return epoch * examples + sum(len(r["tails"]) for r in rows[:done])

    def log_entry(step: int, logs: dict) -> dict:
        return {
            "step": step,
            "loss": float(logs["loss"]),
            "lr": float(logs.get("learning_rate", 0.0)),
            "examples": examples_seen(step),
        }

    class LogSteps(TrainerCallback):
        """Every optimizer step's loss and lr; fail at the first NaN/inf loss or gradient norm."""

        def on_train_begin(self, args, state, control, **kwargs):
            # a resumed run: the steps before the checkpoint come from its trainer state
            step_log[:] = [log_entry(e["step"], e) for e in state.log_history if "loss" in e]

        def on_log(self, args, state, control, logs=None, **kwargs):
            logs = logs or {}
            for key in ("loss", "grad_norm"):
                value = logs.get(key)
                if value is not None and not math.isfinite(float(value)):
                    raise FloatingPointError(
                        f"LoRA training diverged at step {state.global_step}: {key} is {value} "
                        "(try a lower lr)"
                    )
            if "loss" in logs:
                step_log.append(log_entry(state.global_step, logs))
                kill_point(f"train-step:{state.global_step}")

    writer = data_parallel.world().main  # under DDP, rank 0 alone writes the work folder
    elapsed_file = checkpoint_dir / "elapsed.json" if checkpoint_dir else None
    elapsed: dict[str, float] = {}
    if elapsed_file is not None and elapsed_file.is_file():
        elapsed = json.loads(elapsed_file.read_text())

    class RecordElapsed(TrainerCallback):
        """Training seconds up to each checkpoint, so a resumed run reports the whole time."""

        def on_save(self, args, state, control, **kwargs):
            elapsed[str(state.global_step)] = seconds_before + time.perf_counter() - started
            if writer:
                write_json_atomic(elapsed_file, elapsed)

    class SelectOnValidation(TrainerCallback):
        """Validate each epoch's adapter and keep the best; its record survives a kill."""

        def on_train_begin(self, args, state, control, **kwargs):
            if checkpoint_dir is None or state.global_step == 0:
                return
            if (checkpoint_dir / "validation.json").is_file():
                saved = json.loads((checkpoint_dir / "validation.json").read_text())
                validation[:] = saved["validation"]
                best.update(score=saved["best_score"], epoch=saved["best_epoch"])
                if saved["best_epoch"]:
                    best["state"] = load_file(checkpoint_dir / "best-adapter" / ADAPTER_FILE)
            if state.global_step // steps_per_epoch > len(validation):
                # killed after the epoch's last checkpoint and before its validation
                self.on_epoch_end(args, state, control)

        def on_epoch_end(self, args, state, control, **kwargs):
            epoch = len(validation) + 1
            kill_point(f"validate:{epoch}")
            validating = time.perf_counter()
            scores = validate(model) if validate else None
            spent = time.perf_counter() - validating
            recent = [e["loss"] for e in step_log[-steps_per_epoch:]]
            validation.append(
                {
                    "epoch": epoch,
                    "train_loss": final_loss(recent),
                    **(scores or {}),
                    "validation_s": spent,
                }
            )
            if scores is not None:  # one epoch: nothing to select, nothing validated
                log.info("epoch %d: validation %s", epoch, scores)
            # without a validation set the latest epoch is kept
            score = scores[SELECTION] if scores else None
            if score is None or score > best["score"]:
                best.update(score=-math.inf if score is None else score, epoch=epoch)
                best["state"] = {
                    k: v.detach().clone() for k, v in get_peft_model_state_dict(model).items()
                }
                if checkpoint_dir is not None and writer:
                    save_file(best["state"], checkpoint_dir / "best-adapter" / ADAPTER_FILE)
            if checkpoint_dir is not None and writer:
                record = {
                    "validation": validation,
                    "best_score": best["score"],
                    "best_epoch": best["epoch"],
                }
                write_json_atomic(checkpoint_dir / "validation.json", record)
            model.train()

    resume = last_complete_checkpoint(checkpoint_dir) if checkpoint_dir else None
    if checkpoint_dir is not None:
        (checkpoint_dir / "best-adapter").mkdir(parents=True, exist_ok=True)
        (checkpoint_dir / "finished").mkdir(parents=True, exist_ok=True)
    if checkpoint_steps is None and os.environ.get(CHECKPOINT_STEPS_ENV):
        checkpoint_steps = int(os.environ[CHECKPOINT_STEPS_ENV])
    save_every_s = float(os.environ.get(CHECKPOINT_SECONDS_ENV, "300"))

    class SaveByTime(TrainerCallback):
        """Ask for a checkpoint at the first step end ``save_every_s`` after the last one."""

        def on_train_begin(self, args, state, control, **kwargs):
            self.last = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            if time.perf_counter() - self.last >= save_every_s:
                control.should_save = True

        def on_save(self, args, state, control, **kwargs):
            self.last = time.perf_counter()

    use_cpu = lm.device.type == "cpu"
    log_steps = settings.log_steps or (1 if use_cpu else 10)
    mask_on_device = not use_cpu if settings.mask_on_device is None else settings.mask_on_device
    workers = (0 if use_cpu else 2) if settings.loader_workers is None else settings.loader_workers
    args = TrainingArguments(
        output_dir=str(checkpoint_dir or output_dir / "trainer"),
        num_train_epochs=settings.epochs,
        learning_rate=settings.lr,
        per_device_train_batch_size=_per_process_batch(settings.batch_size),
        gradient_accumulation_steps=settings.grad_accum,
        lr_scheduler_type=settings.schedule,
        warmup_steps=math.ceil(settings.warmup * total_steps),
        logging_steps=log_steps,
        save_strategy="steps" if checkpoint_dir else "no",
        save_steps=checkpoint_steps or 10**9,  # by time: SaveByTime asks for each save
        save_total_limit=1,
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
    )

    class PackedTrainer(Trainer):
        def compute_loss(self, model, inputs, return_outputs=False, **kwargs):
            loss = packed_loss(model, inputs, settings.loss, answer_ids)
            return (loss, None) if return_outputs else loss

    trainer = PackedTrainer(
        model=model,
        args=args,
        train_dataset=rows,
        data_collator=PackedCollator(
            pad_id, lm.dtype, full_text=settings.loss_on == "full", build_mask=not mask_on_device
        ),
        callbacks=[LogSteps(), SelectOnValidation()]
        + ([RecordElapsed()] if checkpoint_dir else [])
        + ([SaveByTime()] if checkpoint_dir and not checkpoint_steps else []),
    )
    seconds_before = 0.0
    if resume is not None:
        log.info("resuming LoRA training from %s", resume)
        seconds_before = elapsed.get(resume.name.split("-")[-1], 0.0)
    started = time.perf_counter()
    trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    seconds = time.perf_counter() - started
    if "state" in best:
        set_peft_model_state_dict(model, best.pop("state"))
    losses = [e["loss"] for e in step_log]
    report = TrainingReport(
        steps=trainer.state.global_step,
        examples=examples * settings.epochs,
        epochs=settings.epochs,
        tokens=sum(map(row_tokens, rows)) * settings.epochs,
        seconds=seconds + seconds_before,
        first_loss=losses[0] if losses else None,
        last_loss=losses[-1] if losses else None,
        final_loss=final_loss(losses),
        prior_loss=prior_loss(rows, settings.loss),
        log=step_log,
        validation=validation,
        answer_tokens=answer_ids,
    )
    if finished is not None and writer:
        save_file(get_peft_model_state_dict(model), finished / ADAPTER_FILE)
        write_json_atomic(finished / "report.json", dataclasses.asdict(report))
    return _finish(model, report, output_dir)


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
