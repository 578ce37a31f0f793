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


def build_options(cls: type | None, raw: dict[str, Any], owner: str) -> Any:
    """Instantiate the options dataclass ``cls`` from ``raw`` values (strings or typed)."""
    if cls is None:
        if raw:
            raise HarnessError(f"{owner} takes no options, got: {', '.join(sorted(raw))}")
        return None
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in fields:
            valid = ", ".join(sorted(fields)) or "(none)"
            raise HarnessError(f"unknown option {key!r} for {owner}; valid options: {valid}")
        try:
            values[key] = coerce(value, hints[key])
        except (TypeError, ValueError) as exc:
            raise HarnessError(
                f"bad value {value!r} for option {key!r} of {owner}: {exc}"
            ) from None
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:
        raise HarnessError(f"invalid options for {owner}: {exc}") from None


def coerce(value: Any, annotation: Any) -> Any:
    """Convert ``value`` to ``annotation`` (int, float, bool, str, Literal, Optional, tuple)."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is Any:
        return value
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
        default = f.default if f.default is not dataclasses.MISSING else None
        type_name = getattr(hints[f.name], "__name__", None) or str(hints[f.name])
        rows.append((f.name, type_name.replace("typing.", ""), default, f.metadata.get("help", "")))
    return rows


def options_dict(options: Any) -> dict[str, Any]:
    """Options as a JSON-ready dict (``{}`` when a component has none)."""
    if options is None:
        return {}
    return {
        k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(options).items()
    }
