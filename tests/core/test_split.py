import json

import numpy as np
import pytest

from harness.dataset import Catalog, Dataset
from harness.errors import HarnessError
from harness.splits import SplitConfig, build_split, read_split, write_split


def test_split_is_byte_identical_for_the_same_seed(ml100k, tmp_path):
    write_split(build_split(ml100k, SplitConfig(seed=7, users=100)), tmp_path / "a.json")
    write_split(build_split(ml100k, SplitConfig(seed=7, users=100)), tmp_path / "b.json")
    write_split(build_split(ml100k, SplitConfig(seed=8, users=100)), tmp_path / "c.json")
    a, b, c = ((tmp_path / f"{n}.json").read_bytes() for n in "abc")
    assert a == b
    assert a != c


def test_leave_one_out_contract(ml100k):
    split = build_split(ml100k, SplitConfig(seed=0, users=150, history=10))
    by_user = dict(zip(ml100k.sequence_ids, ml100k.sequences))
    positive_slots = set()
    assert len(split.test) == len(split.valid) == 150
    for valid, test in zip(split.valid, split.test):
        seq = by_user[test.sequence_id]
        assert test.target == seq[-1] and valid.target == seq[-2]
        assert list(test.history) == list(seq[-11:-1])
        assert list(valid.history) == list(seq[-12:-2])
        for request in (valid, test):
            assert len(request.candidates) == 21
            assert len(set(request.candidates.tolist())) == 21
            negatives = set(request.candidates.tolist()) - {request.target}
            assert not negatives & set(seq.tolist())
            positive_slots.add(request.positive_index)
    assert len(positive_slots) > 10  # shuffled: the positive has no fixed slot
    train = dict(zip(split.train_ids, split.train))
    for test in split.test:
        assert list(train[test.sequence_id]) == list(by_user[test.sequence_id][:-2])


def test_round_trip_and_tamper_detection(ml100k, tmp_path):
    split = build_split(ml100k, SplitConfig(seed=1, users=30))
    path = tmp_path / "split.json"
    write_split(split, path)
    loaded = read_split(path, ml100k)
    assert loaded.sha256 == split.sha256
    assert [r.candidates.tolist() for r in loaded.test] == [
        r.candidates.tolist() for r in split.test
    ]
    data = json.loads(path.read_text())
    data["test"][0]["target"] = data["test"][0]["candidates"][0]
    path.write_text(json.dumps(data))
    with pytest.raises(HarnessError, match="sha256 mismatch"):
        read_split(path, ml100k)


def _tiny(sequences, n_items=50, kind="users"):
    ids = [str(i) for i in range(n_items)]
    catalog = Catalog(ids, [f"title: item {i}" for i in ids])
    seqs = [np.array(s, dtype=np.int32) for s in sequences]
    return Dataset("tiny", "movies", catalog, [f"u{i}" for i in range(len(seqs))], seqs, kind)


def test_no_user_long_enough_is_a_clear_error():
    with pytest.raises(HarnessError, match="no user with the 3 interactions"):
        build_split(_tiny([[1, 2], [3]]), SplitConfig())


def test_too_few_items_for_negatives_is_a_clear_error():
    with pytest.raises(HarnessError, match="negatives"):
        build_split(_tiny([[1, 2, 3]], n_items=10), SplitConfig())


def test_session_split_assigns_whole_sequences():
    rng = np.random.default_rng(0)
    seqs = [rng.choice(200, size=rng.integers(2, 12), replace=False) for _ in range(90)]
    split = build_split(
        _tiny(seqs, n_items=200, kind="sessions"), SplitConfig(valid_size=20, test_size=20)
    )
    test_ids = {r.sequence_id for r in split.test}
    valid_ids = {r.sequence_id for r in split.valid}
    assert len(test_ids) == len(valid_ids) == 20
    assert not test_ids & valid_ids
    assert not (test_ids | valid_ids) & set(split.train_ids)
    assert len(split.train) == 50
