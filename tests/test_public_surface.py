"""Plugins, ours included, import only the public names of ``harness`` and ``harness.llm``:
what a third party can code against is what our own plugins use."""

import ast
from pathlib import Path

import pytest

import harness
import harness.llm

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_FILES = sorted(
    path
    for folder in ("plugins", "baselines", "examples")
    for path in (ROOT / folder).rglob("*.py")
    if "build" not in path.parts
)


def harness_imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "harness":
            yield node.module, [alias.name for alias in node.names], node.lineno
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "harness":
                    yield alias.name, [], node.lineno


@pytest.mark.parametrize("path", PLUGIN_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_plugins_import_only_public_names(path):
    public = {"harness": set(harness.__all__), "harness.llm": set(harness.llm.__all__)}
    for module, names, line in harness_imports(path):
        where = f"{path.relative_to(ROOT)}:{line}"
        assert module in public, f"{where} imports the internal module {module}"
        assert set(names) <= public[module], f"{where}: {set(names) - public[module]} not public"


def test_every_public_name_resolves():
    for module in (harness, harness.llm):
        for name in module.__all__:
            assert getattr(module, name) is not None, name
    assert len(PLUGIN_FILES) > 15
