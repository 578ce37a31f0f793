"""The listwise LLM row: one prompt per request, candidates under letter labels, scores from
the shared N-label primitive; wiring on the tiny random model, one board run through the CLI."""

import json

import numpy as np
import pytest
from helpers import run_cli

from harness import RunContext
from harness.llm import ScoringRequest, score_choices
from harness.splits import SplitConfig, build_split
from harness_baselines.listwise_llm import (
    ListwiseLLM,
    ListwiseOptions,
    candidate_orders,
    labels_for,
)


@pytest.fixture(scope="module")
def split(ml100k):
    return build_split(ml100k, SplitConfig(seed=0, users=4, history=8))


@pytest.fixture(scope="module")
def context(session_cache):
    return RunContext(seed=0, cache_dir=session_cache, progress=False)


def fitted(split, context, tiny_model_dir, **options):
    options.setdefault("zero_shot", True)
    rec = ListwiseLLM(ListwiseOptions(model=str(tiny_model_dir), **options))
    rec.fit(split.train_data(), context)
    return rec


def prompt(rec, window, order, context):
    return rec.prompts([window], [[order]], context)[0]


def test_scores_are_label_log_probabilities_in_the_split_order(split, context, tiny_model_dir):
    rec = fitted(split, context, tiny_model_dir)
    requests = [r.unlabeled() for r in split.test]
    scores = rec.score(requests, context)
    assert scores.shape == (4, 21) and np.all(scores < 0)
    np.testing.assert_allclose(np.logaddexp.reduce(scores, axis=1), 0.0, atol=1e-9)
    # the same as reading the 21 label logits of each prompt directly
    prompts = [prompt(rec, r, np.arange(21), context) for r in requests]
    logits = score_choices(rec.lm, [ScoringRequest(p, ("",)) for p in prompts], labels_for(21))
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
        text = prompt(rec, request, order, context)
        row = score_choices(rec.lm, [ScoringRequest(text, ("",))], labels_for(21))[0][0]
        expected[order] += row - np.logaddexp.reduce(row)
    np.testing.assert_allclose(rec.score([request], context)[0], expected / 3, atol=1e-9)


def test_a_budget_drops_the_oldest_history_lines_whole(split, context, tiny_model_dir):
    from harness.llm import count_tokens

    request = split.test[0]
    rec = fitted(split, context, tiny_model_dir, max_prompt_tokens=100_000)
    full = prompt(rec, request, np.arange(21), context)
    budget = count_tokens(rec.lm, [full])[0] - 5
    small = fitted(split, context, tiny_model_dir, max_prompt_tokens=budget)
    cut = prompt(small, request, np.arange(21), context)
    assert count_tokens(rec.lm, [cut])[0] <= budget
    newest = split.dataset.catalog.text(request.history[-1])
    oldest = split.dataset.catalog.text(request.history[-8])
    assert newest in cut and oldest not in cut and oldest in full


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"permutations": 0}, "permutations must be at least 1"),
        ({"max_prompt_tokens": 0}, "max_prompt_tokens must be at least 1"),
        ({"max_prompt_tokens": 90, "summarizer": "recurrent"}, "needs summarizer=none"),
        ({"loss": "listwise"}, "loss, loss_on and packing do not apply"),
        ({"negatives": 0}, "negatives must be at least 1"),
    ],
)
def test_bad_options_are_one_line_errors(options, message):
    with pytest.raises(ValueError, match=message):
        ListwiseOptions(**options)


def test_a_listwise_row_runs_on_a_board_with_its_position_diagnostics(tiny_model_dir, tmp_path):
    out = tmp_path / "board"
    code, _, err = run_cli(
        "evaluate",
        "--users",
        "6",
        "-r",
        "random",
        "-r",
        f"listwise-llm[model={tiny_model_dir},zero_shot=true,permutations=2]",
        "--out",
        str(out),
        "--cache-dir",
        str(tmp_path / "cache"),
    )
    assert code == 0, err
    results = json.loads((out / "results.json").read_text())
    row = next(r for r in results["runs"] if r["recommender"] == "listwise-llm")
    assert row["name"] == "listwise-llm (history, zero-shot, P=2)"
    assert len(row["position"]["top1_by_slot"]) == 21
    assert row["capabilities"]["trained"] is False
    assert "Candidate position:" in (out / "leaderboard.md").read_text()


