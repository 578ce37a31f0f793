"""The plugin manager: the harness's own entry points first, then every other distribution's.

Built-ins are entry points of the group ``harness`` in this distribution's
pyproject.toml and register through exactly the hooks a third-party plugin
uses, so the core names no plugin. Set
``HARNESS_DISABLE_PLUGINS=name1,name2`` to block plugins by name (a built-in's
name is its module path, an entry point's name is the entry point's name).
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib
import importlib.metadata
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import pluggy

from harness import hookspecs
from harness.errors import HarnessError, PluginError, plugin_errors

ENTRY_POINT_GROUP = "harness"
DISABLE_ENV = "HARNESS_DISABLE_PLUGINS"

# The distribution that ships the harness: its own entry points (the built-in loaders,
# baselines and LLM-TRSR, listed in pyproject.toml) register first.
DISTRIBUTION = "llmrec-harness"

KINDS = ("datasets", "summarizers", "recommenders")


@dataclass(frozen=True)
class Registration:
    """One named component a plugin registered."""

    kind: str
    name: str
    factory: Callable[..., Any]
    options: type | None
    description: str
    plugin: str


@dataclass
class Registry:
    """Everything the loaded plugins registered, by kind and name."""

    entries: dict[str, dict[str, Registration]] = field(
        default_factory=lambda: {kind: {} for kind in KINDS}
    )

    def get(self, kind: str, name: str) -> Registration:
        entries = self.entries[kind]
        if name not in entries:
            singular = kind[:-1]
            available = ", ".join(sorted(entries)) or "(none)"
            raise HarnessError(f"unknown {singular} {name!r}; available: {available}")
        return entries[name]

    def names(self, kind: str) -> list[str]:
        return sorted(self.entries[kind])


def blocked_plugins() -> set[str]:
    return {n.strip() for n in os.environ.get(DISABLE_ENV, "").split(",") if n.strip()}


def get_plugin_manager() -> pluggy.PluginManager:
    """A fresh manager with built-ins and installed entry-point plugins loaded."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    for name in blocked_plugins():
        pm.set_blocked(name)
    for entry in builtin_entry_points():
        if not pm.is_blocked(entry.name):
            with plugin_errors(f"built-in plugin {entry.name} failed to load"):
                pm.register(entry.load(), name=entry.name)
    try:
        pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    except Exception as exc:  # a broken third-party package must not look like our bug
        raise PluginError(
            f"could not load a plugin of entry-point group 'harness': {exc}"
        ) from None
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"plugin implements an unknown hook: {exc}") from None
    return pm


def builtin_entry_points() -> list[importlib.metadata.EntryPoint]:
    """The harness's own ``harness`` entry points (the installed metadata lists them by name)."""
    try:
        entry_points = importlib.metadata.distribution(DISTRIBUTION).entry_points
    except importlib.metadata.PackageNotFoundError:
        raise HarnessError(
            f"{DISTRIBUTION} is not installed, so its built-in plugins cannot be found; "
            "install it (pip install -e .) rather than running it from a bare checkout"
        ) from None
    return [entry for entry in entry_points if entry.group == ENTRY_POINT_GROUP]


def plugin_source(pm: pluggy.PluginManager, plugin: object) -> str:
    """Where a plugin came from: ``built-in`` or ``dist-name version``."""
    for loaded, dist in pm.list_plugin_distinfo():
        if loaded is plugin:
            return f"{dist.metadata['name']} {dist.version}"
    return "built-in"


def collect(pm: pluggy.PluginManager) -> Registry:
    """Call each plugin's register hooks and record who registered what."""
    registry = Registry()
    for kind in KINDS:
        caller = getattr(pm.hook, f"register_{kind}")
        for impl in caller.get_hookimpls():  # registration order: built-ins first
            plugin_name = impl.plugin_name

            def register(
                name, factory, options=None, description="", *, _kind=kind, _plugin=plugin_name
            ):
                existing = registry.entries[_kind].get(name)
                if existing is not None:
                    raise PluginError(
                        f"{_kind[:-1]} {name!r} registered twice: by {existing.plugin} "
                        f"and by {_plugin}"
                    )
                registry.entries[_kind][name] = Registration(
                    _kind, name, factory, options, description, _plugin
                )

            with plugin_errors(f"plugin {plugin_name} failed in register_{kind}"):
                impl.function(register=register)
    return registry


@cache
def default_registry() -> Registry:
    """The registry of the current process (plugins are loaded once)."""
    return collect(get_plugin_manager())


_RUN_REGISTRY: contextvars.ContextVar[Registry | None] = contextvars.ContextVar(
    "harness_run_registry", default=None
)


def current_registry() -> Registry:
    """The registry of the run being prepared, else the process's.

    A component that resolves another by name (a recommender's summarizer)
    asks here, so a run built from its own registry (a test's, an embedding
    program's) finds its nested components there, not in the global one.
    """
    return _RUN_REGISTRY.get() or default_registry()


@contextlib.contextmanager
def using_registry(registry: Registry) -> Iterator[Registry]:
    """Make ``registry`` the :func:`current_registry` while components are built."""
    token = _RUN_REGISTRY.set(registry)
    try:
        yield registry
    finally:
        _RUN_REGISTRY.reset(token)
