"""The ``harness`` command line."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from harness.errors import HarnessError
from harness.experiment import Experiment, RunSpec, load_experiment
from harness.options import describe_options, parse_spec
from harness.plugins import KINDS, default_registry, get_plugin_manager, plugin_source
from harness.splits import SplitConfig


@click.group()
@click.option("-q", "--quiet", is_flag=True, help="Only print results and errors.")
@click.version_option(package_name="llmrec-harness")
def cli(quiet: bool) -> None:
    """Benchmark LLM sequential recommenders: one split, one candidate set, one leaderboard."""
    logging.basicConfig(
        level=logging.WARNING if quiet else logging.INFO,
        format="harness: %(message)s",
        stream=sys.stderr,
    )


@cli.command()
@click.argument("experiment_file", required=False, type=click.Path(path_type=Path))
@click.option(
    "--dataset",
    "dataset_spec",
    default=None,
    help="Dataset NAME or NAME[key=value,...] (default ml-100k).",
)
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder with the dataset's files (MIND, Amazon-M2, ...).",
)
@click.option(
    "-r",
    "--recommender",
    "recommenders",
    multiple=True,
    help='Recommender spec, repeatable: NAME or "NAME[key=value,...]".',
)
@click.option("--users", type=int, default=None, help="Evaluate a seeded sample of N users.")
@click.option("--seed", type=int, default=None, help="Seed of the split and the recommenders.")
@click.option("--history", type=int, default=None, help="History length H (default 25).")
@click.option("--negatives", type=int, default=None, help="Negatives per request (default 20).")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Output folder (default runs/DATASET); replaced if it exists.",
)
@click.option(
    "--cache-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Cache for splits, models, summaries (default $HARNESS_CACHE or ~/.cache/harness).",
)
@click.option("--device", default=None, help="auto, cpu, cuda, cuda:1, ... (default auto).")
def evaluate(
    experiment_file,
    dataset_spec,
    data_dir,
    recommenders,
    users,
    seed,
    history,
    negatives,
    out,
    cache_dir,
    device,
):
    """Fit and score recommenders on one split and print the leaderboard.

    Either give an EXPERIMENT_FILE (TOML) or --recommender options.
    """
    from harness.runner import evaluate as run_evaluation

    if experiment_file is not None:
        if recommenders:
            raise click.UsageError("give either an experiment file or --recommender, not both")
        experiment = load_experiment(experiment_file)
    else:
        if not recommenders:
            raise click.UsageError(
                "no recommender given; use --recommender NAME (see `harness plugins`)"
            )
        experiment = Experiment(runs=[RunSpec.from_spec(spec) for spec in recommenders])
    if dataset_spec is not None:
        experiment.dataset, experiment.dataset_options = parse_spec(dataset_spec)
    if data_dir is not None:
        experiment.data_dir = data_dir
    if device is not None:
        experiment.device = device
    overrides = {"users": users, "seed": seed, "history": history, "negatives": negatives}
    changed = {k: v for k, v in overrides.items() if v is not None}
    if changed:
        experiment.split = SplitConfig(**{**vars(experiment.split), **changed})
    out = out or Path("runs") / experiment.dataset
    results = run_evaluation(experiment, out, cache_dir=cache_dir)
    click.echo((out / "leaderboard.md").read_text())
    click.echo(
        f"results: {out / 'results.json'}  split sha256: {results['split']['sha256']}", err=True
    )


@cli.command()
@click.option("-v", "--verbose", is_flag=True, help="Also list each component's options.")
def plugins(verbose: bool) -> None:
    """List installed plugins, where they come from and what they registered."""
    pm = get_plugin_manager()
    registry = default_registry()
    for name, plugin in pm.list_name_plugin():
        if plugin is None:
            continue
        click.echo(f"{name}  ({plugin_source(pm, plugin)})")
        hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or [])
        click.echo(f"  hooks: {', '.join(hooks)}")
        for kind in KINDS:
            for reg in registry.entries[kind].values():
                if reg.plugin != name:
                    continue
                click.echo(f"  {kind[:-1]}: {reg.name} - {reg.description}")
                if verbose:
                    for opt, typ, default, text in describe_options(reg.options):
                        click.echo(f"      {opt} ({typ}, default {default!r}) {text}")


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
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder with the dataset's files (MIND, Amazon-M2, ...).",
)
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
    from harness.runner import load_dataset

    name, options = parse_spec(spec)
    for pair in dataset_options:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise click.UsageError(f"--dataset-option {pair!r}: expected KEY=VALUE")
        options[key.strip()] = value.strip()
    dataset = load_dataset(name, options, data_dir, default_registry())
    count_tokens, label = token_counter(tokenizer)
    card = dataset_card(dataset, count_tokens, tokenizer=label)
    click.echo(json.dumps(card, indent=2) if as_json else render_card(card))


@cli.command()
@click.argument("results_json", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Also write the Markdown to this file.",
)
def leaderboard(results_json: Path, out: Path | None) -> None:
    """Render the leaderboard tables of a results.json file."""
    from harness.leaderboard import render_file

    text = render_file(results_json)
    if out:
        out.write_text(text)
    click.echo(text)


def main() -> None:
    """Console entry point: one-line errors and exit codes instead of tracebacks."""
    pm = get_plugin_manager_safely()
    if pm is not None:
        pm.hook.register_commands(cli=cli)
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except HarnessError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(exc.exit_code)


def get_plugin_manager_safely():
    try:
        return get_plugin_manager()
    except HarnessError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(exc.exit_code)
