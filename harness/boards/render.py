"""Render results JSON (the source of truth) as Markdown leaderboard tables."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from tabulate import tabulate

from harness.costs import PROMPT_BUDGET_TOKENS, PROMPT_TOKENS_PER_REQUEST
from harness.metrics import CUTOFFS, FULL_CUTOFFS, HEADLINE, holm, sampled_runs

QUALITY = [f"{m}@{k}" for m in ("recall", "mrr", "ndcg") for k in CUTOFFS] + ["auc"]
TABLE_QUALITY = ["ndcg@10", "recall@10", "mrr@10", "auc"]  # the Markdown table's; all in CSV
HEADERS = {"recall": "Recall", "mrr": "MRR", "ndcg": "NDCG", "auc": "AUC"}


def markdown_table(rows: list[list[str]], headers: list[str]) -> str:
    """A GitHub Markdown table without tabulate's two spaces of extra padding per column,
    so the board's tables stay readable at 120 columns."""
    import tabulate as module

    padding, module.MIN_PADDING = module.MIN_PADDING, 0
    try:
        return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)
    finally:
        module.MIN_PADDING = padding


def column_header(key: str) -> str:
    name, _, k = key.partition("@")
    return f"{HEADERS[name]}@{k}" if k else HEADERS[name]


def _cost(value: float | None, fmt: str) -> str:
    return "–" if value is None else format(value, fmt)


def _final_loss(costs: dict[str, float]) -> str:
    """The final training loss with its standard error, marked ⚠ when it is not below the
    label prior's loss."""
    final, prior = costs.get("train_loss_final"), costs.get("train_loss_prior")
    if final is None:
        return "–"
    se = costs.get("train_loss_final_se")
    text = f"{final:.3f}" + ("" if se is None else f" ± {se:.3f}")
    return text + (" ⚠" if prior is not None and final >= prior else "")


def _when(timestamp: float) -> str:
    """A cut as a UTC date when it reads as Unix seconds, else as the number it is."""
    if 1e8 <= timestamp <= 1e10:
        return datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"{timestamp:g}"


def _protocol(split: dict[str, Any]) -> str:
    """The split protocol, with a global-time split's cuts and the users it left out."""
    details = split.get("protocol_details")
    if split.get("protocol", "leave-one-out") != "global-time" or not details:
        return "leave-one-out"
    skipped = details["users_without_test_target"] + details["users_without_history_before_test"]
    return (
        f"global-time: trains on what precedes {_when(details['valid_cut'])}, tests each user's "
        f"first item from {_when(details['test_cut'])} ({skipped} users skipped: no test target "
        "or no history before it)"
    )


def _versus_chance(results: dict[str, Any], metric: str, name: str) -> str:
    """``↑``/``↓`` when the Holm-corrected p is below .05, ``≈`` otherwise; then the p."""
    row = (results.get("chance_tests") or {}).get(metric, {}).get("rows", {}).get(name)
    if row is None:
        return "–"
    mark = "≈" if row["holm_p"] >= 0.05 else ("↑" if row["mean_diff"] > 0 else "↓")
    return f"{mark} {row['holm_p']:.2g}"


def chance_legend(results: dict[str, Any]) -> list[str]:
    """What the vs-chance columns test, with the chance levels and the correction family."""
    tests = results.get("chance_tests") or {}
    if not tests:
        return []
    levels = ", ".join(f"{column_header(m)} {t['chance']:.4f}" for m, t in tests.items())
    first = next(iter(tests.values()))
    return [
        "",
        f"vs chance: each row's per-request value against the analytic chance level of "
        f"{first['candidates']} candidates with the positive's rank uniform ({levels}), by the "
        f"one-sample t-test, Holm-corrected over this board's {len(first['rows'])} rows (one "
        "family per metric), shown as the corrected p; ↑ / ↓: above / below chance (p < .05), "
        "≈: not distinguishable from chance. (Not Wilcoxon: NDCG at chance is skewed, its "
        "median 0 is below its mean, so a median test would call a random scorer worse.)",
    ]


def _pairs_family(results: dict[str, Any]) -> str:
    pairs = (results.get("paired_tests") or {}).get("pairs") or []
    return f"this board's {len(pairs)} pairs of {len(sampled_runs(results))} rows"


