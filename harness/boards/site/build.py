"""Build the static site: index, one page per board, one request explorer per board.

Pages are plain HTML with their data inline (``<script>`` blocks and a
``requests.js`` per board, since browsers refuse ``fetch`` from ``file://``).
Charts are Plotly figures built here with ``plotly.graph_objects`` and drawn
by the bundled ``plotly.min.js``; tables sort with a few lines of our own JS.
"""

from __future__ import annotations

import html
import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from harness.atomic import publish_folder
from harness.boards.site import charts
from harness.boards.verify import per_request_metrics, provenance_problem, verify_board
from harness.errors import HarnessError
from harness.metrics import FULL_CUTOFFS
from harness.orchestration.row_scores import read_row_scores

STATIC = Path(__file__).parent / "static"
QUALITY = ["ndcg@10", "recall@10", "mrr@10", "auc", "recall@3", "ndcg@3"]
COSTS = [
    ("prompt_tokens_per_request", "prompt tok/req", ".0f"),
    ("train_examples", "train examples", ".0f"),
    ("fit_s", "train s", ".1f"),
    ("score_s_per_1k", "score s/1k req", ".2f"),
    ("peak_rss_mb", "peak MB", ".0f"),
]


def build_site(boards: Sequence[Path], out: Path, data_dir: Path | None = None) -> list[str]:
    """Write the site for ``boards`` into ``out`` (replaced whole, atomically); returns the
    board names. A folder without results.json and split.json is an error naming it."""
    from harness.paths import cache_root

    folders = [Path(b) for b in boards]
    for folder in folders:
        if not (folder / "results.json").is_file() or not (folder / "split.json").is_file():
            raise HarnessError(f"{folder}: not a board (no results.json and split.json in it)")
    names = [folder.name for folder in folders]
    if len(set(names)) != len(names):
        raise HarnessError(f"two boards share a folder name: {sorted(names)}")
    out = Path(out)
    with publish_folder(out) as tmp:
        (tmp / "assets").mkdir()
        _write_assets(tmp / "assets")
        summaries = []
        for folder in folders:
            board = read_board(folder, data_dir, cache_root(None))
            summaries.append(board["summary"])
            page = tmp / folder.name
            page.mkdir()
            (page / "index.html").write_text(board_page(board))
            (page / "explorer.html").write_text(explorer_page(board))
            (page / "requests.js").write_text(
                "window.BOARD_REQUESTS = " + _json(board["explorer"]) + ";\n"
            )
        (tmp / "index.html").write_text(index_page(summaries))
    return names


def _write_assets(folder: Path) -> None:
    from plotly.offline import get_plotlyjs

    (folder / "plotly.min.js").write_text(get_plotlyjs())
    for name in ("site.js", "site.css"):
        shutil.copyfile(STATIC / name, folder / name)


def _json(value: Any) -> str:
    """JSON safe inside a <script> block."""
    return json.dumps(value, separators=(",", ":")).replace("</", "<\\/")


def read_board(folder: Path, data_dir: Path | None, cache_dir: Path) -> dict[str, Any]:
    """Everything the pages of one board show, read from its files."""
    results = json.loads((folder / "results.json").read_text())
    split = json.loads((folder / results["split"].get("file", "split.json")).read_text())
    problems = verify_board(folder)
    dirty = provenance_problem(folder)
    every = sorted(results["runs"], key=lambda r: -r["metrics"]["ndcg@10"])
    runs = [r for r in every if not r.get("rerank")]  # reranked rows: full-catalog table
    commit = (results.get("provenance") or {}).get("commit") or {}
    summary = {
        "name": folder.name,
        "dataset": results["dataset"]["name"],
        "protocol": results["split"].get("protocol", "leave-one-out"),
        "requests": results["split"]["test_requests"],
        "candidates": results["split"]["candidates_per_request"],
        "rows": len(every),
        "date": (results.get("provenance") or {}).get("date", ""),
        "commit": commit.get("sha", ""),
        "dirty": bool(commit.get("dirty")),
        "verified": not problems,
        "problems": problems,
        "provenance_problem": dirty,
        "best": runs[0]["name"] if runs else "",
    }
    return {
        "summary": summary,
        "results": results,
        "runs": runs,
        "every": every,
        "charts": charts.board_charts(results),
        "explorer": explorer_data(folder, results, split, runs, data_dir, cache_dir),
    }


