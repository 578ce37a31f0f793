"""The ``harness`` command line."""

from __future__ import annotations

import functools
import logging
import sys
from pathlib import Path

import click

from harness.errors import HarnessError
from harness.experiment import Experiment, RunSpec, load_experiment
from harness.options import describe_options, parse_spec
from harness.plugins import KINDS, default_registry, get_plugin_manager, plugin_source
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
    if address is not None and executor != "ray":
        raise click.UsageError("--address is for --executor ray")
    run_seeds = None
    if executor == "ray":
        from harness.ray_executor import evaluate_on_ray, evaluate_seeds_on_ray

        run_evaluation = functools.partial(evaluate_on_ray, address=address)
        run_seeds = functools.partial(evaluate_seeds_on_ray, address=address)
    if seeds is not None:
        from harness.seeds import evaluate_seeds, parse_seeds

        if seed is not None:
            raise click.UsageError("give either --seed or --seeds, not both")
        summary = (run_seeds or evaluate_seeds)(
            experiment,
            out,
            parse_seeds(seeds),
            cache_dir=cache_dir,
            plot=plot,
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
        plot=plot,
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
    from harness.runner import load_dataset

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


class _RenderByDefault(click.Group):
    """``harness leaderboard RESULTS`` is ``harness leaderboard render RESULTS``."""

    def resolve_command(self, ctx, args):
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["render", *args]
        return super().resolve_command(ctx, args)


@cli.group(cls=_RenderByDefault)
def leaderboard() -> None:
    """Render, verify or regenerate leaderboards (default: render RESULTS)."""


def _results_path(path: Path) -> Path:
    return path / "results.json" if path.is_dir() else path


@leaderboard.command("render")
@click.argument("results_json", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["md", "latex", "csv"]),
    default="md",
    show_default=True,
    help="Markdown (the board), LaTeX (booktabs; best in bold, ties with it underlined) or CSV.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Also write the rendering to this file.",
)
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Also write a PNG of quality against prompt tokens here.",
)
def render(results_json: Path, fmt: str, out: Path | None, plot_path: Path | None) -> None:
    """Render the tables of a results.json file (or of a board folder)."""
    import json

    from harness.leaderboard import plot_budget, render_leaderboard
    from harness.leaderboard_formats import render_csv, render_latex

    results_json = _results_path(results_json)
    renderers = {"md": render_leaderboard, "latex": render_latex, "csv": render_csv}
    try:
        results = json.loads(results_json.read_text())
        text = renderers[fmt](results)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise HarnessError(f"{results_json}: not JSON: {exc}") from None
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise HarnessError(
            f"{results_json}: not a harness results file "
            f"({type(exc).__name__}: {exc}); `harness evaluate` writes one"
        ) from None
    if out:
        out.write_text(text)
    if plot_path and not plot_budget(results, plot_path):
        raise click.UsageError("no row reports prompt tokens: nothing to plot")
    click.echo(text, nl=False)


@leaderboard.command("verify")
@click.argument(
    "boards", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path)
)
@click.option(
    "--require-clean",
    is_flag=True,
    help="also fail a board made from a dirty tree (without it: a warning); CI sets it",
)
def verify(boards: tuple[Path, ...], require_clean: bool) -> None:
    """Recompute every metric of every row from the board's split.json and scores.

    Exits 1 naming each row and metric that differs from results.json. A board
    whose provenance is a dirty tree gets a warning (a failure with --require-clean).
    """
    from harness.verify import provenance_problem, verify_board

    failed = 0
    for board in boards:
        problems = verify_board(board)
        dirty = provenance_problem(board)
        if dirty and require_clean:
            problems.append(dirty)
        elif dirty:
            click.echo(f"{board}: warning: {dirty}", err=True)
        if problems:
            failed += 1
            for problem in problems:
                click.echo(f"{board}: {problem}", err=True)
        else:
            click.echo(f"{board}: verified")
    if failed:
        raise SystemExit(1)


