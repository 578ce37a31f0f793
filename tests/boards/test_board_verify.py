"""A board is self-contained: `verify` recomputes it, `regenerate --check` reruns it.

Both must fail, naming the row and the metric, when one committed metric or
one committed score is changed by hand.
"""

import json
import shutil

import numpy as np
import pytest
from helpers import run_cli

from harness.boards.views import evaluate_board
from harness.orchestration.experiment import Experiment, RunSpec
from harness.orchestration.row_scores import read_row_scores, write_row_scores
from harness.splits import SplitConfig


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    """popularity and random on 40 ml-100k users, histories cut to 3 items."""
    root = tmp_path_factory.mktemp("board")
    experiment = Experiment(
        split=SplitConfig(users=40, history=3), runs=[RunSpec("popularity"), RunSpec("random")]
    )
    evaluate_board(experiment, root / "board", cache_dir=root / "cache", progress=False)
    return root / "board"


def test_a_board_holds_what_recomputes_it(board):
    results = json.loads((board / "results.json").read_text())
    assert (board / "split.json").is_file()
    assert results["experiment"]["runs"][0]["recommender"] == "popularity"
    assert results["provenance"]["command"] and results["provenance"]["versions"]["numpy"]
    assert {r["seed"] for r in results["runs"]} == {0}
    popularity = read_row_scores(board / "scores" / "popularity.npz")
    assert popularity["scores"].shape == (40, 21)
    assert popularity["top_items"].shape == (40, 20)
    # target_rank is 0-based (0: the target ranks first), as the README states
    rank = popularity["target_rank"]
    assert rank.min() >= 0
    assert results["runs"][0]["full_ranking"]["recall@10"] == pytest.approx((rank < 10).mean())


def test_full_ranking_never_counts_an_earlier_item(board, ml100k):
    """With histories of 3 items, the old rule let older items of the user rank."""
    split = json.loads((board / "split.json").read_text())
    top = read_row_scores(board / "scores" / "popularity.npz")["top_items"]
    sequences = dict(zip(ml100k.sequence_ids, ml100k.sequences))
    longer = 0
    for request, items in zip(split["test"], top):
        sequence = sequences[request["id"]]
        earlier = set(sequence[:-1].tolist()) - {int(sequence[-1])}
        assert not earlier & set(items.tolist())
        longer += len(earlier) > len(request["history"])
    assert longer > 30  # most users have more earlier items than their 3-item history


def test_verify_passes_then_names_a_changed_metric_and_a_changed_score(board, tmp_path):
    code, out, err = run_cli("leaderboard", "verify", str(board))
    assert code == 0, err
    assert "verified" in out

    changed = tmp_path / "metric"
    shutil.copytree(board, changed)
    results = json.loads((changed / "results.json").read_text())
    results["runs"][0]["metrics"]["ndcg@10"] += 0.001
    (changed / "results.json").write_text(json.dumps(results))
    code, _, err = run_cli("leaderboard", "verify", str(changed))
    assert code == 1
    assert f"{results['runs'][0]['name']}: ndcg@10 recorded" in err

    changed = tmp_path / "score"
    shutil.copytree(board, changed)
    path = changed / "scores" / "random.npz"
    arrays = read_row_scores(path)
    scores = arrays["scores"].copy()
    row = 0
    positive = int(np.argmax(scores[row]))
    scores[row, positive] = scores[row].min() - 1  # the top candidate falls to the bottom
    write_row_scores(path, scores)
    code, _, err = run_cli("leaderboard", "verify", str(changed))
    assert code == 1 and "random: " in err and "recorded" in err


def test_regenerate_check_passes_then_names_a_drift(board, tmp_path):
    cache = tmp_path / "cache"
    args = ["leaderboard", "regenerate", "--check", "--cache-dir", str(cache)]
    code, out, err = run_cli(*args, str(board))
    assert code == 0, err
    assert "within every row's tolerance" in out and "| popularity" in out

    changed = tmp_path / "drift"
    shutil.copytree(board, changed)
    results = json.loads((changed / "results.json").read_text())
    results["runs"][1]["metrics"]["recall@10"] = 0.123
    (changed / "results.json").write_text(json.dumps(results))
    code, out, err = run_cli(*args, str(changed))
    assert code == 1
    assert f"{results['runs'][1]['name']}: recall@10 committed 0.123, regenerated" in err


def test_every_row_is_tested_against_chance_and_verify_recomputes_it(board, tmp_path):
    results = json.loads((board / "results.json").read_text())
    tests = results["chance_tests"]
    assert tests["ndcg@10"]["chance"] == pytest.approx(0.21636, abs=1e-5)
    assert tests["auc"]["chance"] == 0.5
    assert set(tests["auc"]["rows"]) == {"popularity", "random"}
    popularity = tests["auc"]["rows"]["popularity"]
    assert popularity["mean_diff"] > 0 and popularity["holm_p"] < 0.05
    board_md = (board / "leaderboard.md").read_text()
    assert "NDCG@10 vs chance" in board_md and "Holm-corrected over this board's 2 rows" in board_md
    # candidate-position diagnostics: both rows are order-free
    assert all(len(r["position"]["top1_by_slot"]) == 21 for r in results["runs"])
    assert "Candidate position:" in board_md and "finds no row that favours a slot" in board_md

    changed = tmp_path / "chance"
    shutil.copytree(board, changed)
    results["chance_tests"]["auc"]["rows"]["random"]["holm_p"] = 0.001
    (changed / "results.json").write_text(json.dumps(results))
    code, _, err = run_cli("leaderboard", "verify", str(changed))
    assert code == 1
    assert "random: auc vs chance holm_p recorded 0.001" in err


def test_a_board_from_a_dirty_tree_warns_and_fails_when_clean_is_required(board, tmp_path):
    changed = tmp_path / "dirty"
    shutil.copytree(board, changed)
    results = json.loads((changed / "results.json").read_text())
    results["provenance"]["commit"] = {"sha": "46031b5331aa", "dirty": True}
    (changed / "results.json").write_text(json.dumps(results))
    code, out, err = run_cli("leaderboard", "verify", str(changed))
    assert code == 0 and "verified" in out
    assert "warning: made from a dirty tree at 46031b5331" in err
    code, _, err = run_cli("leaderboard", "verify", "--require-clean", str(changed))
    assert code == 1 and "made from a dirty tree" in err