def _texts(results: dict[str, Any], data_dir: Path | None, cache_dir: Path):
    """id -> item text from the board's dataset, or None when it cannot be loaded here."""
    from harness.data.context import DatasetContext
    from harness.orchestration.runner import load_dataset
    from harness.plugins import default_registry

    dataset = results["dataset"]
    seed = results["split"]["params"]["seed"]
    try:
        loaded = load_dataset(
            dataset["name"],
            dataset.get("options") or {},
            DatasetContext(data_dir, cache_dir, seed=seed),
            default_registry(),
        )
    except HarnessError:
        return None
    catalog = loaded.catalog
    return {item_id: catalog.text(i) for i, item_id in enumerate(catalog.ids)}


def explorer_data(
    folder: Path,
    results: dict[str, Any],
    split: dict[str, Any],
    runs: list[dict[str, Any]],
    data_dir: Path | None,
    cache_dir: Path,
) -> dict[str, Any]:
    """Per test request: history and candidates as text, the target, and every row's score
    and rank of each candidate; an LLM row's prompt where its records hold one."""
    texts = _texts(results, data_dir, cache_dir)
    test = split["test"]
    positive = np.array([r["candidates"].index(r["target"]) for r in test])
    rows = []
    for run in runs:
        arrays = read_row_scores(folder / run["scores_file"])
        scores = arrays["scores"]
        ranks = (-scores).argsort(axis=1, kind="stable").argsort(axis=1)
        ndcg = per_request_metrics(scores, positive)["ndcg@10"]
        rows.append(
            {
                "name": run["name"],
                "scores": np.round(scores, 5).tolist(),
                "ranks": (ranks + 1).tolist(),
                "ndcg": np.round(ndcg, 4).tolist(),
            }
        )
    records = read_records(folder, runs)
    items = sorted({i for r in test for i in [*r["history"], *r["candidates"]]})
    return {
        "items": {i: (texts or {}).get(i, f"item {i}") for i in items},
        "requests": [
            {
                "id": r["id"],
                "history": r["history"],
                "candidates": r["candidates"],
                "target": r["target"],
            }
            for r in test
        ],
        "rows": rows,
        "records": records,
    }


