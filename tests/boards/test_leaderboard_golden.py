"""The renderings of a hand-built results file, against golden files and against its numbers.

The golden files were read by hand once; every test renders with the code (the
CLI or the renderer) and checks that output: against its golden file, and by
tying every number it prints back to results.json, so neither a golden file nor
a rendering can silently carry a wrong value.
"""

import csv
import io
import json

import pytest
from helpers import FIXTURES, ROOT, run_cli

from harness.boards.formats import render_csv, render_latex
from harness.boards.render import render_leaderboard

BOARD = FIXTURES / "board"
RESULTS = json.loads((BOARD / "results.json").read_text())


@pytest.mark.parametrize(
    "fmt,golden",
    [("md", "leaderboard.md"), ("latex", "leaderboard.tex"), ("csv", "leaderboard.csv")],
)
def test_each_format_matches_its_golden_file(fmt, golden):
    code, out, err = run_cli("leaderboard", BOARD, "--format", fmt)
    assert code == 0, err
    assert out == (BOARD / golden).read_text()


def _markdown_table(text: str, title: str) -> list[list[str]]:
    """The rows of the table under ``### title``."""
    lines = text.split(f"### {title}\n\n", 1)[1].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    table = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        table.append(line)
    return [[c.strip() for c in line.strip("|").split("|")] for line in table[2:]]


def test_the_quality_table_is_sorted_with_the_recorded_numbers():
    text = render_leaderboard(RESULTS)  # the code's output, not the golden file
    rows = _markdown_table(text, "Quality")
    runs = {r["name"]: r for r in RESULTS["runs"]}
    ndcg = [runs[row[0]]["metrics"]["ndcg@10"] for row in rows]
    assert ndcg == sorted(ndcg, reverse=True) and len(rows) == len(runs)
    for row in rows:
        run = runs[row[0]]
        assert row[1:5] == [
            f"{run['metrics'][m]:.4f}" for m in ("ndcg@10", "recall@10", "mrr@10", "auc")
        ]
        low, high = run["ci95"]["ndcg@10"]
        assert row[5] == f"[{low:.3f}, {high:.3f}]"
    by_name = {row[0]: row for row in rows}
    assert by_name["sasrec"][6] == "best"
    # the fine-tuned row's pair with the best: t Holm .82, Wilcoxon Holm .76, tied
    assert by_name["llm (fine-tuned)"][6] == "0.82 / 0.76 ≈"
    assert by_name["popularity"][6] == "5e-12 / 1e-10"  # different from the best
    assert "broken: ValueError: boom" in text  # the failed row is listed, not ranked
    assert "whole earlier sequence excluded" in text


def test_the_cost_table_carries_the_recorded_costs():
    rows = _markdown_table(render_leaderboard(RESULTS), "Cost")
    runs = {r["name"]: r for r in RESULTS["runs"]}
    assert {row[0] for row in rows} == set(runs)
    for row in rows:
        costs = runs[row[0]]["costs"]
        assert row[4] == f"{costs['fit_s']:.1f}" and row[6] == f"{costs['peak_rss_mb']:.0f}"


def test_quality_and_cost_tables_fit_120_columns_on_every_committed_board():
    boards = ROOT / "leaderboards"
    for path in [BOARD / "results.json", *boards.glob("*/results.json")]:
        text = render_leaderboard(json.loads(path.read_text()))
        for title in ("Quality", "Cost"):
            block = text.split(f"### {title}\n\n", 1)[1].split("\n\n###", 1)[0]
            table = [line for line in block.splitlines() if line.startswith("|")]
            assert table and max(map(len, table)) <= 120, (path, title)


def test_latex_bolds_the_best_and_underlines_the_ties():
    tex = render_latex(RESULTS)  # the code's output, not the golden file
    assert r"\toprule" in tex and r"\bottomrule" in tex
    assert r"\textbf{0.5500}" in tex  # sasrec's NDCG@10, the best
    assert r"\underline{0.5432}" in tex  # tied with it
    assert r"\underline{0.4000}" not in tex  # popularity is not


def test_csv_carries_the_recorded_values():
    rows = list(csv.DictReader(io.StringIO(render_csv(RESULTS))))
    runs = {r["name"]: r for r in RESULTS["runs"]}
    assert {row["recommender"] for row in rows} == set(runs)
    for row in rows:
        assert float(row["ndcg@10"]) == runs[row["recommender"]]["metrics"]["ndcg@10"]
    assert {r["recommender"]: r["tied_with_best"] for r in rows}["llm (fine-tuned)"] == "True"
