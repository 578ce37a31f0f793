"""``harness evaluate``: run an experiment into a board and print it."""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import click

from harness.cli.group import (
    cache_dir_option,
    cli,
    data_dir_option,
    dataset_option,
)
from harness.orchestration.experiment import (
    Experiment,
    RunSpec,
    load_experiment,
    with_overrides,
)


@cli.command()
@click.argument("experiment_file", required=False, type=click.Path(path_type=Path))
@dataset_option(None, "Dataset NAME or NAME[key=value,...] (default ml-100k).")
@data_dir_option
@click.option(
    "-r",
    "--recommender",
    "recommenders",
    multiple=True,
    help='Recommender spec, repeatable: NAME or "NAME[key=value,...]".',
)
@click.option("--users", type=int, default=None, help="Evaluate a seeded sample of N users.")
@click.option("--seed", type=int, default=None, help="Seed of the split and the recommenders.")
@click.option(
    "--seeds",
    default=None,
    help="Repeat the experiment with each seed (e.g. 0,1,2): one board per seed in "
    "OUT/seed-S and each row's mean and std over seeds in OUT/seeds.md.",
)
@click.option(
    "--executor",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="local: rows one after another here; ray: rows as Ray tasks (needs the [ray] extra).",
)
@click.option(
    "--address",
    default=None,
    help="With --executor ray: the Ray cluster to join (default: start a local Ray).",
)
@click.option("--history", type=int, default=None, help="History length H (default 25).")
@click.option("--negatives", type=int, default=None, help="Negatives per request (default 20).")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Output folder (default runs/DATASET); replaced if it exists.",
)
@cache_dir_option
@click.option("--device", default=None, help="auto, cpu, cuda, cuda:1, ... (default auto).")
@click.option(
    "--plot",
    is_flag=True,
    help="Also write budget.png (quality vs prompt tokens) and loss.png (training loss curves).",
)
@click.option(
    "--fresh",
    is_flag=True,
    help="Recompute every row, ignoring the checkpoints of rows finished by earlier runs.",
)
@click.option(
    "--fail-fast",
    is_flag=True,
    help="Stop at the first row that fails (no output) instead of recording it and going on.",
)
def evaluate(
    experiment_file,
    dataset_spec,
    data_dir,
    recommenders,
    users,
    seed,
    seeds,
    executor,
    address,
    history,
    negatives,
    out,
    cache_dir,
    device,
    plot,
    fresh,
    fail_fast,
):
    """Fit and score recommenders on one split and print the leaderboard.

    Either give an EXPERIMENT_FILE (TOML) or --recommender options. Every
    finished row is checkpointed, so rerunning a killed or failed command
    continues where it stopped. A row that fails is listed under the table
    and the exit code is 1.
    """
    from harness.boards.views import write_views
    from harness.orchestration.runner import evaluate as run_evaluation

    views = functools.partial(write_views, plot=plot)

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
    experiment = with_overrides(
        experiment,
        dataset_spec,
        data_dir,
        device,
        users=users,
        seed=seed,
        history=history,
        negatives=negatives,
    )
    out = out or Path("runs") / experiment.dataset
    if address is not None and executor != "ray":
        raise click.UsageError("--address is for --executor ray")
    run_seeds = None
    if executor == "ray":
        from harness.orchestration.ray_executor import evaluate_on_ray, evaluate_seeds_on_ray

        run_evaluation = functools.partial(evaluate_on_ray, address=address)
        run_seeds = functools.partial(evaluate_seeds_on_ray, address=address)
    if seeds is not None:
        from harness.orchestration.seeds import evaluate_seeds, parse_seeds

        if seed is not None:
            raise click.UsageError("give either --seed or --seeds, not both")
        summary = (run_seeds or evaluate_seeds)(
            experiment,
            out,
            parse_seeds(seeds),
            cache_dir=cache_dir,
            views=views,
            fresh=fresh,
            fail_fast=fail_fast,
            experiment_file=experiment_file,
        )
        click.echo((out / "seeds.md").read_text())
        click.echo(
            f"per-seed boards: {out}/seed-{{{','.join(map(str, summary['seeds']))}}}", err=True
        )
        if summary["failed_rows"]:
            click.echo(f"Error: rows failed: {', '.join(summary['failed_rows'])}", err=True)
            sys.exit(1)
        return
    results = run_evaluation(
        experiment,
        out,
        cache_dir=cache_dir,
        views=views,
        fresh=fresh,
        fail_fast=fail_fast,
        experiment_file=experiment_file,
    )
    from harness.data_parallel import world

    if not world().main:  # in a data-parallel run rank 0 prints the board
        sys.exit(1 if results["failed_runs"] else 0)
    click.echo((out / "leaderboard.md").read_text())
    click.echo(
        f"results: {out / 'results.json'}  split sha256: {results['split']['sha256']}", err=True
    )
    for failure in results["failed_runs"]:
        click.echo(f"Error: row {failure['name']!r} failed: {failure['error']}", err=True)
    if results["failed_runs"]:
        sys.exit(1)
