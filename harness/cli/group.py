"""The ``harness`` command group and the options several commands share: one definition each."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from harness.options import parse_spec
from harness.orchestration.experiment import Experiment, RunSpec
from harness.plugins import default_registry
from harness.splits import SplitConfig

# options shared by several commands: one definition each
data_dir_option = click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder with the dataset's files (MIND, Amazon-M2, hf, ...).",
)
cache_dir_option = click.option(
    "--cache-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Cache for datasets, splits, models, summaries (default $HARNESS_CACHE or "
    "~/.cache/harness).",
)


def dataset_option(
    default: str | None = "ml-100k", help: str = "Dataset NAME or NAME[key=value,...]."
):
    return click.option(
        "--dataset", "dataset_spec", default=default, show_default=default is not None, help=help
    )


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


def split_options(func):
    """The dataset and split options shared by summarize and export."""
    for decorator in reversed(
        [
            dataset_option(),
            data_dir_option,
            click.option("--users", type=int, default=None, help="A seeded sample of N users."),
            click.option("--seed", type=int, default=0, show_default=True, help="Split seed."),
            click.option("--history", type=int, default=25, show_default=True, help="History H."),
            cache_dir_option,
            click.option(
                "--device", default="auto", show_default=True, help="auto, cpu, cuda, ..."
            ),
        ]
    ):
        func = decorator(func)
    return func


def load_split(dataset_spec, data_dir, users, seed, history, cache_dir):
    """The same persisted split `harness evaluate` would use for these settings."""
    from harness.data.context import DatasetContext
    from harness.orchestration.runner import load_dataset, prepare_split
    from harness.paths import cache_root
    from harness.splits import read_split

    name, options = parse_spec(dataset_spec)
    experiment = Experiment(
        dataset=name,
        dataset_options=options,
        data_dir=data_dir,
        split=SplitConfig(seed=seed, users=users, history=history),
    )
    cache_dir = cache_root(cache_dir)
    context = DatasetContext(data_dir, cache_dir, seed=seed)
    dataset = load_dataset(name, options, context, default_registry())
    split = read_split(prepare_split(dataset, experiment, cache_dir), dataset)
    return split, cache_dir


def capable_recommender(spec: str, capability: str, what: str):
    """Instantiate a recommender from a spec; it must declare ``capability``."""
    from harness.orchestration.runner import prepare_runs

    recommender = prepare_runs([RunSpec.from_spec(spec)], default_registry())[0].recommender
    declared = getattr(recommender, "capabilities", None)
    if declared is None or not getattr(declared(), capability):
        raise click.UsageError(f"{spec!r} {what}")
    return recommender
