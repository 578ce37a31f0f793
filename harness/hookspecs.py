"""Hook specifications: the whole surface a plugin can implement.

Hooks use the callback style of simonw/llm: a plugin receives a ``register``
function and hands it objects, so one hook can register many things.
"""

import pluggy

PROJECT = "harness"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# --- data -------------------------------------------------------------------


@hookspec
def register_datasets(register):
    """Register dataset loaders.

    Call ``register(name, loader, options=OptionsDataclass, description=...)``.
    ``loader(options, data_dir)`` returns a :class:`harness.data.Dataset`;
    ``data_dir`` is the ``--data-dir`` path or ``None`` for embedded data.
    """


# --- models -----------------------------------------------------------------


@hookspec
def register_summarizers(register):
    """Register history summarizers (used by LLM-TRSR and any plugin that wants one).

    Call ``register(name, factory, options=OptionsDataclass, description=...)``.
    ``factory(options)`` returns an object with
    ``summarize(histories: list[list[str]], context, domain: str) -> list[str]``:
    one preference summary per history of item-text lines, oldest first;
    ``domain`` is the dataset's ("movies", "news", "products").
    """


@hookspec
def register_recommenders(register):
    """Register recommenders.

    Call ``register(name, factory, options=OptionsDataclass, description=...)``.
    ``factory(options)`` returns a :class:`harness.recommender.Recommender`:
    ``fit(data, context)`` then ``score(requests, context)`` giving one score
    per candidate of each request.
    """


# --- command line -----------------------------------------------------------


@hookspec
def register_commands(cli):
    """Add subcommands to the ``harness`` click group ``cli``."""
