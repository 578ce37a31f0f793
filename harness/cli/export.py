"""``harness export``: the split as an lm-eval task or a Hugging Face dataset."""

from __future__ import annotations

from pathlib import Path

import click

from harness.cli.group import (
    capable_recommender,
    cli,
    load_split,
    split_options,
)


@cli.group()
def export() -> None:
    """Export the split's requests for other tools."""


@export.command("lm-eval")
@split_options
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Task folder.")
@click.option(
    "--recommender",
    "spec",
    default="truncated-llm[zero_shot=true]",
    show_default=True,
    help="The LLM recommender whose prompts to export.",
)
@click.option("--task", "task_name", default=None, help="Task name (default harness_DATASET).")
def export_lm_eval(
    dataset_spec, data_dir, users, seed, history, cache_dir, device, out, spec, task_name
):
    """Write the test requests as an lm-evaluation-harness task (multiple choice no/yes,
    grouped ranking metrics), so any lm-eval backend scores exactly our candidate lists."""
    from harness.export.lm_eval import write_lm_eval_task
    from harness.recommender import RunContext

    split, cache_dir = load_split(dataset_spec, data_dir, users, seed, history, cache_dir)
    recommender = capable_recommender(spec, "prompts", "does not score yes/no prompts")
    context = RunContext(seed=seed, device=device, cache_dir=cache_dir)
    recommender.load(context)
    test = split.test
    requests = recommender.requests_for(test, split.dataset, context)
    triples = [(r.sequence_id, q, r.positive_index) for r, q in zip(test, requests)]
    name = task_name or "harness_" + split.dataset.name.replace("-", "_")
    write_lm_eval_task(triples, out, name, yes=recommender.yes, no=recommender.no)
    click.echo(
        f"wrote task {name!r} ({len(triples)} requests) to {out}; run it with\n"
        f"  lm_eval --model hf --model_args pretrained=PATH --include_path {out} "
        f"--tasks {name}"
    )


@export.command("split")
@split_options
@click.argument("out", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["hf"]),
    default="hf",
    show_default=True,
    help="hf: a datasets.DatasetDict folder (load it with datasets.load_from_disk).",
)
def export_split(dataset_spec, data_dir, users, seed, history, cache_dir, device, out, fmt):
    """Write the split (train sequences, validation and test candidate lists, item texts)
    to OUT, so other tools can score exactly our candidates."""
    from harness.export.split import write_hf_split

    split, _ = load_split(dataset_spec, data_dir, users, seed, history, cache_dir)
    write_hf_split(split, out)
    click.echo(
        f"wrote split {split.sha256[:12]} of {split.dataset.name} to {out}: "
        f"{len(split.train)} train sequences, {len(split.valid)} validation and "
        f"{len(split.test)} test requests; read it with datasets.load_from_disk"
    )
