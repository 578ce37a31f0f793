"""The listwise LLM row: one prompt per request, candidates under letter labels, scores from
the shared N-label primitive; wiring on the tiny random model, one board run through the CLI."""

import json

import numpy as np
import pytest
from conftest import run_main

from harness import RunContext
from harness.llm import ScoringRequest, score_choices
from harness.splits import SplitConfig, build_split
from harness_baselines.listwise_llm import ListwiseLLM, ListwiseOptions, candidate_orders


@pytest.fixture(scope="module")
def split(ml100k):
    return build_split(ml100k, SplitConfig(seed=0, users=4, history=8))


@pytest.fixture(scope="module")
def context(session_cache):
    return RunContext(seed=0, cache_dir=session_cache, progress=False)


def fitted(split, context, tiny_model_dir, **options):
    rec = ListwiseLLM(ListwiseOptions(model=str(tiny_model_dir), **options))
    rec.fit(split.train_data(), context)
    return rec


def test_scores_are_label_log_probabilities_in_the_split_order(split, context, tiny_model_dir):
    rec = fitted(split, context, tiny_model_dir)
    requests = [r.unlabeled() for r in split.test]
    scores = rec.score(requests, context)
    assert scores.shape == (4, 21) and np.all(scores < 0)
    np.testing.assert_allclose(np.logaddexp.reduce(scores, axis=1), 0.0, atol=1e-9)
    # the same as reading the 21 label logits of each prompt directly
    prompts = [rec.prompt(r.history, r.candidates, np.arange(21)) for r in requests]
    logits = score_choices(rec.lm, [ScoringRequest(p, ("",)) for p in prompts], rec.labels(21))
    direct = np.stack([row[0] - np.logaddexp.reduce(row[0]) for row in logits])
    np.testing.assert_allclose(scores, direct, atol=1e-9)
    assert context.costs["prompt_tokens_per_request"] > 21 * 5
    # a request's scores do not depend on the other requests of the call
    np.testing.assert_allclose(rec.score(requests[2:3], context), scores[2:3], atol=1e-5)


def test_permutations_average_each_candidates_log_probability(split, context, tiny_model_dir):
    rec = fitted(split, context, tiny_model_dir, permutations=3)
    request = split.test[0].unlabeled()
    orders = candidate_orders(request, 0, 3)
    assert np.array_equal(orders[0], np.arange(21)) and len({o.tobytes() for o in orders}) == 3
    expected = np.zeros(21)
    for order in orders:
        prompt = rec.prompt(request.history, request.candidates, order)
        row = score_choices(rec.lm, [ScoringRequest(prompt, ("",))], rec.labels(21))[0][0]
        expected[order] += row - np.logaddexp.reduce(row)
    np.testing.assert_allclose(rec.score([request], context)[0], expected / 3, atol=1e-9)


def test_a_budget_drops_the_oldest_history_lines_whole(split, context, tiny_model_dir):
    from harness.llm import count_tokens

    rec = fitted(split, context, tiny_model_dir)
    request = split.test[0]
    full = rec.prompt(request.history, request.candidates, np.arange(21))
    budget = count_tokens(rec.lm, [full])[0] - 5
    small = fitted(split, context, tiny_model_dir, max_prompt_tokens=budget)
    cut = small.prompt(request.history, request.candidates, np.arange(21))
    assert count_tokens(rec.lm, [cut])[0] <= budget
    newest = split.dataset.catalog.text(request.history[-1])
    oldest = split.dataset.catalog.text(request.history[-8])
    assert newest in cut and oldest not in cut and oldest in full


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"permutations": 0}, "permutations must be at least 1"),
        ({"zero_shot": False}, "LoRA training of the listwise head is not implemented"),
        ({"max_prompt_tokens": 0}, "max_prompt_tokens must be at least 1"),
    ],
)
def test_bad_options_are_one_line_errors(options, message):
    with pytest.raises(ValueError, match=message):
        ListwiseOptions(**options)


def test_a_listwise_row_runs_on_a_board_with_its_position_diagnostics(
    tiny_model_dir, tmp_path, monkeypatch, capsys
):
    out = tmp_path / "board"
    code, _, err = run_main(
        monkeypatch,
        capsys,
        "evaluate",
        "--users",
        "6",
        "-r",
        "random",
        "-r",
        f"listwise-llm[model={tiny_model_dir},permutations=2]",
        "--out",
        str(out),
        "--cache-dir",
        str(tmp_path / "cache"),
    )
    assert code == 0, err
    results = json.loads((out / "results.json").read_text())
    row = next(r for r in results["runs"] if r["recommender"] == "listwise-llm")
    assert row["name"] == "listwise-llm (zero-shot, P=2)"
    assert len(row["position"]["top1_by_slot"]) == 21
    assert row["capabilities"]["trained"] is False
    assert "Candidate position:" in (out / "leaderboard.md").read_text()
