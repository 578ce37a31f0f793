"""The leaderboard website, built from a small real board and driven in headless Chromium.

The board: popularity, random, text-knn and a zero-shot LLM-TRSR row (the tiny
random Llama with the embedded tokenizer, so its summaries are real generations
of a real model, only a small one) on 12 ml-100k users. The site is opened from
``file://``; every request that leaves ``file://`` is recorded and refused.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from helpers import run_cli

from harness.boards.views import evaluate_board
from harness.orchestration.experiment import Experiment, RunSpec
from harness.orchestration.records import SUMMARY_MARK, read_row_records
from harness.splits import SplitConfig

CHROMIUM = (
    os.environ.get("HARNESS_CHROMIUM")
    or shutil.which("chromium")
    or shutil.which("chromium-browser")
)


def _browser():
    """Playwright driving Debian's Chromium (or Playwright's own, where a workflow installed
    it); CI has one, elsewhere the browser tests skip with the command that installs it."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if CHROMIUM is None and not os.environ.get("CI"):
        pytest.skip("no chromium here (apt-get install -y chromium)")
    return sync_api


@pytest.fixture(scope="module")
def board(tmp_path_factory, tiny_model_dir):
    root = tmp_path_factory.mktemp("site-board")
    trsr = {
        "model": str(tiny_model_dir),
        "zero_shot": "true",
        "summarizer": "hierarchical",
        "summary_tokens": "6",
        "recent_items": "2",
    }
    experiment = Experiment(
        split=SplitConfig(users=12, history=12),
        runs=[
            RunSpec("popularity"),
            RunSpec("random"),
            RunSpec("text-knn"),
            RunSpec("llm-trsr", trsr, name="llm-trsr (tiny)"),
        ],
    )
    evaluate_board(experiment, root / "ml-100k-small", cache_dir=root / "cache", progress=False)
    return root / "ml-100k-small"


