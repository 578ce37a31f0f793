"""``harness leaderboard``: render, verify, regenerate, index, site and records of boards."""

from __future__ import annotations

from pathlib import Path

import click

from harness.cli.group import (
    cache_dir_option,
    cli,
    data_dir_option,
)
from harness.errors import HarnessError


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

    from harness.boards.formats import render_csv, render_latex
    from harness.boards.plots import plot_budget
    from harness.boards.render import render_leaderboard

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
    from harness.boards.verify import provenance_problem, verify_board

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
    from harness.boards.regenerate import regenerate as rerun

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

    from harness.boards.formats import render_index

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
    from harness.boards.site import build_site

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
    from harness.orchestration.runner import add_prompt_records

    done = add_prompt_records(board, cache_dir, data_dir)
    click.echo(f"{board}: prompt records for {len(done)} rows")