def render_leaderboard(results: dict[str, Any]) -> str:
    """The candidate-list table, the full-ranking table (if any row has one) and a legend."""
    every = sorted(results["runs"], key=lambda r: -r["metrics"][HEADLINE])
    runs = sorted(sampled_runs(results), key=lambda r: -r["metrics"][HEADLINE])
    split, dataset = results["split"], results["dataset"]
    params = split["params"]
    paired = results.get("paired_tests", {}).get("rows", {})
    lines = [
        f"## {dataset['name']}: {split['test_requests']} test requests, "
        f"1 positive + {split['candidates_per_request'] - 1} sampled negatives",
        "",
        f"split `{split['sha256'][:12]}` · {_protocol(split)} · seed {params['seed']} "
        f"· history ≤ {params['history']} · ties ranked pessimistically · sorted by NDCG@10",
        "",
    ]
    versus_best = best_pairs(results)
    chance = list(results.get("chance_tests") or {})  # boards made before them have none
    quality = []
    for run in runs:
        m = run["metrics"]
        low, high = run["ci95"][HEADLINE]
        quality.append(
            [run["name"]]
            + [f"{m[key]:.4f}" for key in TABLE_QUALITY]
            + [
                f"[{low:.3f}, {high:.3f}]",
                _versus_best(versus_best, run["name"], paired.get(run["name"], {})),
            ]
        )
    quality_headers = (
        ["Recommender"]
        + [column_header(k) for k in TABLE_QUALITY]
        + ["NDCG@10 95% CI", "vs best (t / W)"]
    )
    lines += [
        "### Quality",
        "",
        markdown_table(quality, quality_headers),
    ]
    if versus_best:
        lines += [
            "",
            "vs best: Holm p of the row against the best row on per-request NDCG@10, paired over "
            "the same requests, by the paired t-test (t) and the Wilcoxon signed-rank test (W, "
            "zero_method zsplit: requests where both rows score the same count half for each "
            f"side), each Holm-corrected over {_pairs_family(results)}; ≈ marks a row "
            "statistically tied with the best (either corrected p ≥ .05). Recall, MRR and NDCG "
            "at 3 and 5 are in results.json and `harness leaderboard render --format csv`.",
        ]
    if chance:
        lines += [
            "",
            "### Against chance",
            "",
            markdown_table(
                [
                    [r["name"]] + [_versus_chance(results, c, r["name"]) for c in chance]
                    for r in runs
                ],
                ["Recommender"] + [f"{column_header(c)} vs chance (Holm p)" for c in chance],
            ),
        ]
    lines += chance_legend(results)
    lines += failed_rows(results)
    reranked = [r["name"] for r in every if r.get("rerank")]
    if reranked:
        lines += [
            "",
            f"Reranked rows ({', '.join(reranked)}) are read in the full-catalog table: their "
            "sampled-candidate numbers are those of the same row without `rerank`, so they "
            "stay out of these tables and their test families.",
        ]
    lines += cost_table(every)
    full_runs = [r for r in every if r.get("full_ranking")]
    if full_runs:
        keys = [f"{m}@{k}" for m in ("recall", "ndcg") for k in FULL_CUTOFFS]
        lines += [
            "",
            f"### Full-catalog ranking ({dataset['items']} items, the user's whole earlier "
            "sequence excluded, as for the sampled negatives)",
            "",
            markdown_table(
                [[r["name"]] + [f"{r['full_ranking'][k]:.4f}" for k in keys] for r in full_runs],
                ["Recommender"] + [column_header(k) for k in keys],
            ),
        ]
        lines += rerank_lines(full_runs)
        lines += pairs_table(results, "full_paired_tests", "full-catalog ")
    if any(r["costs"].get("train_loss_final") is not None for r in runs):
        lines += [
            "",
            "final loss: mean training loss over the last tenth of the steps ± its standard "
            "error over those steps; ⚠: final loss not below the label prior's loss (the loss "
            "of predicting only how often each answer is right: yes, or a list slot's letter). "
            "The mark reads the loss alone; "
            "whether the row ranks above chance is the Against chance table's question.",
        ]
    lines += position_lines(runs)
    lines += checkpoint_lines(every)
    lines += pairs_table(results)
    lines += budget_table(runs)
    lines += curve_table(results)
    return "\n".join(lines) + "\n"


def _favoured_slot(position: dict[str, Any]) -> str:
    counts = position["top1_by_slot"]
    slot = max(range(len(counts)), key=counts.__getitem__)
    return f"top-1 in slot {slot + 1} on {counts[slot] / sum(counts):.0%} of requests"


def position_lines(runs: list[dict[str, Any]]) -> list[str]:
    """Rows whose top-1 candidate slot departs from uniform (chi-square, Holm over rows)."""
    measured = [r for r in runs if r.get("position")]
    if not measured:
        return []
    adjusted = holm([r["position"]["top1_p"] for r in measured])
    flagged = [
        f"{r['name']} ({_favoured_slot(r['position'])}, Holm p {p:.2g})"
        for r, p in zip(measured, adjusted)
        if p < 0.05
    ]
    head = (
        "Candidate position: the split shuffles each request's candidates, so an order-free "
        "row's top-1 slot is uniform; a chi-square test of each row's top-1 slot counts against "
        f"uniform, Holm-corrected over {len(measured)} rows, "
    )
    verdict = (
        "flags: " + "; ".join(flagged) + "." if flagged else "finds no row that favours a slot."
    )
    return ["", head + verdict]


