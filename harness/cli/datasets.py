"""``harness datasets``: the registered datasets and their cards."""

from __future__ import annotations

from pathlib import Path

import click

from harness.cli.group import (
    cli,
    data_dir_option,
)
from harness.options import parse_spec
from harness.plugins import default_registry


@cli.group(invoke_without_command=True)
@click.pass_context
def datasets(ctx: click.Context) -> None:
    """List registered datasets (``harness datasets show NAME`` for a card)."""
    if ctx.invoked_subcommand is None:
        registry = default_registry()
        for reg in registry.entries["datasets"].values():
            click.echo(f"{reg.name}: {reg.description}  [{reg.plugin}]")


@datasets.command("show")
@click.argument("spec", metavar="NAME")
@data_dir_option
@click.option(
    "-o",
    "--dataset-option",
    "dataset_options",
    multiple=True,
    metavar="KEY=VALUE",
    help="Dataset option, repeatable (or give NAME[key=value,...]).",
)
@click.option(
    "--tokenizer",
    type=click.Choice(["model", "words"]),
    default="model",
    show_default=True,
    help="Count item tokens with the embedded LLM's tokenizer, or whitespace words.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the card as JSON.")
def show(spec: str, data_dir: Path | None, dataset_options, tokenizer: str, as_json: bool) -> None:
    """Print a dataset card: sequences, items, interactions, history lengths, tokens per item."""
    import json

    from harness.data.card import dataset_card, render_card, token_counter
    from harness.data.context import DatasetContext
    from harness.orchestration.runner import load_dataset

    name, options = parse_spec(spec)
    for pair in dataset_options:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise click.UsageError(f"--dataset-option {pair!r}: expected KEY=VALUE")
        options[key.strip()] = value.strip()
    dataset = load_dataset(name, options, DatasetContext(data_dir), default_registry())
    count_tokens, label = token_counter(tokenizer)
    card = dataset_card(dataset, count_tokens, tokenizer=label)
    click.echo(json.dumps(card, indent=2) if as_json else render_card(card))
