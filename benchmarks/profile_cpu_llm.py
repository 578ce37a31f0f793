"""Where the CPU time of LLM scoring and LoRA training goes, by operator (torch.profiler).

Scores 2 users of the scoring benchmark's shape (~400-token prefix, 21
candidates) and trains 4 LoRA steps of the packing benchmark's shape on the
embedded model in float32, and prints each pass's top operators by self CPU
time with their share, beside the machine's float32 matmul rate. The table in
``benchmarks/RESULTS-llm.md`` ("Where the CPU time goes") comes from it.

Run: ``python benchmarks/profile_cpu_llm.py`` (alone on the machine).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def top_operators(prof, n: int = 12) -> list[str]:
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    rows = sorted(events, key=lambda e: -e.self_cpu_time_total)[:n]
    return [
        f"  {e.key[:44]:<44} {e.self_cpu_time_total / 1e6:7.2f} s  "
        f"{e.self_cpu_time_total / total:5.1%}  x{e.count}"
        for e in rows
    ] + [f"  total self CPU time {total / 1e6:.2f} s (both threads)"]


def main() -> None:
    from bench_llm_scoring import make_requests
    from conftest import decoder_weights, matmul_gflops

    from harness.llm import PromptGroup, SFTSettings, load_model, score_yes_no, train_lora

    lm = load_model(dtype="float32", device="cpu")
    requests = make_requests(lm.tokenizer, 2)
    score_yes_no(lm, requests[:1], progress=False)  # warm-up
    print(f"threads {torch.get_num_threads()}, float32 matmul {matmul_gflops():.0f} GFLOP/s")
    print(f"decoder weights {decoder_weights(lm.model) / 1e6:.1f} M")
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        score_yes_no(lm, requests, progress=False)
    print("scoring, 2 users x 21 candidates:")
    print("\n".join(top_operators(prof)))

    groups = [
        PromptGroup(r.prefix, r.continuations[:4], (True, False, False, False)) for r in requests
    ] * 4
    settings = SFTSettings(batch_size=2, lr=1e-4)
    with (
        tempfile.TemporaryDirectory() as folder,
        profile(activities=[ProfilerActivity.CPU]) as prof,
    ):
        train_lora(lm, groups, settings, Path(folder), progress=False)
    print("LoRA SFT, 4 steps of 2 packed rows:")
    print("\n".join(top_operators(prof)))


if __name__ == "__main__":
    main()