def rerank_lines(runs: list[dict[str, Any]]) -> list[str]:
    """What each reranking row reranked, and the ceiling its retriever set."""
    reranked = [r for r in runs if r.get("rerank")]
    if not reranked:
        return []
    parts = [
        f"{r['name']} reorders the top {r['rerank']['k']} of `{r['rerank']['retriever']}` "
        f"(that retriever's recall@{r['rerank']['k']}: {r['rerank']['retriever_recall_at_k']:.4f}, "
        "the ceiling of the row's)"
        for r in reranked
    ]
    return [
        "",
        "Reranked rows: the retriever ranks the catalog (earlier sequence excluded), the row "
        "scores its top K as candidates and reorders them; below them the retriever's order "
        "stands. " + "; ".join(parts) + ".",
    ]


def checkpoint_lines(runs: list[dict[str, Any]]) -> list[str]:
    """Rows read back from their row checkpoints, with the commit each was computed at."""
    reused = [r for r in runs if r.get("from_checkpoint")]
    if not reused:
        return []

    def where(run: dict[str, Any]) -> str:
        commit = run.get("computed_at")
        if not commit:
            return "computed before rows recorded their commit"
        return f"computed at {commit['sha'][:7]}" + (" (dirty tree)" if commit["dirty"] else "")

    named = "; ".join(f"{r['name']} ({where(r)})" for r in reused)
    return [
        "",
        "Rows read back from their row checkpoints (keyed by split, options, plugin version "
        f"and device), not recomputed at this board's commit: {named}.",
    ]


def cost_table(runs: list[dict[str, Any]]) -> list[str]:
    """What each row cost: prompt size, training, time and memory."""
    rows = []
    for run in runs:
        costs = run["costs"]
        rows.append(
            [
                run["name"],
                _cost(costs.get(PROMPT_TOKENS_PER_REQUEST), ".0f"),
                _cost(costs.get("train_examples"), ".0f"),
                _final_loss(costs),
                _cost(costs.get("fit_s"), ".1f"),
                _cost(costs.get("score_s_per_1k"), ".2f"),
                _cost(costs.get("peak_rss_mb"), ".0f"),
            ]
        )
    headers = [
        "Recommender",
        "prompt tok",
        "train ex",
        "final loss",
        "train s",
        "s/1k req",
        "peak MB",
    ]
    return [
        "",
        "### Cost",
        "",
        "prompt tok: mean tokens per prompt sent to the LLM; train ex: training examples; "
        "train s: seconds to fit; s/1k req: seconds to score 1,000 test requests; peak MB: "
        "the process's peak resident memory during the row.",
        "",
        markdown_table(rows, headers),
    ]


