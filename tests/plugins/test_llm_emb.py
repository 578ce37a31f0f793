"""The LLM-as-encoder row: cosine of cached catalog embeddings to the weighted history
(tiny random model with the real tokenizer; the numbers are recomputed here)."""

import json

import numpy as np
import pytest
from helpers import run_cli

from harness import RunContext
from harness.llm import embed_texts, load_model
from harness.splits import SplitConfig, build_split
from harness_baselines.llm_emb import LLMEmb, LLMEmbOptions


@pytest.fixture(scope="module")
def split(ml100k):
    return build_split(ml100k, SplitConfig(seed=0, users=6, history=8))


def test_scores_are_cosines_to_the_weighted_history_and_a_refit_embeds_nothing(
    split, ml100k, tiny_model_dir, tmp_path
):
    context = RunContext(cache_dir=tmp_path, progress=False)
    rec = LLMEmb(LLMEmbOptions(model=str(tiny_model_dir), recency=0.5))
    rec.fit(split.train_data(), context)
    texts = ml100k.catalog.texts(np.arange(len(ml100k.catalog)))
    assert context.costs["texts_embedded"] == len(set(texts))  # a repeated text is embedded once
    requests = [r.unlabeled() for r in split.test]
    scores = rec.score(requests, context)
    lm = load_model(str(tiny_model_dir), device="cpu", cache_dir=tmp_path)
    vectors = embed_texts(lm, texts, cache_dir=tmp_path).astype(np.float64)
    vectors -= vectors.mean(axis=0)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    for request, row in zip(requests, scores):
        weights = 0.5 ** np.arange(len(request.history) - 1, -1, -1)
        profile = weights @ vectors[request.history]
        cosines = vectors[request.candidates] @ profile / np.linalg.norm(profile)
        np.testing.assert_allclose(row, cosines, atol=1e-9)
    full = rec.score_catalog(requests, context)
    for request, whole, row in zip(requests, full, scores):
        np.testing.assert_allclose(whole[request.candidates], row, atol=1e-9)
    again = RunContext(cache_dir=tmp_path, progress=False)
    LLMEmb(LLMEmbOptions(model=str(tiny_model_dir), recency=0.5)).fit(split.train_data(), again)
    assert again.costs["texts_embedded"] == 0


def test_it_runs_on_a_board_with_full_ranking(tiny_model_dir, tmp_path):
    out = tmp_path / "board"
    code, _, err = run_cli(
        "evaluate",
        "--users",
        "6",
        "-r",
        "random",
        "-r",
        f"llm-emb[model={tiny_model_dir},pooling=last]",
        "--out",
        str(out),
        "--cache-dir",
        str(tmp_path / "cache"),
    )
    assert code == 0, err
    row = json.loads((out / "results.json").read_text())["runs"][1]
    assert row["recommender"] == "llm-emb" and row["full_ranking"] is not None
    assert row["costs"]["catalog_embedding_s"] > 0


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"recency": 0}, "recency must be in"),
        ({"history_items": 0}, "history_items must be at least 1"),
        ({"batch_size": 0}, "batch_size must be at least 1"),
    ],
)
def test_bad_options_are_one_line_errors(options, message):
    with pytest.raises(ValueError, match=message):
        LLMEmbOptions(**options)
