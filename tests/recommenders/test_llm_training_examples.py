"""Training examples for the LLM rows, and the block alignment that lets them share summaries.

No model is loaded: examples are plain data, and summaries come from a scripted generator.
"""

from dataclasses import dataclass

import numpy as np
import pytest
from helpers import Script

from harness.llm.generation_cache import CachedGenerator
from harness.recommender import RunContext
from harness.recommenders.llm import LLMOptions
from harness.splits import SplitConfig, build_split, read_split, write_split
from harness_baselines.truncated_llm import TruncatedLLM, TruncatedOptions
from llm_trsr.recommender import LLMTRSR, TRSROptions
from llm_trsr.summarizers import HierarchicalSummarizer, RecurrentSummarizer, SummarizerOptions


@pytest.fixture(scope="module")
def split(ml100k):
    return build_split(ml100k, SplitConfig(seed=0, users=20, history=25))


def test_examples_take_the_newest_targets_with_their_own_windows(split, ml100k):
    data = split.train_data()
    rec = TruncatedLLM(TruncatedOptions(train_sequences=30, examples_per_user=3, negatives=4))
    examples = rec.training_examples(data, seed=0)
    whole = dict(zip(ml100k.sequence_ids, ml100k.sequences))
    by_target = {}
    for e in examples:
        assert e.labels == (True, False, False, False, False)
        assert len(set(e.candidates)) == 5
        by_target.setdefault(len(e.history) + e.offset, []).append(e)
    assert len(examples) == 90  # 30 users x 3 targets (every sampled user has > 3 items)
    checked_users = checked_examples = 0
    for index, seq in enumerate(data.train):
        mine = [
            e
            for e in examples
            if e.offset + len(e.history) <= len(seq)
            and np.array_equal(seq[e.offset : e.offset + len(e.history)], e.history)
            and e.candidates[0] == seq[e.offset + len(e.history)]
        ]
        if not mine:
            continue  # a user outside the sample
        checked_users += 1
        positions = [e.offset + len(e.history) for e in mine]
        assert positions == [len(seq) - 1, len(seq) - 2, len(seq) - 3]  # newest first
        for e in mine:
            assert len(e.history) == min(25, e.offset + len(e.history))  # the full window
            # negatives avoid the whole sequence, held-out validation and test items included
            full = set(whole[data.train_ids[index]].tolist())
            assert not full & set(e.candidates[1:])
            checked_examples += 1
    # every sampled user, and each of its examples, was found in its sequence and checked
    assert (checked_users, checked_examples) == (30, 90)


def test_negatives_are_seeded(split):
    data = split.train_data()
    rec = TruncatedLLM(TruncatedOptions(train_sequences=10))
    first, again = rec.training_examples(data, 0), rec.training_examples(data, 0)
    assert [e.candidates for e in first] == [e.candidates for e in again]
    assert [e.candidates for e in first] != [e.candidates for e in rec.training_examples(data, 1)]


def test_smaller_training_samples_are_nested_in_larger_ones(ml100k):
    """The learning curve's points add users: 30 inside 60 inside 120, examples included."""
    data = build_split(ml100k, SplitConfig(seed=0, users=200, history=25)).train_data()

    # each example's window identifies its user: the last two targets of every sequence
    owner = {}
    for sid, seq in zip(data.train_ids, data.train):
        for end in range(max(1, len(seq) - 2), len(seq)):
            start = max(0, end - 25)
            owner[(start, seq[start:end].tobytes(), int(seq[end]))] = sid

    def examples(limit, seed=0):
        rec = TruncatedLLM(TruncatedOptions(train_sequences=limit))
        keys = [
            (e.offset, np.asarray(e.history).tobytes(), e.candidates[0])
            for e in rec.training_examples(data, seed=seed)
        ]
        users = {owner[k] for k in keys}
        out = rec.training_examples(data, seed=seed)
        return users, {(owner[k], e.offset, e.candidates) for k, e in zip(keys, out)}

    (u30, e30), (u60, e60), (u120, e120) = examples(30), examples(60), examples(120)
    assert (len(u30), len(u60), len(u120)) == (30, 60, 120)
    assert u30 < u60 < u120
    assert e30 < e60 < e120
    assert examples(30, seed=1)[0] != u30  # another seed, another sample


def test_validation_samples_are_nested_and_zero_skips_validation(split):
    small = TruncatedLLM(TruncatedOptions(epochs=2, valid_requests=5)).valid_sample(split.valid, 0)
    large = TruncatedLLM(TruncatedOptions(epochs=2, valid_requests=10)).valid_sample(split.valid, 0)
    ids = lambda rs: {r.sequence_id for r in rs}  # noqa: E731
    assert len(small) == 5 and len(large) == 10 and ids(small) < ids(large)
    assert (
        TruncatedLLM(TruncatedOptions(epochs=2, valid_requests=0)).valid_sample(split.valid, 0)
        == []
    )
    with pytest.raises(ValueError, match="valid_requests must be at least 0"):
        LLMOptions(valid_requests=-1)


def test_requests_record_where_their_history_starts(split, ml100k, tmp_path):
    write_split(split, tmp_path / "split.json")
    again = read_split(tmp_path / "split.json", ml100k)
    whole = dict(zip(ml100k.sequence_ids, ml100k.sequences))
    for r, s in zip(split.test + split.valid, again.test + again.valid):
        assert r.offset == s.offset
        seq = whole[r.sequence_id]
        assert np.array_equal(seq[r.offset : r.offset + len(r.history)], r.history)
    assert any(r.offset > 0 for r in split.test)


def test_option_checks():
    with pytest.raises(ValueError, match="listwise needs packing"):
        LLMOptions(loss="listwise", packing=False)
    with pytest.raises(ValueError, match="negatives must be at least 1"):
        LLMOptions(negatives=0)
    with pytest.raises(ValueError, match="warmup"):
        LLMOptions(warmup=1.5)


@dataclass
class Window:
    history: np.ndarray
    offset: int


class FakeCatalog:
    def texts(self, items):
        return [f"item{int(i)}" for i in items]


class FakeDataset:
    catalog = FakeCatalog()
    domain = "movies"


@pytest.mark.parametrize(
    ("summarizer", "new_prompts"),
    [(HierarchicalSummarizer, 2), (RecurrentSummarizer, 1)],
)
def test_windows_one_item_apart_share_their_full_blocks(tmp_path, summarizer, new_prompts):
    """Two targets of one user one item apart: only the newest partial block and the
    merge (hierarchical) or the last update (recurrent) are generated for the second."""
    chosen = LLMTRSR(TRSROptions(block_size=5)).chosen
    cached = CachedGenerator(Script(), tmp_path / "g.sqlite", model="script", settings={})
    chosen._instance = summarizer(SummarizerOptions(block_size=5), generator=cached)
    context = RunContext(progress=False, cache_dir=tmp_path)
    sequence = np.arange(100, 140)
    first = chosen.summaries([Window(sequence[8:33], 8)], FakeDataset(), context)
    generated = cached.generated
    assert generated >= 5
    chosen.summaries([Window(sequence[9:34], 9)], FakeDataset(), context)
    # at most the partial block and the merge (the scripted merge can repeat itself)
    assert 1 <= cached.generated - generated <= new_prompts
    assert all("item133" in prompt or "Combine" in prompt for prompt in cached._generate.calls[-1])
    # the window's items before its first block boundary stay out of the summary
    assert "item108" not in first[0] and "item109" not in first[0]
