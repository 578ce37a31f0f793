"""The training path learns: it overfits a tiny batch, and it learns a rule carried by text.

These guard LoRA SFT itself (packing, mask, loss, schedule) on the real
embedded model: a bug that leaves the weights moving but the answers random
fails here, where a "weights changed" test would pass.
"""

import numpy as np
import pytest

from harness.llm import ScoringRequest, chat_prompt, score_yes_no
from harness.llm.packing import PromptGroup
from harness.llm.sft import SFTSettings, train_lora
from harness.metrics import auc

pytestmark = pytest.mark.slow

GENRES = ["comedy", "horror", "western", "science fiction", "romance", "war"]
WORDS = [
    "river",
    "stone",
    "night",
    "garden",
    "silver",
    "wolf",
    "city",
    "harbor",
    "winter",
    "letter",
    "mirror",
    "forest",
    "engine",
    "crown",
    "island",
    "shadow",
    "summer",
    "bridge",
    "voice",
    "storm",
    "lantern",
    "desert",
    "window",
    "ocean",
]


def prompt_group(tokenizer, rng, n_negatives: int) -> tuple[PromptGroup, list[str]]:
    """History of 3 movies of one genre; the positive shares it, negatives do not."""

    def movie(genre: str) -> str:
        return f"{' '.join(rng.choice(WORDS, 2)).title()} ({genre})"

    genre = rng.choice(GENRES)
    others = [g for g in GENRES if g != genre]
    history = "\n".join(f"{i}. {movie(genre)}" for i in range(1, 4))
    body = (
        "Predict whether the user will watch the candidate movie, given the movies the "
        f"user watched. Answer yes or no.\n[Recent Items]\n{history}\n[Candidate Item]\n\x00"
    )
    prefix, suffix = chat_prompt(tokenizer, body).split("\x00")
    candidates = [movie(genre)] + [movie(g) for g in rng.choice(others, n_negatives, False)]
    tails = tuple(c + suffix for c in candidates)
    return PromptGroup(prefix, tails, (True,) + (False,) * n_negatives), list(tails)


def test_lora_sft_overfits_a_tiny_fixed_batch(embedded, tmp_path):
    rng = np.random.default_rng(0)
    groups = [prompt_group(embedded.tokenizer, rng, 1)[0] for _ in range(2)]
    settings = SFTSettings(epochs=24, batch_size=2, lr=7e-3, warmup=0.1, lora_dropout=0.0)
    _, report = train_lora(embedded, groups, settings, tmp_path, progress=False)
    assert report.steps == 24
    assert report.first_loss > 0.5  # the untrained model does not know these answers
    assert report.final_loss < 0.05  # ... and after a few dozen steps it has memorized them
    assert report.learned


def test_lora_sft_learns_a_rule_carried_by_the_text(embedded, tmp_path):
    rng = np.random.default_rng(1)
    train = [prompt_group(embedded.tokenizer, rng, 3)[0] for _ in range(48)]
    held_out = [prompt_group(embedded.tokenizer, rng, 3)[0] for _ in range(24)]
    requests = [ScoringRequest(g.prefix, g.continuations) for g in held_out]
    positives = np.zeros(len(held_out), dtype=int)  # the positive is the first tail

    def held_out_auc(model) -> float:
        scores = np.stack(
            score_yes_no(embedded, requests, yes="yes", no="no", model=model, progress=False)
        )
        return float(auc(scores, positives).mean())

    before = held_out_auc(None)
    settings = SFTSettings(epochs=2, batch_size=4, lr=2e-3)
    model, report = train_lora(embedded, train, settings, tmp_path, progress=False)
    after = held_out_auc(model)
    assert report.learned
    assert after > 0.9, f"held-out AUC {after:.3f} (before training {before:.3f})"