def test_the_choice_loss_reads_the_scorers_label_logits(split, context, tiny_model_dir):
    """Training sees what scoring reads: the choice loss of one prompt is minus the
    log-softmax of score_choices' label logits at the right label."""
    import torch

    from harness.llm import ChoiceExample
    from harness.llm.packing import PackedCollator, packed_loss, tokenize_choices
    from harness.llm.tokens import label_token_ids

    rec = fitted(split, context, tiny_model_dir)
    request = split.test[1].unlabeled()
    text = prompt(rec, request, np.arange(21), context)
    ids = label_token_ids(rec.lm.tokenizer, labels_for(21))
    rows = tokenize_choices(rec.lm.tokenizer, [ChoiceExample(text, 7)], ids)
    batch = PackedCollator(rec.lm.tokenizer.eos_token_id)(rows)
    with torch.no_grad():
        loss = packed_loss(rec.lm.model, batch, "choice", ids).item()
    row = score_choices(rec.lm, [ScoringRequest(text, ("",))], labels_for(21))[0][0]
    assert loss == pytest.approx(-(row[7] - np.logaddexp.reduce(row)), abs=1e-5)


def test_fine_tuning_trains_the_label_choice_on_lists_like_the_test_lists(
    split, tmp_path, tiny_model_dir
):
    from harness.llm.tokens import label_token_ids
    from harness_baselines.listwise_llm import training_order

    context = RunContext(seed=0, cache_dir=tmp_path, run_dir=tmp_path / "row", progress=False)
    options = {"train_sequences": 4, "examples_per_user": 2, "batch_size": 2, "lr": 1e-2}
    rec = fitted(split, context, tiny_model_dir, zero_shot=False, **options)
    assert rec.row_name == "listwise-llm (history)"
    assert rec.capabilities().trained is True
    examples = rec.training_examples(split.train_data(), 0)
    assert len(examples) == 8 and all(len(e.candidates) == 21 for e in examples)
    slots = {int(np.flatnonzero(training_order(e, 0) == 0)[0]) for e in examples}
    assert len(slots) > 2  # the target is not always in one slot
    report = rec.report
    assert tuple(report.answer_tokens) == label_token_ids(rec.lm.tokenizer, labels_for(21))
    assert report.steps == 4 and report.examples == 8
    assert 0 < report.prior_loss <= np.log(21) + 1e-9
    assert context.costs["train_loss_final"] == pytest.approx(report.final_loss)
    assert (tmp_path / "row" / "adapter").is_dir()
    zero_shot = fitted(split, context, tiny_model_dir)
    requests = [r.unlabeled() for r in split.test]
    assert not np.allclose(rec.score(requests, context), zero_shot.score(requests, context))


def test_a_summary_goes_under_the_listwise_head(split, context, tiny_model_dir):
    rec = fitted(split, context, tiny_model_dir, summarizer="recurrent", summary_tokens=4)
    assert rec.row_name == "listwise-llm (recurrent, zero-shot)"
    assert rec.capabilities().precompute and rec.capabilities().variant == "recurrent"
    request = split.test[0].unlabeled()
    text = prompt(rec, request, np.arange(21), context)
    assert "[Preference Summary]\n" in text
    recent = text.split("[Recent Items]\n")[1].split("\n[Candidates]")[0].splitlines()
    assert [line.split(".")[0] for line in recent] == ["1", "2", "3", "4", "5"]
    assert "[Candidates]\nA. " in text and "\nU. " in text