@pytest.fixture(scope="module")
def site(board, tmp_path_factory):
    out = tmp_path_factory.mktemp("site") / "site"
    result = run_cli("leaderboard", "site", str(board), "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out


def test_an_llm_row_keeps_its_prompts_and_verify_checks_they_belong(board, tmp_path):
    results = json.loads((board / "results.json").read_text())
    llm = next(r for r in results["runs"] if r["name"] == "llm-trsr (tiny)")
    assert all("records_file" not in r for r in results["runs"] if r is not llm)
    # a zero-shot LLM-TRSR row's time by phase: summaries, tokenizing, forward passes
    assert all(llm["costs"][f"phase_{p}_s"] > 0 for p in ("summaries", "tokenize", "forward"))
    assert "phase_train_s" not in llm["costs"]
    lines = read_row_records(board / llm["records_file"])
    split = json.loads((board / "split.json").read_text())
    assert [line["id"] for line in lines] == [r["id"] for r in split["test"]]
    summaries = json.loads((board / "records" / "summaries.json").read_text())
    first = lines[0]
    assert first["summary"] in summaries and SUMMARY_MARK in first["prompt"]
    assert len(first["continuations"]) == len(split["test"][0]["candidates"])
    assert "[Candidate Item]" in first["prompt"] and "movie_title:" in first["continuations"][0]
    assert run_cli("leaderboard", "verify", str(board)).returncode == 0

    changed = tmp_path / "swapped"
    shutil.copytree(board, changed)
    swapped = lines[1:] + lines[:1]  # records of other requests than the split's order
    from harness.orchestration.records import write_row_records

    write_row_records(changed / llm["records_file"], swapped)
    result = run_cli("leaderboard", "verify", str(changed))
    assert result.returncode == 1
    assert "llm-trsr (tiny): record 1 is request" in result.stderr


def test_records_added_to_an_older_board_are_the_ones_evaluate_writes(board, tmp_path):
    """`harness leaderboard records` rebuilds the prompts of a board made before records
    existed: byte for byte what evaluate wrote, without scoring anything again."""
    older = tmp_path / "older"
    shutil.copytree(board, older)
    shutil.rmtree(older / "records")
    results = json.loads((older / "results.json").read_text())
    for run in results["runs"]:
        run.pop("records_file", None)
    (older / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    cache = board.parent / "cache"  # the generation cache holds the summaries
    result = run_cli("leaderboard", "records", str(older), "--cache-dir", str(cache))
    assert result.returncode == 0, result.stderr
    assert "prompt records for 1 rows" in result.stdout
    again = json.loads((older / "results.json").read_text())
    assert "records_made" in again  # which commit rebuilt the prompts
    for name in ("llm-trsr_tiny.jsonl.gz", "summaries.json"):
        assert (older / "records" / name).read_bytes() == (board / "records" / name).read_bytes()
    assert run_cli("leaderboard", "verify", str(older)).returncode == 0


def test_a_folder_that_is_not_a_board_is_named(tmp_path):
    (tmp_path / "notes").mkdir()
    result = run_cli("leaderboard", "site", str(tmp_path / "notes"), "--out", str(tmp_path / "s"))
    assert result.returncode != 0
    assert f"{tmp_path / 'notes'}: not a board" in result.stderr
    assert not (tmp_path / "s").exists()  # nothing half-written


def _open(sync_api, tmp_path):
    """A browser page that refuses and records every request not to file://."""
    playwright = sync_api.sync_playwright().start()
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    outside, errors = [], []

    def refuse(route):
        outside.append(route.request.url)
        route.abort()

    page.route(lambda url: not url.startswith("file://"), refuse)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return playwright, browser, page, outside, errors


def test_the_site_in_a_real_browser(site, board, tmp_path):
    sync_api = _browser()
    playwright, browser, page, outside, errors = _open(sync_api, tmp_path)
    try:
        page.goto((site / "index.html").as_uri())
        assert page.locator("#boards tbody tr").count() == 1
        page.screenshot(path=str(tmp_path / "index.png"), full_page=True)

        page.goto((site / board.name / "index.html").as_uri())
        rows = page.locator("#quality tbody tr")
        assert rows.count() == 4  # one line per row
        ndcg_header = page.locator("#quality thead th").nth(1)
        assert ndcg_header.inner_text().startswith("NDCG@10")

        def column() -> list[float]:
            return [
                float(v)
                for v in page.locator("#quality tbody tr td:nth-child(2)").evaluate_all(
                    "cells => cells.map(c => c.dataset.value)"
                )
            ]

        assert column() == sorted(column(), reverse=True)  # as built: best first
        ndcg_header.click()  # already best first: the click turns it around
        assert column() == sorted(column())
        ndcg_header.click()
        assert column() == sorted(column(), reverse=True)
        names_before = rows.all_inner_texts()
        page.locator("#quality thead th").nth(0).click()  # by name, A-Z
        names = [t.split("\t")[0] for t in rows.all_inner_texts()]
        assert names == sorted(names) and rows.all_inner_texts() != names_before
        charts = page.locator("[data-chart]")
        assert charts.count() >= 3
        for i in range(charts.count()):
            assert charts.nth(i).locator("svg.main-svg").count() > 0  # Plotly drew it
        page.screenshot(path=str(tmp_path / "board.png"), full_page=True)

        split = json.loads((board / "split.json").read_text())
        request = split["test"][3]
        page.goto((site / board.name / "explorer.html").as_uri() + f"#{request['id']}")
        explorer = page.locator("#explorer")
        assert explorer.get_attribute("data-request") == request["id"]
        target = page.locator("#candidates tr.target")
        assert target.count() == 1  # the target is among the candidates, marked
        assert page.locator("#candidates tbody tr").count() == len(request["candidates"])
        ranks = target.locator("td[data-row]")
        assert ranks.count() == 4  # every row's rank of it
        scores = json.loads((site / board.name / "requests.js").read_text().split(" = ", 1)[1][:-2])
        llm_row = next(r for r in scores["rows"] if r["name"] == "llm-trsr (tiny)")
        slot = request["candidates"].index(request["target"])
        expected_rank = llm_row["ranks"][3][slot]
        shown = target.locator('td[data-row="llm-trsr (tiny)"]').inner_text()
        assert shown.startswith(f"{expected_rank} (")
        prompt = page.locator('details.prompt[data-row="llm-trsr (tiny)"]')
        prompt.locator("summary").click()
        summary = prompt.locator("pre.summary").inner_text().strip()
        text = prompt.locator("pre.prompt-text").inner_text()
        assert summary and summary in text and "[Candidate Item]" in text  # summary in place
        assert "{{summary}}" not in text
        page.locator("#request-next").click()
        assert explorer.get_attribute("data-request") == split["test"][4]["id"]
        page.screenshot(path=str(tmp_path / "explorer.png"), full_page=True)
    finally:
        browser.close()
        playwright.stop()
    assert outside == []  # nothing left file://
    assert errors == []


def test_an_unverified_or_dirty_board_is_built_and_marked(board, tmp_path):
    sync_api = _browser()
    changed = tmp_path / "dirty-board"
    shutil.copytree(board, changed)
    results = json.loads((changed / "results.json").read_text())
    results["provenance"]["commit"] = {"sha": "46031b5331aa", "dirty": True}
    results["runs"][0]["metrics"]["ndcg@10"] += 0.01
    (changed / "results.json").write_text(json.dumps(results))
    out = tmp_path / "site"
    assert run_cli("leaderboard", "site", str(changed), "--out", str(out)).returncode == 0
    playwright, browser, page, _, _ = _open(sync_api, tmp_path)
    try:
        for path in (out / "index.html", out / changed.name / "index.html"):
            page.goto(Path(path).as_uri())
            text = page.locator("body").inner_text()
            assert "does not verify" in text
            assert "dirty" in text
        page.goto((out / changed.name / "explorer.html").as_uri())
        assert page.locator('[data-status="dirty"]').count() == 1
        assert page.locator('[data-status="unverified"]').count() == 1
    finally:
        browser.close()
        playwright.stop()