def best_pairs(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The pair of each row with the best row (by NDCG@10), keyed by the row's name."""
    paired = results.get("paired_tests") or {}
    best = paired.get("reference")
    out = {}
    for pair in paired.get("pairs") or []:
        if best in (pair["a"], pair["b"]):
            out[pair["b"] if pair["a"] == best else pair["a"]] = pair
    return out


def statistically_tied(pair: dict[str, Any]) -> bool:
    """Either Holm-corrected p (t-test, Wilcoxon) at or above .05."""
    return pair["holm_p"] >= 0.05 or pair.get("wilcoxon_holm_p", 0.0) >= 0.05


def _versus_best(versus_best: dict, name: str, old: dict) -> str:
    pair = versus_best.get(name)
    if pair is None:
        # boards made before the Holm-corrected pairs: the uncorrected t-test's p
        return "best" if versus_best else ("–" if "t_p" not in old else f"{old['t_p']:.2g}")
    text = f"{pair['holm_p']:.2g}"
    if "wilcoxon_holm_p" in pair:
        text += f" / {pair['wilcoxon_holm_p']:.2g}"
    return text + (" ≈" if statistically_tied(pair) else "")


def failed_rows(results: dict[str, Any]) -> list[str]:
    """Rows that raised: named under the table with their error, never silently missing."""
    failed = results.get("failed_runs") or []
    if not failed:
        return []
    lines = ["", f"**Failed rows ({len(failed)})**, not ranked:", ""]
    lines += [f"- {f['name']}: {f['error']} (traceback: `{f['traceback']}`)" for f in failed]
    return lines


def pairs_table(results: dict[str, Any], key: str = "paired_tests", what: str = "") -> list[str]:
    """Every pair of rows, paired over the same test requests, Holm-corrected; ``key`` picks
    the family (the sampled candidates' or the full catalog's), ``what`` names its metric."""
    paired = results.get(key) or {}
    pairs = paired.get("pairs")
    if not pairs:
        return []

    def verdict(p: dict) -> str:
        if statistically_tied(p):
            return "tie"
        return p["a"] if p["mean_diff"] > 0 else p["b"]

    rows = [
        [
            p["a"],
            p["b"],
            f"{p['mean_diff']:+.4f}",
            f"{p['t_p']:.2g}",
            f"{p['holm_p']:.2g}",
            f"{p['wilcoxon_p']:.2g}",
            f"{p['wilcoxon_holm_p']:.2g}" if "wilcoxon_holm_p" in p else "–",
            verdict(p),
        ]
        for p in sorted(pairs, key=lambda p: p["holm_p"])
    ]
    return [
        "",
        f"### Paired tests on {what}{paired['metric'].upper()} ({len(pairs)} pairs over the same "
        "requests: paired t-test and Wilcoxon signed-rank, each Holm-corrected over these "
        f"{len(pairs)} pairs)",
        "",
        markdown_table(
            rows,
            [
                "A",
                "B",
                "mean A − B",
                "t p",
                "t Holm p",
                "W p",
                "W Holm p",
                "verdict (both Holm p < .05)",
            ],
        ),
    ]


def budget_table(runs: list[dict[str, Any]]) -> list[str]:
    """Quality against prompt budget, for the rows that send prompts to an LLM."""
    llm_runs = [r for r in runs if r["costs"].get(PROMPT_TOKENS_PER_REQUEST)]
    if len(llm_runs) < 2:
        return []
    llm_runs = sorted(llm_runs, key=lambda r: r["costs"][PROMPT_TOKENS_PER_REQUEST])
    rows = [
        [
            r["name"],
            _cost(r["costs"].get(PROMPT_BUDGET_TOKENS), ".0f"),
            f"{r['costs']['prompt_tokens_per_request']:.0f}",
            f"{r['metrics']['recall@3']:.4f}",
            f"{r['metrics']['mrr@3']:.4f}",
            f"{r['metrics']['ndcg@10']:.4f}",
        ]
        for r in llm_runs
    ]
    return [
        "",
        "### Quality against prompt budget (LLM rows, by prompt tokens per request)",
        "",
        markdown_table(
            rows,
            [
                "Recommender",
                "budget tok",
                "prompt tok/req",
                "Recall@3",
                "MRR@3",
                "NDCG@10",
            ],
        ),
    ]


def curve_table(results: dict[str, Any]) -> list[str]:
    """NDCG@10 by training examples for each LLM family that has a learning curve."""
    curves = learning_curve_points(results)
    if not curves:
        return []
    rows = [[family, f"{x}", f"{y:.4f}"] for family, points in curves.items() for x, y in points]
    return [
        "",
        "### Learning curve (NDCG@10 against distinct training examples; 0 is zero-shot)",
        "",
        markdown_table(
            rows,
            ["family", "distinct train examples", "NDCG@10"],
        ),
    ]


def declared_capabilities(run: dict[str, Any]) -> dict[str, Any]:
    """What the row declared (results.json from before capabilities declares nothing)."""
    return run.get("capabilities") or {}


def _curve_family(run: dict[str, Any]) -> str:
    """A row's recommender and variant: the rows of one learning curve share a line."""
    variant = declared_capabilities(run).get("variant")
    return run["recommender"] + (f" ({variant})" if variant else "")


def learning_curve_points(results: dict[str, Any]) -> dict[str, list[tuple[int, float]]]:
    """(distinct training examples, NDCG@10) per LLM family; zero-shot rows are the 0 point.

    Distinct examples are the examples seen over all epochs divided by the
    epochs, so a point that repeats fewer examples over more epochs (a curve
    holding the optimizer steps fixed) sits at its number of distinct examples.
    Only families with at least two different training sizes form a curve.
    """
    families: dict[str, list[tuple[int, float]]] = {}
    for run in sampled_runs(results):
        trained = declared_capabilities(run).get("trained")
        if trained is None:
            continue
        seen = run["costs"].get("train_examples")
        examples = seen if trained else 0
        if examples is None:
            continue
        examples /= run["costs"].get("train_epochs") or 1
        point = (int(examples), run["metrics"]["ndcg@10"])
        families.setdefault(_curve_family(run), []).append(point)
    return {
        family: sorted(points)
        for family, points in sorted(families.items())
        if len({x for x, _ in points}) >= 2
    }
