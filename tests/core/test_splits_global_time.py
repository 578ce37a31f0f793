"""The global-time protocol: one calendar cut for validation, one for test, and nothing
a recommender trains on comes after a test target. Leave-one-out stays byte-identical."""

import json

import numpy as np
import pytest
from helpers import ROOT, run_cli

from harness.boards.views import evaluate_board
from harness.dataset import Catalog, Dataset
from harness.errors import HarnessError
from harness.orchestration.experiment import Experiment, RunSpec
from harness.splits import SplitConfig, build_split, read_split, write_split


@pytest.fixture(scope="module")
def split(ml100k):
    return build_split(ml100k, SplitConfig(protocol="global-time", valid_time=0.7, test_time=0.8))


def test_training_ends_before_the_validation_cut_and_targets_follow_the_cuts(split, ml100k):
    details = split.protocol_details
    valid_cut, test_cut = details["valid_cut"], details["test_cut"]
    times = dict(zip(ml100k.sequence_ids, ml100k.timestamps))
    whole = dict(zip(ml100k.sequence_ids, ml100k.sequences))
    latest_training = max(
        times[sid][len(seq) - 1] for sid, seq in zip(split.train_ids, split.train)
    )
    assert latest_training < valid_cut
    for requests, low, high in ((split.valid, valid_cut, test_cut), (split.test, test_cut, np.inf)):
        for r in requests:
            end = r.offset + len(r.history)
            seq, when = whole[r.sequence_id], times[r.sequence_id]
            assert seq[end] == r.target and low <= when[end] < high
            assert end == 0 or when[end - 1] < low  # the first item after the cut
            assert np.array_equal(seq[max(0, end - 25) : end], r.history)  # all of what came before
            assert not set(seq.tolist()) & (set(r.candidates.tolist()) - {r.target})
    # no training interaction of any user comes after any test target
    assert latest_training < min(
        times[r.sequence_id][r.offset + len(r.history)] for r in split.test
    )


def test_every_user_is_evaluated_or_counted_as_skipped(split, ml100k):
    details = split.protocol_details
    skipped = details["users_without_test_target"] + details["users_without_history_before_test"]
    assert len(split.test) + skipped == len(ml100k.sequences)
    assert len(split.test) - len(split.valid) == details["evaluated_without_validation_target"]
    assert len(split.test) > 50


def test_same_seed_same_bytes_and_the_file_records_the_protocol(split, ml100k, tmp_path):
    again = build_split(ml100k, SplitConfig(protocol="global-time", valid_time=0.7, test_time=0.8))
    assert again.sha256 == split.sha256
    write_split(split, tmp_path / "split.json")
    data = json.loads((tmp_path / "split.json").read_text())
    assert data["params"]["protocol"] == "global-time" and data["params"]["test_time"] == 0.8
    assert data["protocol_details"] == split.protocol_details
    read = read_split(tmp_path / "split.json", ml100k)
    assert read.config.protocol == "global-time" and read.protocol_details == split.protocol_details
    timestamp = build_split(
        ml100k,
        SplitConfig(
            protocol="global-time",
            valid_time=split.protocol_details["valid_cut"],
            test_time=split.protocol_details["test_cut"],
        ),
    )
    assert [r.target for r in timestamp.test] == [r.target for r in split.test]


def test_leave_one_out_splits_keep_the_committed_bytes(ml100k):
    """A split file without ``protocol`` is leave-one-out: the committed board's hash holds."""
    committed = json.loads((ROOT / "leaderboards" / "ml-100k" / "split.json").read_text())
    assert "protocol" not in committed["params"]
    assert build_split(ml100k, SplitConfig(seed=0)).sha256 == committed["sha256"]


def test_a_cut_that_leaves_no_test_user_is_an_error():
    catalog = Catalog([f"i{k}" for k in range(30)], [f"item {k}" for k in range(30)])
    sequences = [np.array([0, 1, 2], dtype=np.int32), np.array([3], dtype=np.int32)]
    times = [np.array([1.0, 2.0, 3.0]), np.array([10.0])]
    data = Dataset("tiny", "movies", catalog, ["u1", "u2"], sequences, timestamps=times)
    with pytest.raises(HarnessError, match="split option test_time: no user"):
        build_split(
            data, SplitConfig(protocol="global-time", valid_time=5.0, test_time=10.0, negatives=3)
        )
    untimed = Dataset("untimed", "movies", catalog, ["u1"], sequences[:1])
    with pytest.raises(HarnessError, match="needs a per-user dataset with timestamps"):
        build_split(untimed, SplitConfig(protocol="global-time", negatives=3))


def test_a_global_time_board_verifies_and_regenerates(tmp_path):
    experiment = Experiment(
        split=SplitConfig(protocol="global-time", valid_time=0.7, test_time=0.8),
        runs=[RunSpec("random"), RunSpec("popularity")],
    )
    board = tmp_path / "board"
    evaluate_board(experiment, board, cache_dir=tmp_path / "cache", progress=False)
    results = json.loads((board / "results.json").read_text())
    assert results["split"]["protocol"] == "global-time"
    assert "global-time: trains on what precedes" in (board / "leaderboard.md").read_text()
    code, out, err = run_cli("leaderboard", "verify", str(board))
    assert code == 0 and "verified" in out, err
    code, out, err = run_cli("leaderboard", "regenerate", "--check", str(board))
    assert code == 0, err
