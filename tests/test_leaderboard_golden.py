"""The renderings of a hand-built results file, against golden files and against its numbers.

The golden files were read by hand once; the checks below tie every number
they print back to results.json, so a golden file cannot silently carry a
wrong value.
"""

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import cli

BOARD = Path(__file__).parent / "fixtures" / "board"
RESULTS = json.loads((BOARD / "results.json").read_text())


@pytest.mark.parametrize(
    "fmt,golden",
    [("md", "leaderboard.md"), ("latex", "leaderboard.tex"), ("csv", "leaderboard.csv")],
)
def test_each_format_matches_its_golden_file(fmt, golden):
    result = CliRunner().invoke(cli, ["leaderboard", str(BOARD), "--format", fmt])
    assert result.exit_code == 0, result.output
    assert result.output == (BOARD / golden).read_text()


def _markdown_rows(text: str) -> list[list[str]]:
    table = text.split("\n\n")[2]  # the candidate-list table
    return [[c.strip() for c in line.strip("|").split("|")] for line in table.splitlines()[2:]]


def test_markdown_rows_are_sorted_with_the_recorded_numbers():
    rows = _markdown_rows((BOARD / "leaderboard.md").read_text())
    runs = {r["name"]: r for r in RESULTS["runs"]}
    ndcg = [runs[row[0]]["metrics"]["ndcg@10"] for row in rows]
    assert ndcg == sorted(ndcg, reverse=True) and len(rows) == len(runs)
    for row in rows:
        run = runs[row[0]]
        assert row[9] == f"{run['metrics']['ndcg@10']:.4f}"
        low, high = run["ci95"]["ndcg@10"]
        assert row[11] == f"[{low:.3f}, {high:.3f}]"
    by_name = {row[0]: row for row in rows}
    assert by_name["sasrec"][12] == "best"
    # the fine-tuned row's pair with the best: t Holm .82, Wilcoxon Holm .76, tied
    assert by_name["llm (fine-tuned)"][12] == "0.82 / 0.76 ≈"
    assert by_name["popularity"][12] == "5e-12 / 1e-10"  # different from the best
    text = (BOARD / "leaderboard.md").read_text()
    assert "broken: ValueError: boom" in text  # the failed row is listed, not ranked
    assert "whole earlier sequence excluded" in text


def test_latex_bolds_the_best_and_underlines_the_ties():
    tex = (BOARD / "leaderboard.tex").read_text()
    assert r"\toprule" in tex and r"\bottomrule" in tex
    assert r"\textbf{0.5500}" in tex  # sasrec's NDCG@10, the best
    assert r"\underline{0.5432}" in tex  # tied with it
    assert r"\underline{0.4000}" not in tex  # popularity is not


def test_csv_carries_the_recorded_values():
    rows = list(csv.DictReader(io.StringIO((BOARD / "leaderboard.csv").read_text())))
    runs = {r["name"]: r for r in RESULTS["runs"]}
    for row in rows:
        assert float(row["ndcg@10"]) == runs[row["recommender"]]["metrics"]["ndcg@10"]
    assert {r["recommender"]: r["tied_with_best"] for r in rows}["llm (fine-tuned)"] == "True"
