"""Shared benchmark fixtures."""

import os

import pytest


@pytest.fixture(scope="module")
def lm():
    """The embedded model in ``HARNESS_BENCH_DTYPE`` (default ``auto``), weights paged in.

    A module that needs another default dtype defines its own ``lm``.
    """
    from harness.llm import generate, load_model

    lm = load_model(dtype=os.environ.get("HARNESS_BENCH_DTYPE", "auto"))
    generate(lm, ["Hi"], max_new_tokens=1, progress=False)  # page in the weights before timing
    return lm


@pytest.fixture
def report(request, capsys):
    """Print a benchmark's summary lines past pytest's output capture, under its results."""

    def write(lines: list[str]) -> None:
        reporter = request.config.pluginmanager.get_plugin("terminalreporter")
        with capsys.disabled():
            reporter.write_line("")
            for line in lines:
                reporter.write_line(line)

    return write


def decoder_weights(model) -> int:
    """Parameters a token passes through in the decoder (embeddings and a tied or answer-
    only output head left out): a forward costs about 2 FLOPs per parameter per token."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    embed = base.get_input_embeddings().weight
    head = base.get_output_embeddings().weight
    total = sum(p.numel() for p in base.parameters())
    return total - embed.numel() - (0 if head is embed else head.numel())


def matmul_gflops(seconds: float = 1.0) -> float:
    """This machine's float32 matmul rate with torch's threads (1024x576 @ 576x1536, the
    shape of the embedded model's MLP), the ceiling the LLM paths are read against."""
    import time

    import torch

    a, b = torch.randn(1024, 576), torch.randn(576, 1536)
    a @ b  # warm-up
    n, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        a @ b
        n += 1
    return 2 * 1024 * 576 * 1536 * n / (time.perf_counter() - started) / 1e9
