"""A board's charts as Plotly figures (JSON), built from its results.json alone."""

from __future__ import annotations

import json
from typing import Any

from harness.boards.render import learning_curve_points
from harness.costs import PROMPT_TOKENS_PER_REQUEST
from harness.metrics import sampled_runs


def _figure(fig) -> dict[str, Any]:
    return json.loads(fig.to_json())


def board_charts(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Every chart the board has data for: title and Plotly figure."""
    charts = [("NDCG@10 with its 95% CI", ndcg_chart(results))]
    for key, title in (
        (
            "paired_tests",
            "Paired tests on NDCG@10: blue, the row on the left beats the column's; red, "
            "it loses; grey, a tie (either Holm p ≥ .05)",
        ),
        ("full_paired_tests", "Paired tests on full-catalog NDCG@10 (colours as above)"),
    ):
        figure = paired_chart(results, key)
        if figure is not None:
            charts.append((title, figure))
    for title, build in (
        ("Training loss per step", loss_chart),
        ("Learning curve", learning_chart),
        ("Quality against prompt tokens", budget_chart),
    ):
        figure = build(results)
        if figure is not None:
            charts.append((title, figure))
    return [{"title": title, "figure": figure} for title, figure in charts]


def _layout(**extra: Any) -> dict[str, Any]:
    return {"margin": {"l": 60, "r": 20, "t": 20, "b": 60}, "template": "plotly_white", **extra}


def ndcg_chart(results: dict[str, Any]) -> dict[str, Any]:
    import plotly.graph_objects as go

    runs = sorted(sampled_runs(results), key=lambda r: r["metrics"]["ndcg@10"])
    values = [r["metrics"]["ndcg@10"] for r in runs]
    low = [v - r["ci95"]["ndcg@10"][0] for v, r in zip(values, runs)]
    high = [r["ci95"]["ndcg@10"][1] - v for v, r in zip(values, runs)]
    fig = go.Figure(
        go.Scatter(
            x=values,
            y=[r["name"] for r in runs],
            mode="markers",
            error_x={"type": "data", "array": high, "arrayminus": low},
            hovertemplate="%{y}: %{x:.4f}<extra></extra>",
        )
    )
    chance = (results.get("chance_tests") or {}).get("ndcg@10", {}).get("chance")
    if chance is not None:
        fig.add_vline(x=chance, line_dash="dash", line_color="grey", annotation_text="chance")
    fig.update_layout(**_layout(height=120 + 28 * len(runs), xaxis_title="NDCG@10", margin_l=280))
    return _figure(fig)


def paired_chart(results: dict[str, Any], key: str) -> dict[str, Any] | None:
    """Row A (y) against row B (x): +1 A better, -1 B better, 0 a tie (either Holm p ≥ .05)."""
    import plotly.graph_objects as go

    pairs = (results.get(key) or {}).get("pairs") or []
    if not pairs:
        return None
    names = []
    for pair in pairs:
        for name in (pair["a"], pair["b"]):
            if name not in names:
                names.append(name)
    index = {n: i for i, n in enumerate(names)}
    verdict = [[None] * len(names) for _ in names]
    text = [[""] * len(names) for _ in names]
    for pair in pairs:
        tied = pair["holm_p"] >= 0.05 or pair.get("wilcoxon_holm_p", 0) >= 0.05
        sign = 0 if tied else (1 if pair["mean_diff"] > 0 else -1)
        a, b = index[pair["a"]], index[pair["b"]]
        verdict[a][b], verdict[b][a] = sign, -sign
        label = f"Δ {pair['mean_diff']:+.3f}, Holm p {pair['holm_p']:.2g}"
        text[a][b] = label
        text[b][a] = f"Δ {-pair['mean_diff']:+.3f}, Holm p {pair['holm_p']:.2g}"
    fig = go.Figure(
        go.Heatmap(
            z=verdict,
            x=names,
            y=names,
            text=text,
            zmin=-1,
            zmax=1,
            colorscale=[[0, "#d6604d"], [0.5, "#f7f7f7"], [1, "#4393c3"]],
            showscale=False,
            hovertemplate="%{y} vs %{x}: %{text}<extra></extra>",
        )
    )
    size = 200 + 30 * len(names)
    fig.update_layout(**_layout(height=size, margin_l=280, margin_b=220))
    return _figure(fig)


def loss_chart(results: dict[str, Any]) -> dict[str, Any] | None:
    import plotly.graph_objects as go

    trained = [r for r in sampled_runs(results) if (r.get("training") or {}).get("log")]
    if not trained:
        return None
    fig = go.Figure()
    for run in trained:
        log = [e for e in run["training"]["log"] if "loss" in e]
        fig.add_trace(
            go.Scatter(
                x=[e["step"] for e in log],
                y=[e["loss"] for e in log],
                name=run["name"],
                mode="lines",
            )
        )
    fig.update_layout(**_layout(height=420, xaxis_title="step", yaxis_title="training loss"))
    return _figure(fig)


def learning_chart(results: dict[str, Any]) -> dict[str, Any] | None:
    import plotly.graph_objects as go

    curves = learning_curve_points(results)
    if not curves:
        return None
    fig = go.Figure()
    for family, points in curves.items():
        x, y = zip(*points)
        fig.add_trace(go.Scatter(x=list(x), y=list(y), name=family, mode="lines+markers"))
    fig.update_layout(
        **_layout(
            height=420,
            xaxis_title="distinct training examples (0: zero-shot)",
            yaxis_title="NDCG@10",
        )
    )
    return _figure(fig)


def budget_chart(results: dict[str, Any]) -> dict[str, Any] | None:
    import plotly.graph_objects as go

    runs = [
        r for r in sampled_runs(results) if r["costs"].get(PROMPT_TOKENS_PER_REQUEST) is not None
    ]
    if not runs:
        return None
    fig = go.Figure(
        go.Scatter(
            x=[r["costs"][PROMPT_TOKENS_PER_REQUEST] for r in runs],
            y=[r["metrics"]["ndcg@10"] for r in runs],
            text=[r["name"] for r in runs],
            mode="markers",
            hovertemplate="%{text}: %{x:.0f} tokens, NDCG@10 %{y:.4f}<extra></extra>",
        )
    )
    fig.update_layout(
        **_layout(height=420, xaxis_title="prompt tokens per request", yaxis_title="NDCG@10")
    )
    return _figure(fig)
