"""SASRec hyperparameters: every knob, its meaning and its default, in one place.

Defaults follow Kang & McAuley (2018) and pmixer/SASRec.pytorch (hidden 64,
2 blocks, lr 1e-3, Adam betas (0.9, 0.98)) with the full-softmax loss of
Klenitskiy & Vasilev (2023). They are a light import: no torch here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Loss = Literal["ce", "bce"]


@dataclass(frozen=True)
class SASRecOptions:
    """Options of the ``sasrec`` recommender (``-r "sasrec[loss=bce,epochs=50]"``)."""

    hidden: int = field(
        default=64, metadata={"help": "embedding and hidden size d (item and position embeddings)"}
    )
    blocks: int = field(default=2, metadata={"help": "number of Pre-LN self-attention blocks"})
    heads: int = field(default=1, metadata={"help": "attention heads per block (divides hidden)"})
    dropout: float = field(
        default=0.2,
        metadata={"help": "dropout on embeddings, attention weights and feed-forward outputs"},
    )
    max_length: int = field(
        default=50,
        metadata={
            "help": "longest input window L (Kang & McAuley used 50, 200 on ml-1m); training "
            "sequences are cut into windows of L inputs so every position is still a target; "
            "scoring reads at most H items, so L >= H is required. Attention costs grow as "
            "L^2: on ml-100k L=200 is ~8x slower per epoch than 50 and not better on validation"
        },
    )
    loss: Loss = field(
        default="ce",
        metadata={
            "help": "ce: full-softmax cross entropy over the catalog (Klenitskiy & Vasilev "
            "2023); bce: binary cross entropy with one sampled negative per position "
            "(Kang & McAuley 2018)"
        },
    )
    lr: float = field(default=1e-3, metadata={"help": "Adam learning rate"})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay"})
    batch_size: int = field(default=128, metadata={"help": "training windows per batch"})
    epochs: int = field(default=200, metadata={"help": "maximum training epochs"})
    patience: int = field(
        default=10,
        metadata={
            "help": "stop after this many validations without a better validation NDCG@10; "
            "the best checkpoint is restored"
        },
    )
    eval_every: int = field(default=1, metadata={"help": "validate every N epochs"})
    score_batch_size: int = field(
        default=512, metadata={"help": "requests per forward pass when scoring"}
    )
    threads: int | None = field(
        default=None,
        metadata={
            "help": "CPU threads torch uses in fit and scoring (default: torch's, all cores); "
            "1 is far faster when other processes share the cores (OpenMP collapses)"
        },
    )
    device: str | None = field(
        default=None,
        metadata={
            "help": "auto, cpu, cuda, cuda:1, ...; default: the run's --device "
            "(auto picks cuda when available)"
        },
    )

    item_text: Literal["none", "llm"] = field(
        default="none",
        metadata={
            "help": "llm: add a trained linear projection of each item's frozen LLM text "
            "embedding to its input and output embedding"
        },
    )
    id_embeddings: bool = field(
        default=True,
        metadata={
            "help": "learn an ID embedding per item; false (with item_text=llm) keeps the text "
            "part alone, so an item never seen in training still gets a vector"
        },
    )
    text_model: str | None = field(
        default=None,
        metadata={"help": "the LLM that embeds item texts (default: the embedded SmolLM2)"},
    )
    text_pooling: Literal["mean", "last"] = field(
        default="mean", metadata={"help": "text embedding: mean over tokens, or the last token"}
    )

    def __post_init__(self) -> None:
        if self.item_text not in ("none", "llm"):
            raise ValueError(f"item_text must be none or llm, got {self.item_text!r}")
        if not self.id_embeddings and self.item_text == "none":
            raise ValueError("id_embeddings=false needs item_text=llm (items need some vector)")
        if self.text_model is not None:
            from harness import check_model_name  # only then: this module stays torch-free

            check_model_name(self.text_model)
        positive = ("hidden", "blocks", "heads", "max_length", "batch_size", "epochs")
        for name in (*positive, "eval_every", "score_batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads must be at least 1, got {self.threads}")
        if self.patience < 0:
            raise ValueError(f"patience must be >= 0, got {self.patience}")
        if self.hidden % self.heads:
            raise ValueError(f"hidden ({self.hidden}) must be divisible by heads ({self.heads})")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.lr <= 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay}")
        if self.loss not in ("ce", "bce"):
            raise ValueError(f"loss must be ce or bce, got {self.loss!r}")
        if self.device is not None:
            from harness.llm import check_device  # torch-free, like this module

            check_device(self.device)
