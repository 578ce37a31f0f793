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
    ``loader(options, context)`` returns a :class:`harness.data.Dataset`;
    ``context`` is a :class:`harness.data.DatasetContext`: ``data_dir`` (the
    ``--data-dir`` path, ``None`` for embedded data), ``cache_dir``, ``seed``,
    ``progress``. Helpers: :func:`harness.data.cache.load_or_build` (parse
    once, memory-map after) and :func:`harness.data.text.render_item`.
    """


# --- models -----------------------------------------------------------------


@hookspec
def register_summarizers(register):
    """Register history summarizers (used by LLM-TRSR and any plugin that wants one).

    Call ``register(name, factory, options=OptionsDataclass, description=...)``.
    ``factory(options)`` returns a :class:`harness.summarizer.Summarizer`:
    ``summarize(histories, context, domain) -> list[str]``, one preference
    summary per history of item-text lines, oldest first. Its options reach
    it through the recommender that uses it: ``llm-trsr[summarizer=NAME,
    summarizer.KEY=VALUE]``.
    """


@hookspec
def register_recommenders(register):
    """Register recommenders.

    Call ``register(name, factory, options=OptionsDataclass, description=...)``.
    ``factory(options)`` returns a :class:`harness.recommender.Recommender`:
    ``fit(data, context)`` then ``score(requests, context)`` giving one score
    per candidate of each request; the requests carry no answer. A yes/no LLM
    recommender can subclass
    :class:`harness.PromptedYesNoRecommender`.
    """


# --- command line -----------------------------------------------------------


@hookspec
def register_commands(cli):
    """Add subcommands to the ``harness`` click group ``cli``."""
