"""The LoRA SFT settings: their defaults and checks, in one place.

:class:`harness.recommenders.llm.LLMOptions` reads its training defaults from
here and checks its training options by building these settings, so a
product's option and the runtime's setting cannot drift apart. This module
imports no torch: option classes import it when plugins register.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from harness.llm.packing import Loss

# at least 1 each
_COUNTS = ("epochs", "batch_size", "grad_accum", "lora_r", "lora_alpha")


@dataclass(frozen=True)
class SFTSettings:
    """LoRA r=8, alpha=16, dropout 0.05 (the paper's); ``batch_size`` counts packed rows.

    ``lr`` and ``batch_size`` were chosen on validation requests
    (benchmarks/RESULTS-llm-trsr.md). The schedule warms up linearly over
    ``warmup`` (a fraction of all steps), then decays (``schedule``: any HF
    scheduler name, e.g. cosine, linear).
    """

    epochs: int = 1
    lr: float = 1e-3
    batch_size: int = 2
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
        for name in _COUNTS:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if not 0 <= self.lora_dropout < 1:
            raise ValueError("lora_dropout must be in [0, 1)")
        if self.lr <= 0:
            raise ValueError("lr must be positive")
        if not 0 <= self.warmup < 1:
            raise ValueError("warmup must be a fraction in [0, 1)")
        if self.log_steps is not None and self.log_steps < 1:
            raise ValueError("log_steps must be at least 1")
        self._check_loss()

    def _check_loss(self) -> None:
        if self.loss == "listwise" and not self.packing:
            raise ValueError("loss=listwise needs packing=true (the tails of a prefix share a row)")
        if self.loss == "choice" and self.loss_on != "answer":
            raise ValueError("loss=choice takes its loss on the label (loss_on=answer)")
        if self.loss_on == "full" and (self.packing or self.loss != "pointwise"):
            raise ValueError("loss_on=full needs packing=false and loss=pointwise")
