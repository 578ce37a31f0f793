"""``harness plugins`` and ``harness check-plugin``: what is installed, and whether it keeps its contract."""

from __future__ import annotations

import sys

import click

from harness.cli.group import (
    cache_dir_option,
    cli,
    data_dir_option,
    dataset_option,
)
from harness.options import describe_options, parse_spec
from harness.plugins import KINDS, default_registry, get_plugin_manager, plugin_source


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


@cli.command("check-plugin")
@click.argument("spec", metavar="NAME[key=value,...]")
@click.option(
    "--kind",
    type=click.Choice(["recommender", "summarizer", "dataset"]),
    default=None,
    help="What NAME is, when several kinds share the name.",
)
@dataset_option(help="Sample data for a recommender or summarizer.")
@data_dir_option
@click.option("--users", type=int, default=30, show_default=True, help="Sample size.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of both runs.")
@cache_dir_option
def check_plugin(spec, kind, dataset_spec, data_dir, users, seed, cache_dir):
    """Run a registered recommender, summarizer or dataset against its contract.

    Prints each check; exits 1 if any fails.
    """
    from harness.data.context import DatasetContext
    from harness.orchestration import conformance
    from harness.orchestration.runner import load_dataset
    from harness.paths import cache_root

    name, raw = parse_spec(spec)
    registry = default_registry()
    kinds = [k for k in KINDS if name in registry.entries[k]]
    if kind is not None:
        kinds = [k for k in kinds if k == kind + "s"]
    if not kinds:
        wanted = f"{kind} " if kind else ""
        raise click.UsageError(f"no {wanted}plugin named {name!r} (see `harness plugins`)")
    if len(kinds) > 1:
        raise click.UsageError(f"{name!r} is a {' and a '.join(k[:-1] for k in kinds)}: add --kind")
    reg = registry.get(kinds[0], name)
    cache_dir = cache_root(cache_dir)
    context = DatasetContext(data_dir, cache_dir, seed=seed, progress=False)
    click.echo(f"checking {reg.kind[:-1]} {name!r} ({reg.plugin})")
    if reg.kind == "datasets":
        checks = conformance.check_dataset(reg, raw, context)
    else:
        sample_name, sample_options = parse_spec(dataset_spec)
        sample = load_dataset(sample_name, sample_options, context, registry)
        if reg.kind == "recommenders":
            checks = conformance.check_recommender(reg, raw, sample, users, seed, cache_dir)
        else:
            checks = conformance.check_summarizer(reg, raw, sample, cache_dir)
    for check in checks:
        click.echo(check.line())
    failed = [c for c in checks if not c.ok]
    if failed:
        click.echo(f"{len(failed)} of {len(checks)} checks failed", err=True)
        sys.exit(1)
    click.echo(f"all {len(checks)} checks passed")
