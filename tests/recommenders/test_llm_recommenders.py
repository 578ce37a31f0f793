"""LLM-TRSR and the truncated-prompt baseline on the real embedded model (tiny settings)."""

import json

import numpy as np
import pytest
from helpers import run_cli

from harness.errors import HarnessError
from harness.recommender import RunContext
from harness.splits import SplitConfig, build_split
from harness_baselines.truncated_llm import TruncatedLLM, TruncatedOptions, keep_newest_within
from llm_trsr.recommender import LLMTRSR, TRSROptions

pytestmark = pytest.mark.slow


def test_keep_newest_within_hand_cases():
    sizes = [50, 60, 70, 80]  # prompt tokens with 0..3 newest items

    assert keep_newest_within(3, lambda k: sizes[k], 75) == 2
    assert keep_newest_within(3, lambda k: sizes[k], 80) == 3
    assert keep_newest_within(3, lambda k: sizes[k], 59) == 0
    assert keep_newest_within(0, lambda k: sizes[k], 10) == 0


@pytest.fixture(scope="module")
def small_split(ml100k):
    return build_split(ml100k, SplitConfig(seed=0, users=3, history=10))


@pytest.fixture(scope="module")
def context(session_cache, tmp_path_factory):
    return RunContext(
        seed=0, cache_dir=session_cache, run_dir=tmp_path_factory.mktemp("run"), progress=False
    )


def _listing(lines: list[str]) -> str:
    """Item lines as the prompt shows them, written out here rather than imported."""
    return "\n".join(f"{i}. {line}" for i, line in enumerate(lines, start=1)) or "(none)"


@pytest.mark.parametrize("budget", [180, 230, 320])
def test_truncation_fits_the_budget_and_keeps_the_newest_items(small_split, context, budget):
    """Token counts come from the tokenizer on the rendered prompt, not from the counter the
    search uses: a miscounting counter would pass a test that asked it whether it fits."""
    rec = TruncatedLLM(TruncatedOptions(zero_shot=True, max_prompt_tokens=budget))
    rec.fit(small_split.train_data(), context)
    tokenizer = rec.lm.tokenizer
    catalog = small_split.dataset.catalog

    def longest(prefix: str, continuations) -> int:
        return max(len(tokenizer(prefix + c)["input_ids"]) for c in continuations)

    cut = 0
    for request in small_split.test:
        (scoring,) = rec.requests_for([request], small_split.dataset, context)
        assert longest(scoring.prefix, scoring.continuations) <= budget
        history = request.history
        kept = rec.kept_items[0]
        newest = catalog.texts(history[len(history) - kept :])
        block = f"[Recent Items]\n{_listing(newest)}\n[Candidate Item]"
        assert scoring.prefix.count(block) == 1  # exactly the newest items, in order
        if kept == len(history):
            continue
        cut += 1
        assert catalog.text(history[len(history) - kept - 1]) not in scoring.prefix
        # one more (whole) item would not have fitted, with any candidate
        one_more = catalog.texts(history[len(history) - kept - 1 :])
        longer = scoring.prefix.replace(
            block, f"[Recent Items]\n{_listing(one_more)}\n[Candidate Item]"
        )
        assert longest(longer, scoring.continuations) > budget
    assert cut == 3  # every budget here cuts all 3 histories: each cut was checked


def test_truncation_budget_too_small_is_a_clear_error(small_split, context):
    rec = TruncatedLLM(TruncatedOptions(zero_shot=True, max_prompt_tokens=20))
    rec.fit(small_split.train_data(), context)
    with pytest.raises(HarnessError, match="budget of 20 tokens cannot hold"):
        rec.score(small_split.test, context)


@pytest.mark.parametrize("recent", [3, 15])  # 15: more than the 10-item histories hold
def test_no_summary_ablation_is_the_same_prompt_from_either_plugin(small_split, context, recent):
    trsr = LLMTRSR(TRSROptions(summarizer="none", recent_items=recent, zero_shot=True))
    trunc = TruncatedLLM(
        TruncatedOptions(recent_items=recent, zero_shot=True, max_prompt_tokens=4096)
    )
    data = small_split.train_data()
    trsr.fit(data, context)
    trunc.fit(data, context)
    args = (small_split.test, small_split.dataset, context)
    assert trsr.requests_for(*args) == trunc.requests_for(*args)


def test_zero_shot_trains_nothing(small_split, context, tmp_path):
    ctx = RunContext(seed=0, cache_dir=context.cache_dir, run_dir=tmp_path, progress=False)
    rec = TruncatedLLM(TruncatedOptions(zero_shot=True))
    rec.fit(small_split.train_data(), ctx)
    assert rec.model is None and list(tmp_path.iterdir()) == []
    scores = rec.score(small_split.test, ctx)
    assert scores.shape == (3, 21) and np.all((scores > 0) & (scores < 1))
    assert ctx.costs["prompt_tokens_per_request"] > 0


@pytest.fixture(scope="module")
def trained_trsr(small_split, context, tiny_model_dir):
    """SFT mechanics on the tiny random model: what is checked is wiring, not learning
    (tests/recommenders/test_llm_learning.py trains the real weights)."""
    rec = LLMTRSR(
        TRSROptions(
            model=str(tiny_model_dir),
            train_sequences=8,
            valid_requests=3,
            summary_tokens=16,
            batch_size=8,
            lr=1e-2,
        )
    )
    rec.fit(small_split.train_data(), context)
    return rec


