"""The GPU limits benchmark runs end to end at toy size on the CPU, so it cannot rot."""

import json
import os
import subprocess
import sys

from helpers import ROOT

SCRIPT = ROOT / "benchmarks" / "gpu_limits.py"


def test_every_phase_is_measured_before_and_after(tmp_path, session_cache):
    out = tmp_path / "limits.jsonl"
    env = {**os.environ, "HARNESS_CACHE": str(session_cache), "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--tiny", "--device", "cpu", "--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    records = [json.loads(line) for line in out.read_text().splitlines()]
    header, measured = records[0], records[1:]
    assert header["phase"] == "device" and header["bf16_peak_flops"] is None  # no CUDA here
    assert [(r["phase"], r["path"]) for r in measured] == [
        (phase, path) for phase in ("scoring", "generation", "sft") for path in ("before", "after")
    ]
    for record in measured:
        assert record["model"] == "tiny-random"
        assert record["seconds"] > 0 and record["tokens_per_s"] > 0
        assert record["tflops_per_s"] > 0 and record["mfu"] is None
        assert record["gpu_util_pct"] is None  # nvidia-smi is sampled on CUDA only
    scoring = [r for r in measured if r["phase"] == "scoring"]
    assert scoring[0]["attention"] == "sdpa" and scoring[1]["attention"] == "harness_gqa"
    generation = [r for r in measured if r["phase"] == "generation"]
    assert generation[1]["cache"] == "static" and generation[0]["cache"] == "dynamic"
    sft = [r for r in measured if r["phase"] == "sft"]
    assert all(r["steps"] == 2 for r in sft)  # 8 rows, 4 per step, one epoch