@leaderboard.command("regenerate")
@click.argument(
    "boards", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path)
)
@click.option(
    "--check",
    is_flag=True,
    help="Rerun into a temporary folder and compare with the committed board instead of "
    "rewriting it; exit 1 on a drift beyond a row's declared tolerance.",
)
@cache_dir_option
def regenerate(boards: tuple[Path, ...], check: bool, cache_dir: Path | None) -> None:
    """Rerun each board's recorded experiment (its rows recomputed, not read from checkpoints)."""
    from harness.regenerate import regenerate as rerun

    failed = 0
    for board in boards:
        comparison = rerun(board, check=check, cache_dir=cache_dir)
        if comparison is None:
            click.echo(f"{board}: regenerated")
            continue
        click.echo(f"## {board}\n\n{comparison.table}\n")
        for drift in comparison.drifts:
            click.echo(f"{board}: {drift}", err=True)
        if comparison.drifts:
            failed += 1
        else:
            click.echo(f"{board}: regenerated within every row's tolerance")
    if failed:
        raise SystemExit(1)


@leaderboard.command("index")
@click.argument(
    "folder", default="leaderboards", type=click.Path(exists=True, file_okay=False, path_type=Path)
)
def index(folder: Path) -> None:
    """Write FOLDER/README.md: one line per board (dataset, requests, split, best row, commit)."""
    import json

    from harness.leaderboard_formats import render_index

    boards = [
        (board.name, json.loads((board / "results.json").read_text()))
        for board in sorted(folder.iterdir())
        if (board / "results.json").is_file()
    ]
    if not boards:
        raise HarnessError(f"{folder}: no board (a folder with results.json) in it")
    (folder / "README.md").write_text(render_index(boards))
    click.echo(f"{folder / 'README.md'}: {len(boards)} boards")


@leaderboard.command("site")
@click.argument(
    "boards", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path)
)
@click.option(
    "--out", type=click.Path(path_type=Path), required=True, help="The site folder (replaced)."
)
@data_dir_option
def site(boards: tuple[Path, ...], out: Path, data_dir: Path | None) -> None:
    """Build a static website of BOARDS: index, tables, charts, request explorer.

    Opens from file:// or any static host (GitHub Pages); every script is a
    file in the site. Boards are verified as they are read; one that does not
    verify, or was made from a dirty tree, is built and marked so on its pages.
    """
    from harness.site import build_site

    names = build_site(boards, out, data_dir)
    click.echo(f"{out / 'index.html'}: {len(names)} boards ({', '.join(names)})")


@leaderboard.command("records")
@click.argument("board", type=click.Path(exists=True, file_okay=False, path_type=Path))
@cache_dir_option
@data_dir_option
def records(board: Path, cache_dir: Path | None, data_dir: Path | None) -> None:
    """Add records/ (each LLM row's prompts per test request) to a board made before them.

    Prompts are rebuilt from the board's own experiment and split, not
    rescored; summaries come from the generation cache (generated if absent).
    """
    from harness.runner import add_prompt_records

    done = add_prompt_records(board, cache_dir, data_dir)
    click.echo(f"{board}: prompt records for {len(done)} rows")


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
    from harness.paths import cache_root
    from harness.runner import load_dataset, prepare_split
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
    from harness.experiment import RunSpec
    from harness.runner import prepare_runs

    recommender = prepare_runs([RunSpec.from_spec(spec)], default_registry())[0].recommender
    declared = getattr(recommender, "capabilities", None)
    if declared is None or not getattr(declared(), capability):
        raise click.UsageError(f"{spec!r} {what}")
    return recommender


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
    from harness import conformance
    from harness.data.context import DatasetContext
    from harness.paths import cache_root
    from harness.runner import load_dataset

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
    from harness.llm.lm_eval_export import write_lm_eval_task
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
    from harness.split_export import write_hf_split

    split, _ = load_split(dataset_spec, data_dir, users, seed, history, cache_dir)
    write_hf_split(split, out)
    click.echo(
        f"wrote split {split.sha256[:12]} of {split.dataset.name} to {out}: "
        f"{len(split.train)} train sequences, {len(split.valid)} validation and "
        f"{len(split.test)} test requests; read it with datasets.load_from_disk"
    )


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