def test_llm_trsr_training_changes_p_yes_and_saves_the_adapter(
    trained_trsr, small_split, context, tiny_model_dir
):
    assert (context.run_dir / "adapter" / "adapter_config.json").is_file()
    report = trained_trsr.report
    assert report.steps >= 1 and report.first_loss is not None
    assert (context.run_dir / "training_log.jsonl").read_text().count("\n") == report.steps
    tuned = trained_trsr.score(small_split.test, context)
    scoring = trained_trsr.requests_for(small_split.test, small_split.dataset, context)
    base = np.stack(trained_trsr._score(scoring, None, progress=False))
    assert tuned.shape == base.shape == (3, 21)
    assert np.abs(tuned - base).max() > 1e-3
    # the saved adapter reloads and scores the same without retraining
    again = LLMTRSR(
        TRSROptions(
            model=str(tiny_model_dir),
            adapter=str(context.run_dir / "adapter"),
            summary_tokens=16,
        )
    )
    again.fit(small_split.train_data(), context)
    np.testing.assert_allclose(again.score(small_split.test, context), tuned, atol=1e-4)


TINY_SPLIT = ["--users", "2", "--history", "5"]  # one block: both summarizers share the cache


@pytest.fixture(scope="module")
def tiny(tiny_model_dir) -> str:
    """Options of a tiny LLM-TRSR run on the tiny random model: CLI and cache wiring only."""
    return (
        f"model={tiny_model_dir},train_sequences=4,valid_requests=2,summary_tokens=12,batch_size=8"
    )


def test_summarize_twice_generates_nothing_the_second_time(tiny):
    args = [*TINY_SPLIT, "--recommender", f"llm-trsr[summarizer=hierarchical,{tiny}]"]
    first = run_cli("summarize", *args)
    assert first.returncode == 0, first.stderr
    assert "tokens generated" in first.stdout
    again = run_cli("summarize", *args)
    assert again.returncode == 0, again.stderr
    assert "0 generations run" in again.stdout and "all from cache" in again.stdout


def test_both_variants_and_baselines_on_one_leaderboard_with_costs(tmp_path, tiny, tiny_model_dir):
    out = tmp_path / "out"
    result = run_cli(
        "evaluate",
        *TINY_SPLIT,
        "--out",
        str(out),
        "-r",
        "popularity",
        "-r",
        f"llm-trsr[summarizer=hierarchical,{tiny}]",
        "-r",
        f"llm-trsr[summarizer=recurrent,{tiny}]",
        "-r",
        f"truncated-llm[zero_shot=true,model={tiny_model_dir}]",
    )
    assert result.returncode == 0, result.stderr
    for row in ("llm-trsr (hierarchical)", "llm-trsr (recurrent)", "truncated-llm (zero-shot)"):
        assert row in result.stdout
    assert "Quality against prompt budget" in result.stdout
    runs = {r["name"]: r for r in json.loads((out / "results.json").read_text())["runs"]}
    for name, run in runs.items():
        costs = run["costs"]
        assert costs["score_s_per_1k"] > 0 and costs["peak_rss_mb"] > 0, name
        assert costs["fit_s"] >= 0
        if name != "popularity":
            assert costs["prompt_tokens_per_request"] > 0
    assert (out / "runs" / "llm-trsr_hierarchical" / "adapter").is_dir()
    for name in ("llm-trsr (hierarchical)", "llm-trsr (recurrent)"):
        assert runs[name]["costs"]["summary_prompts"] > 0
        assert (
            0
            <= runs[name]["costs"]["summary_prompts_generated"]
            <= runs[name]["costs"]["summary_prompts"]
        )

    again = run_cli(
        "evaluate",
        *TINY_SPLIT,
        "--out",
        str(tmp_path / "again"),
        "--fresh",  # recompute the row: its summaries must all come from the cache
        "-r",
        f"llm-trsr[summarizer=recurrent,{tiny}]",
    )
    assert again.returncode == 0, again.stderr
    rerun = json.loads((tmp_path / "again" / "results.json").read_text())["runs"][0]["costs"]
    assert rerun["summary_prompts"] == runs["llm-trsr (recurrent)"]["costs"]["summary_prompts"]
    assert rerun["summary_prompts_generated"] == 0  # every summary came from the cache


def test_full_context_budget_keeps_the_whole_history(small_split, context):
    rec = TruncatedLLM(TruncatedOptions(zero_shot=True, full_context=True))
    assert rec.row_name == "truncated-llm (full context, zero-shot)"
    rec.fit(small_split.train_data(), context)
    assert rec.context_window() == rec.lm.model.config.max_position_embeddings == 8192
    requests = small_split.test
    rec.requests_for(requests, small_split.dataset, context)
    assert rec.kept_items == [len(r.history) for r in requests]
    with pytest.raises(ValueError, match="either full_context or max_prompt_tokens"):
        TruncatedOptions(full_context=True, max_prompt_tokens=100)


class CapitalAnswers(TruncatedLLM):
    """A subclass that answers "Yes"/"No": it must train on the tokens it scores with."""

    yes, no = "Yes", "No"


def test_a_subclass_with_other_answer_words_trains_on_the_tokens_it_scores(
    small_split, context, tiny_model_dir
):
    from harness.llm import label_token_ids

    rec = CapitalAnswers(
        TruncatedOptions(model=str(tiny_model_dir), train_sequences=4, batch_size=4, lr=1e-2)
    )
    rec.fit(small_split.train_data(), context)
    tokenizer = rec.lm.tokenizer
    capital = label_token_ids(tokenizer, ("Yes", "No"))
    assert tuple(rec.report.answer_tokens) == capital
    assert capital != label_token_ids(tokenizer, ("yes", "no"))
    tuned = rec.score(small_split.test, context)
    scoring = rec.requests_for(small_split.test, small_split.dataset, context)
    base = np.stack(rec._score(scoring, None, progress=False))
    assert np.abs(tuned - base).max() > 1e-3  # training moved the scored "Yes"/"No" logits
