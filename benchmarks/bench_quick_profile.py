"""End to end: the LLM-TRSR quick profile, first run against a rerun on cached summaries.

Runs ``harness evaluate experiments/ml-100k-llm-trsr-quick.toml`` (both
variants on 100 ml-100k users) twice in one fresh cache, as a user would, and
reports wall time against the targets (first run under 10 minutes, rerun
under 3 minutes on 2 CPU cores) and how many summary prompts each run
generated (the rerun must generate none). Converting the embedded model is a
one-off per machine and happens before the clock starts.

Run: ``pytest benchmarks/bench_quick_profile.py -p no:randomly``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
EXPERIMENT = ROOT / "experiments" / "ml-100k-llm-trsr-quick.toml"
HARNESS = str(Path(sys.executable).parent / "harness")
TARGETS = {"first run": 600.0, "rerun": 180.0}

MEASURED: dict[str, dict] = {}


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    from harness.llm.embedded_model import embedded_model_path

    path = tmp_path_factory.mktemp("quick-profile-cache")
    embedded_model_path(path)  # the one-off GGUF conversion, outside the timing
    return path


def evaluate(benchmark, cache: Path, out: Path, name: str) -> None:
    def call():
        return subprocess.run(
            [HARNESS, "evaluate", str(EXPERIMENT), "--out", str(out), "--cache-dir", str(cache)],
            capture_output=True,
            text=True,
        )

    result = benchmark.pedantic(call, rounds=1, iterations=1)
    assert result.returncode == 0, result.stderr[-2000:]
    runs = json.loads((out / "results.json").read_text())["runs"]
    MEASURED[name] = {
        "seconds": benchmark.stats.stats.min,
        "rows": {
            r["name"]: {
                "fit_s": r["costs"]["fit_s"],
                "score_s": r["costs"]["score_s"],
                "generated": int(r["costs"]["summary_prompts_generated"]),
                "prompts": int(r["costs"]["summary_prompts"]),
                "ndcg@10": r["metrics"]["ndcg@10"],
            }
            for r in runs
        },
    }


@pytest.mark.benchmark(group="llm-trsr-quick-profile")
def test_first_run(benchmark, cache, tmp_path):
    evaluate(benchmark, cache, tmp_path / "first", "first run")


@pytest.mark.benchmark(group="llm-trsr-quick-profile")
def test_rerun_with_cached_summaries(benchmark, cache, tmp_path):
    evaluate(benchmark, cache, tmp_path / "rerun", "rerun")


def test_report(report):
    lines = [f"quick profile: {EXPERIMENT.name}, {os.cpu_count()} CPUs"]
    for name, m in MEASURED.items():
        lines.append(
            f"  {name:<9} {m['seconds']:6.1f} s (target < {TARGETS[name]:.0f} s: "
            f"{'met' if m['seconds'] < TARGETS[name] else 'NOT met'})"
        )
        for row, r in m["rows"].items():
            lines.append(
                f"    {row:<24} fit {r['fit_s']:6.1f} s  score {r['score_s']:6.1f} s  "
                f"summaries generated {r['generated']}/{r['prompts']}  NDCG@10 {r['ndcg@10']:.4f}"
            )
    if len(MEASURED) == 2:
        ratio = MEASURED["first run"]["seconds"] / MEASURED["rerun"]["seconds"]
        lines.append(f"  rerun vs first run: {ratio:.2f}x faster")
    report(lines)
