"""``harness summarize``: print a summarizer's preference summaries for a sample of users."""

from __future__ import annotations

import click

from harness.cli.group import (
    capable_recommender,
    cli,
    load_split,
    split_options,
)


@cli.command()
@split_options
@click.option(
    "--recommender",
    "spec",
    default="llm-trsr[summarizer=hierarchical]",
    show_default=True,
    help="The run whose summaries to precompute: llm-trsr[summarizer=NAME,...] with any "
    "registered summarizer.",
)
def summarize(dataset_spec, data_dir, users, seed, history, cache_dir, device, spec):
    """Precompute the preference summaries an LLM-TRSR run needs (cached by content).

    Covers its training examples, validation sample and test requests, so a
    later `harness evaluate` with the same settings generates nothing.
    """
    import time

    from harness.recommender import RunContext
    from harness.summarizer import (
        SUMMARY_PROMPTS,
        SUMMARY_PROMPTS_GENERATED,
        SUMMARY_TOKENS_GENERATED,
    )

    split, cache_dir = load_split(dataset_spec, data_dir, users, seed, history, cache_dir)
    recommender = capable_recommender(spec, "precompute", "has nothing to precompute")
    context = RunContext(seed=seed, device=device, cache_dir=cache_dir)
    requests = [r.unlabeled() for r in split.test]
    start = time.perf_counter()
    counts = recommender.precompute(split.train_data(), requests, context)
    seconds = time.perf_counter() - start
    total = sum(counts.values())
    line = (
        f"{total} summaries ({counts['train']} train, {counts['valid']} valid, "
        f"{counts['test']} test) in {seconds:.1f} s"
    )
    costs = context.costs
    if SUMMARY_PROMPTS in costs:
        generated = int(costs.get(SUMMARY_PROMPTS_GENERATED, 0))
        tokens = int(costs.get(SUMMARY_TOKENS_GENERATED, 0))
        line += f"; {generated} generations run, {tokens} tokens generated"
        line += f" ({tokens / seconds:.1f} tokens/s)" if tokens else ", all from cache"
    else:
        line += "; the summarizer reported no LLM generations"
    click.echo(line)
