"""The example plugin of a new LLM kind (likelihood scoring), pip-installed as a third party
would install it: it passes `check-plugin`, runs in `evaluate`, and its batched scores are
each candidate's own mean log-likelihood."""

import json

import numpy as np
import pytest
from helpers import run_harness

from harness import RunContext
from harness.splits import SplitConfig, build_split


def test_check_plugin_and_evaluate(plugin_path, tiny_model_dir, tmp_path):
    env = {"PYTHONPATH": str(plugin_path)}
    spec = f"llm-likelihood[model={tiny_model_dir},history_items=4]"
    result = run_harness("check-plugin", spec, "--users", "4", env=env)
    assert result.returncode == 0, result.stderr
    assert "same scores under the same seed" in result.stdout and "checks passed" in result.stdout
    out = tmp_path / "board"
    result = run_harness(
        "evaluate", "-r", "random", "-r", spec, "--users", "6", "--out", str(out), env=env
    )
    assert result.returncode == 0, result.stderr
    row = next(
        r
        for r in json.loads((out / "results.json").read_text())["runs"]
        if r["plugin"] == "likelihood"
    )
    assert row["name"] == "llm-likelihood (zero-shot)"
    assert row["capabilities"]["trained"] is False
    assert row["costs"]["prompt_tokens_per_request"] > 0
    result = run_harness("evaluate", "-r", "llm-likelihood[history_items=-1]", env=env)
    assert result.returncode == 2 and "history_items must be at least 0" in result.stderr


def test_batched_scores_are_each_candidates_own_mean_log_likelihood(
    plugin_path, tiny_model_dir, ml100k, session_cache, monkeypatch
):
    import torch

    monkeypatch.syspath_prepend(str(plugin_path))
    from harness_likelihood import LikelihoodOptions, LikelihoodRecommender

    split = build_split(ml100k, SplitConfig(seed=0, users=2, history=6, negatives=4))
    rec = LikelihoodRecommender(LikelihoodOptions(model=str(tiny_model_dir)))
    context = RunContext(cache_dir=session_cache, progress=False)
    rec.fit(split.train_data(), context)
    request = split.test[0].unlabeled()
    scores = rec.score([request], context)[0]
    tokenizer, model = rec.lm.tokenizer, rec.lm.model
    head = tokenizer(rec.prompt(request.history))["input_ids"]
    for score, item in zip(scores, request.candidates):
        tail = tokenizer(ml100k.catalog.text(item), add_special_tokens=False)["input_ids"]
        with torch.no_grad():  # one unpadded prompt, the whole vocabulary's logits
            logits = model(input_ids=torch.tensor([head + tail])).logits[0].float()
        log_probs = torch.log_softmax(logits, dim=-1)
        own = [log_probs[len(head) - 1 + i, t].item() for i, t in enumerate(tail)]
        assert score == pytest.approx(np.mean(own), abs=1e-4)
