"""Block cutting, both summarization orders, fallbacks and caching, with a scripted generator."""

from pathlib import Path

import pytest
from helpers import Script, first_item

from harness.llm.generation_cache import CachedGenerator
from harness.recommender import RunContext
from llm_trsr.prompts import cut_blocks
from llm_trsr.summarizers import (
    EMPTY_HISTORY,
    HierarchicalSummarizer,
    RecurrentSummarizer,
    SummarizerOptions,
)


def _history(user: str, n: int) -> list[str]:
    return [f"{user}{i}" for i in range(n)]


CTX = RunContext(progress=False)


def test_cut_blocks_oldest_first_last_shorter():
    assert cut_blocks(list("abcdefg"), 3) == [["a", "b", "c"], ["d", "e", "f"], ["g"]]
    assert cut_blocks([], 5) == []
    with pytest.raises(ValueError):
        cut_blocks(["a"], 0)


def test_hierarchical_summarizes_all_blocks_in_one_batch_then_merges():
    script = Script()
    summarizer = HierarchicalSummarizer(SummarizerOptions(block_size=2), generator=script)
    out = summarizer.summarize([_history("a", 5), _history("b", 2)], CTX, "movies")
    # level 1: every block of every user, in one call, in history order
    assert [first_item(p) for p in script.calls[0]] == ["a0", "a2", "a4", "b0"]
    # level 2: only users with more than one block, block summaries in order
    assert len(script.calls) == 2 and len(script.calls[1]) == 1
    assert out == ["MERGED<S<a0>|S<a2>|S<a4>>", "S<b0>"]
    assert "watched" in script.calls[0][0]


def test_recurrent_updates_the_previous_summary_block_by_block():
    script = Script()
    summarizer = RecurrentSummarizer(SummarizerOptions(block_size=2), generator=script)
    out = summarizer.summarize([_history("a", 5), _history("b", 3), _history("c", 1)], CTX, "news")
    # step 0: block 1 of every user; step 1: users with 2+ blocks; step 2: users with 3 blocks
    assert [len(call) for call in script.calls] == [3, 2, 1]
    assert out[0] == "UPD<UPD<S<a0>+a2>+a4>"
    assert out[1] == "UPD<S<b0>+b2>"
    assert out[2] == "S<c0>"
    assert "clicked" in script.calls[0][0]


def test_empty_history_and_empty_summary_have_defined_results():
    script = Script(empty_for="x0")
    summarizer = HierarchicalSummarizer(SummarizerOptions(block_size=5), generator=script)
    out = summarizer.summarize([[], ["x0", "x1"]], CTX, "products")
    assert out[0] == EMPTY_HISTORY
    assert out[1] == "1. x0\n2. x1"  # an empty summary falls back to the raw block
    assert summarizer.empty_summaries == 1


def test_cache_means_a_rerun_generates_nothing(tmp_path: Path):
    histories = [_history("u", 7), _history("v", 4)]
    first_script = Script()
    cached = CachedGenerator(first_script, tmp_path / "g.sqlite", "fake", {"n": 1})
    first = HierarchicalSummarizer(SummarizerOptions(block_size=3), generator=cached)
    out1 = first.summarize(histories, CTX, "movies")
    assert cached.generated == 7  # 3 + 2 blocks, then 2 merges
    cached.close()

    again_script = Script()
    again = CachedGenerator(again_script, tmp_path / "g.sqlite", "fake", {"n": 1})
    out2 = HierarchicalSummarizer(SummarizerOptions(block_size=3), generator=again).summarize(
        histories, CTX, "movies"
    )
    assert out2 == out1
    assert again.generated == 0 and again_script.calls == []
    # other settings are another cache entry
    other = CachedGenerator(Script(), tmp_path / "g.sqlite", "fake", {"n": 2})
    HierarchicalSummarizer(SummarizerOptions(block_size=3), generator=other).summarize(
        histories, CTX, "movies"
    )
    assert other.generated == 7


def test_cache_keeps_finished_batches_of_a_killed_run(tmp_path: Path):
    class DiesOnSecondBatch(Script):
        def __call__(self, prompts):
            if self.calls:
                raise KeyboardInterrupt
            return super().__call__(prompts)

    prompts = [f"Given ... :\n1. p{i}\n\nCraft" for i in range(6)]
    dying = CachedGenerator(DiesOnSecondBatch(), tmp_path / "g.sqlite", "fake", {}, batch_size=4)
    with pytest.raises(KeyboardInterrupt):
        dying(prompts)
    dying.close()
    resumed = CachedGenerator(Script(), tmp_path / "g.sqlite", "fake", {}, batch_size=4)
    resumed(prompts)
    assert resumed.generated == 2  # only the batch that never finished


def test_generate_gets_the_batch_size_asked_for_in_length_order(tmp_path: Path):
    """The whole call's missing prompts are sorted by length before batching (not only
    inside a batch), and every batch but the last is exactly ``batch_size`` prompts."""
    prompts = [f"p{'x' * ((7 * i) % 13)}{i}" for i in range(23)]
    calls: list[list[str]] = []

    def upper(batch: list[str]) -> list[str]:
        calls.append(list(batch))
        return [p.upper() for p in batch]

    cached = CachedGenerator(upper, tmp_path / "g.sqlite", "fake", {}, batch_size=10)
    out = cached(prompts + prompts[:3])  # repeats are generated once
    assert [len(call) for call in calls] == [10, 10, 3]
    sent = [len(p) for call in calls for p in call]
    assert sent == sorted(sent) and len(set(sent)) > 3
    assert out == [p.upper() for p in prompts + prompts[:3]]  # in the caller's order
    journal = cached._db.execute("PRAGMA journal_mode").fetchone()[0]
    assert journal == "wal"  # data-parallel ranks share the file without blocking readers
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        CachedGenerator(upper, tmp_path / "h.sqlite", "fake", {}, batch_size=0)
