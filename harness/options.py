"""Typed options for plugins: parse ``name[key=value,...]`` specs and validate them.

Each registered component declares its options as a dataclass; the field types
and defaults are the documentation, and a value that does not fit is a one-line
error naming the option.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from typing import Any, Literal, Union

from harness.errors import HarnessError

_SPEC = re.compile(r"^\s*(?P<name>[A-Za-z0-9_.\-]+)\s*(?:\[(?P<opts>.*)\])?\s*$", re.S)


def parse_spec(spec: str) -> tuple[str, dict[str, str]]:
    """Split ``"sasrec[loss=bce,epochs=50]"`` into ``("sasrec", {"loss": "bce", "epochs": "50"})``."""
    match = _SPEC.match(spec)
    if not match:
        raise HarnessError(f"cannot parse spec {spec!r}: expected NAME or NAME[key=value,...]")
    options: dict[str, str] = {}
    body = match.group("opts")
    if body and body.strip():
        for part in _split_top_level(body):
            key, sep, value = part.partition("=")
            if not sep or not key.strip():
                raise HarnessError(
                    f"cannot parse option {part.strip()!r} in {spec!r}: expected key=value"
                )
            options[key.strip()] = value.strip().strip("'\"")
    return match.group("name"), options


def _split_top_level(body: str) -> list[str]:
    """Split on commas that are not inside quotes."""
    parts, current, quote = [], [], None
    for char in body:
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == ",":
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return [p for p in parts if p.strip()]


NESTED = "nested"  # field metadata: this dict field holds the sub-options of another field
# field metadata: a throughput knob (batch sizing) that moves a row's numbers by no more
# than its declared tolerance; left out of the row checkpoint's key
THROUGHPUT = "throughput"


def nested_fields(cls: type) -> dict[str, str]:
    """``{component field: its sub-options field}``, e.g. ``{"summarizer": "summarizer_options"}``.

    A component option (``summarizer=NAME``) may carry the chosen component's
    own options: ``summarizer.KEY=VALUE`` on the command line, or
    ``summarizer = { name = NAME, KEY = VALUE }`` in an experiment file. They
    are collected, as given, into the dict field whose metadata says
    ``nested=<component field>``; the component validates them when it is built.
    """
    return {f.metadata[NESTED]: f.name for f in dataclasses.fields(cls) if f.metadata.get(NESTED)}


def _gather_nested(cls: type, raw: dict[str, Any], owner: str) -> dict[str, Any]:
    nested = nested_fields(cls)
    if not nested:
        return raw
    out: dict[str, Any] = {}
    subs: dict[str, dict[str, Any]] = {}
    for key, value in raw.items():
        head, dot, sub = key.partition(".")
        if dot and head in nested and sub:
            subs.setdefault(head, {})[sub] = value
        elif key in nested and isinstance(value, dict):
            table = dict(value)
            if "name" not in table:
                raise HarnessError(f"option {key!r} of {owner}: a table needs a 'name' key")
            out[key] = table.pop("name")
            subs.setdefault(key, {}).update(table)
        else:
            out[key] = value
    for head, values in subs.items():
        out[nested[head]] = {**dict(out.get(nested[head]) or {}), **values}
    return out


def build_options(cls: type | None, raw: dict[str, Any], owner: str) -> Any:
    """Instantiate the options dataclass ``cls`` from ``raw`` values (strings or typed)."""
    if cls is None:
        if raw:
            raise HarnessError(f"{owner} takes no options, got: {', '.join(sorted(raw))}")
        return None
    raw = _gather_nested(cls, raw, owner)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in fields:
            hidden = {sub: f"{head}.KEY" for head, sub in nested_fields(cls).items()}
            valid = ", ".join(sorted(hidden.get(name, name) for name in fields)) or "(none)"
            raise HarnessError(f"unknown option {key!r} for {owner}; valid options: {valid}")
        try:
            values[key] = coerce(value, hints[key])
        except (TypeError, ValueError) as exc:
            raise HarnessError(
                f"bad value {value!r} for option {key!r} of {owner}: {exc}"
            ) from None
    try:
        options = cls(**values)
        run_parent_checks(options)
    except (TypeError, ValueError) as exc:
        raise HarnessError(f"invalid options for {owner}: {exc}") from None
    return options


def run_parent_checks(options: Any) -> None:
    """Run every base class's ``__post_init__`` checks on ``options`` too.

    A subclass whose ``__post_init__`` forgets ``super().__post_init__()``
    would otherwise skip its parents' checks (``epochs=0`` slipping through);
    the checks only raise, so running one twice is harmless.
    """
    for base in type(options).__mro__[1:]:
        check = base.__dict__.get("__post_init__")
        if check is not None:
            check(options)


def coerce(value: Any, annotation: Any) -> Any:
    """Convert ``value`` to ``annotation`` (int, float, bool, str, Literal, Optional, tuple)."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is Any:
        return value
    if origin is dict or annotation is dict:
        if not isinstance(value, dict):
            raise ValueError("expected a table of options")
        return dict(value)
    if origin is Literal:
        for choice in args:
            if value == choice or str(value) == str(choice):
                return choice
        raise ValueError(f"expected one of {', '.join(map(str, args))}")
    if origin in (Union, types.UnionType):
        is_none = value is None or (
            isinstance(value, str) and value.lower() in ("none", "null", "")
        )
        if is_none and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return coerce(value, arg)
            except (TypeError, ValueError) as exc:
                errors.append(str(exc))
        raise ValueError("; ".join(errors))
    if origin is tuple:
        items = value.split("|") if isinstance(value, str) else list(value)
        inner = args[0] if args else str
        return tuple(
            coerce(item.strip() if isinstance(item, str) else item, inner) for item in items
        )
    if annotation is bool:
        if isinstance(value, bool):
            return value
        lowered = str(value).lower()
        if lowered in ("true", "1", "yes", "on"):
            return True
        if lowered in ("false", "0", "no", "off"):
            return False
        raise ValueError("expected true or false")
    if annotation is int:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError("expected an integer")
        return int(value)
    if annotation is float:
        if isinstance(value, bool):
            raise ValueError("expected a number")
        return float(value)
    if annotation is str:
        return str(value)
    raise TypeError(f"unsupported option type {annotation!r}")


def describe_options(cls: type | None) -> list[tuple[str, str, Any, str]]:
    """``(name, type, default, help)`` rows for ``harness plugins --verbose`` and docs."""
    if cls is None:
        return []
    hints = typing.get_type_hints(cls)
    rows = []
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        if f.metadata.get(NESTED):
            rows.append((f"{f.metadata[NESTED]}.KEY", "any", None, f.metadata.get("help", "")))
            continue
        default = f.default if f.default is not dataclasses.MISSING else None
        type_name = getattr(hints[f.name], "__name__", None) or str(hints[f.name])
        rows.append((f.name, type_name.replace("typing.", ""), default, f.metadata.get("help", "")))
    return rows


def key_options(options: Any) -> dict[str, Any]:
    """:func:`options_dict` without the throughput knobs: what decides a row's numbers."""
    if options is None:
        return {}
    knobs = {f.name for f in dataclasses.fields(options) if f.metadata.get(THROUGHPUT)}
    return {k: v for k, v in options_dict(options).items() if k not in knobs}


def options_dict(options: Any) -> dict[str, Any]:
    """Options as a JSON-ready dict (``{}`` when a component has none)."""
    if options is None:
        return {}
    return {
        k: list(v) if isinstance(v, tuple) else v
        for k, v in dataclasses.asdict(options).items()
        if not (isinstance(v, dict) and not v)  # empty sub-options stay out of results
    }