def read_records(folder: Path, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The rows' per-request prompt records (``records/``), by row name; none when absent."""
    from harness.orchestration.records import read_row_records, read_summaries

    if not (folder / "records").is_dir():
        return {"rows": {}, "summaries": {}}
    out = {}
    for run in runs:
        path = run.get("records_file")
        if path and (folder / path).is_file():
            out[run["name"]] = read_row_records(folder / path)
    return {"rows": out, "summaries": read_summaries(folder / "records")}


# ---------------------------------------------------------------------- pages


def _page(title: str, body: str, depth: int, scripts: Sequence[str] = ()) -> str:
    up = "../" * depth
    tags = "\n".join(f'<script src="{s}"></script>' for s in scripts)
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<link rel="stylesheet" href="{up}assets/site.css">
</head>
<body>
<nav><a href="{up}index.html">All boards</a></nav>
{body}
<script src="{up}assets/plotly.min.js"></script>
{tags}
<script src="{up}assets/site.js"></script>
</body>
</html>
"""


def _status(summary: dict[str, Any]) -> str:
    """The board's standing, shown on every page that shows it."""
    notes = []
    if not summary["verified"]:
        notes.append(
            '<p class="warning" data-status="unverified">This board does not verify: '
            + html.escape("; ".join(summary["problems"][:3]))
            + "</p>"
        )
    if summary["provenance_problem"]:
        notes.append(
            '<p class="warning" data-status="dirty">'
            + html.escape(summary["provenance_problem"])
            + "</p>"
        )
    return "\n".join(notes)


def index_page(summaries: list[dict[str, Any]]) -> str:
    head = [
        "board",
        "dataset",
        "protocol",
        "test requests",
        "rows",
        "best NDCG@10",
        "date",
        "commit",
        "status",
    ]
    rows = []
    for s in summaries:
        status = "verified" if s["verified"] else "does not verify"
        if s["dirty"]:
            status += ", dirty tree"
        rows.append(
            "<tr>"
            f'<td><a href="{html.escape(s["name"])}/index.html">{html.escape(s["name"])}</a></td>'
            f"<td>{html.escape(s['dataset'])}</td><td>{html.escape(s['protocol'])}</td>"
            f'<td data-value="{s["requests"]}">{s["requests"]}</td>'
            f'<td data-value="{s["rows"]}">{s["rows"]}</td>'
            f"<td>{html.escape(s['best'])}</td><td>{html.escape(s['date'][:10])}</td>"
            f"<td><code>{html.escape(s['commit'][:10])}</code></td>"
            f'<td class="{"ok" if status == "verified" else "warning"}">{status}</td>'
            "</tr>"
        )
    body = (
        "<h1>LLM recommender leaderboards</h1>\n"
        "<p>Every board is recomputed from its committed files (<code>harness leaderboard "
        "verify</code>) when this site is built.</p>\n" + _table("boards", head, rows)
    )
    return _page("Leaderboards", body, 0)


def _table(table_id: str, head: list[str], rows: list[str], sorted_by: int | None = None) -> str:
    """A sortable table; ``sorted_by``: the column its rows come sorted by, best first."""
    header = "".join(
        f'<th aria-sort="descending">{html.escape(h)}</th>'
        if i == sorted_by
        else f"<th>{html.escape(h)}</th>"
        for i, h in enumerate(head)
    )
    return (
        f'<table class="sortable" id="{table_id}"><thead><tr>{header}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _cell(value: float | None, fmt: str, marks: str = "") -> str:
    if value is None:
        return '<td data-value="">–</td>'
    return f'<td data-value="{value!r}"{marks}>{format(value, fmt)}</td>'


def quality_rows(results: dict[str, Any], runs: list[dict[str, Any]]) -> list[str]:
    """Metric cells with the best per column marked, and on NDCG@10 the rows the paired
    tests cannot tell from the best marked as tied with it."""
    paired = (results.get("paired_tests") or {}).get("rows", {})
    best = {m: max(r["metrics"][m] for r in runs) for m in QUALITY}
    out = []
    for run in runs:
        cells = [f"<td>{html.escape(run['name'])}</td>"]
        for metric in QUALITY:
            value = run["metrics"][metric]
            mark = ""
            if value == best[metric]:
                mark = ' class="best" title="best in this column"'
            elif metric == "ndcg@10" and _tied(paired.get(run["name"])):
                mark = ' class="tied" title="tied with the best (paired tests, Holm)"'
            cells.append(_cell(value, ".4f", mark))
        low, high = run["ci95"]["ndcg@10"]
        cells.append(f'<td data-value="{low!r}">[{low:.3f}, {high:.3f}]</td>')
        cells.append(f"<td>{html.escape(_verdict(paired.get(run['name'])))}</td>")
        out.append(f'<tr data-row="{html.escape(run["name"])}">' + "".join(cells) + "</tr>")
    return out


def _tied(pair: dict[str, Any] | None) -> bool:
    if not pair:
        return False
    return pair["t_p"] >= 0.05 or pair["wilcoxon_p"] >= 0.05


def _verdict(pair: dict[str, Any] | None) -> str:
    if pair is None:
        return "best"
    return f"{'≈' if _tied(pair) else '↓'} t p {pair['t_p']:.2g} / W p {pair['wilcoxon_p']:.2g}"


def cost_rows(runs: list[dict[str, Any]]) -> list[str]:
    out = []
    for run in runs:
        costs = run["costs"]
        cells = [f"<td>{html.escape(run['name'])}</td>"]
        cells += [_cell(costs.get(key), fmt) for key, _, fmt in COSTS]
        final, se = costs.get("train_loss_final"), costs.get("train_loss_final_se")
        prior = costs.get("train_loss_prior")
        if final is None:
            cells.append('<td data-value="">–</td>')
        else:
            warn = " ⚠" if prior is not None and final >= prior else ""
            text = f"{final:.3f}" + ("" if se is None else f" ± {se:.3f}") + warn
            cells.append(f'<td data-value="{final!r}">{text}</td>')
        phases = {k[6:-2]: v for k, v in costs.items() if k.startswith("phase_")}
        cells.append(
            "<td>" + html.escape(", ".join(f"{k} {v:.0f}s" for k, v in phases.items())) + "</td>"
        )
        out.append(f'<tr data-row="{html.escape(run["name"])}">' + "".join(cells) + "</tr>")
    return out


def full_rows(runs: list[dict[str, Any]]) -> list[str]:
    keys = [f"{m}@{k}" for m in ("recall", "ndcg") for k in FULL_CUTOFFS]
    out = []
    for run in runs:
        full = run.get("full_ranking")
        if not full:
            continue
        cells = [f"<td>{html.escape(run['name'])}</td>"]
        cells += [_cell(full[k], ".4f") for k in keys]
        out.append("<tr>" + "".join(cells) + "</tr>")
    return out


def provenance_block(results: dict[str, Any]) -> str:
    made = results.get("provenance") or {}
    commit = made.get("commit") or {}
    versions = made.get("versions") or {}
    split = results["split"]
    items = [
        ("command", made.get("command", "")),
        ("commit", commit.get("sha", "") + (" (dirty tree)" if commit.get("dirty") else "")),
        ("date", made.get("date", "")),
        ("machine", json.dumps(made.get("machine", {}))),
        ("split", f"{split['sha256'][:12]} · seed {split['params']['seed']}"),
        ("libraries", ", ".join(f"{k} {v}" for k, v in sorted(versions.items()))),
    ]
    rows = "".join(
        f"<dt>{html.escape(k)}</dt><dd><code>{html.escape(str(v))}</code></dd>" for k, v in items
    )
    experiment = html.escape(json.dumps(results.get("experiment", {}), indent=2))
    return (
        f'<dl class="provenance">{rows}</dl>'
        f"<details><summary>experiment</summary><pre>{experiment}</pre></details>"
    )


def board_page(board: dict[str, Any]) -> str:
    results, runs, summary = board["results"], board["runs"], board["summary"]
    heads = ["Recommender", *[q.upper().replace("RECALL", "Recall") for q in QUALITY]]
    heads += ["NDCG@10 95% CI", "vs best (paired)"]
    cost_head = ["Recommender", *[label for _, label, _ in COSTS], "final loss", "phases"]
    chart_divs = "\n".join(
        f'<section class="chart"><h3>{html.escape(c["title"])}</h3>'
        f'<div class="plot" id="chart-{i}" data-chart="{i}"></div></section>'
        for i, c in enumerate(board["charts"])
    )
    full = full_rows(board["every"])
    full_table = ""
    if full:
        keys = [f"{m}@{k}" for m in ("Recall", "NDCG") for k in FULL_CUTOFFS]
        full_table = "<h2>Full-catalog ranking</h2>" + _table("full", ["Recommender", *keys], full)
    body = f"""<h1>{html.escape(summary["name"])}</h1>
{_status(summary)}
<p>{html.escape(summary["dataset"])} · {summary["requests"]} test requests ·
1 positive + {summary["candidates"] - 1} sampled negatives · {html.escape(summary["protocol"])} ·
<a href="explorer.html">request explorer</a></p>
<h2>Quality</h2>
{_table("quality", heads, quality_rows(results, runs), sorted_by=1)}
<p class="legend">Bold: best in its column. Underlined NDCG@10: tied with the best by the
paired tests over the same requests (t-test or Wilcoxon, Holm-corrected, p ≥ .05).</p>
<h2>Cost</h2>
{_table("cost", cost_head, cost_rows(board["every"]))}
{full_table}
<h2>Charts</h2>
{chart_divs}
<h2>Provenance</h2>
{provenance_block(results)}
<script>window.BOARD_CHARTS = {_json([c["figure"] for c in board["charts"]])};</script>
"""
    return _page(summary["name"], body, 1)


def explorer_page(board: dict[str, Any]) -> str:
    summary = board["summary"]
    body = f"""<h1>{html.escape(summary["name"])}: request explorer</h1>
{_status(summary)}
<p><a href="index.html">back to the board</a></p>
<label>Request <input id="request-search" list="request-ids"
  placeholder="user id, e.g. {html.escape(board["explorer"]["requests"][0]["id"])}"></label>
<datalist id="request-ids"></datalist>
<button id="request-prev">previous</button> <button id="request-next">next</button>
<div id="explorer"></div>
"""
    return _page(f"{summary['name']}: explorer", body, 1, scripts=["requests.js"])
