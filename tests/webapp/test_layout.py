"""The shape of the code that docs/architecture.md promises, checked so it cannot drift:
one layout for every tool app, one reader of untrusted pictures, no import cycle."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOL_APPS = ("detection", "playground", "styletransfer")
APP_FILES = ("apps.py", "services.py", "worker.py", "forms.py", "views.py", "urls.py")


def python_files(folder: str):
    return sorted(p for p in (ROOT / folder).rglob("*.py") if "migrations" not in p.parts)


def module_imports(path: Path) -> set[str]:
    """Modules imported at module level (imports inside functions are deliberate: lazy)."""
    tree = ast.parse(path.read_text())
    found = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


@pytest.mark.parametrize("app", TOOL_APPS)
def test_every_tool_app_has_the_same_files(app):
    have = {p.name for p in (ROOT / app).glob("*.py")}
    assert set(APP_FILES) <= have, f"{app} lacks {set(APP_FILES) - have}"
    assert "tasks.py" not in have, f"{app}/tasks.py: registration goes in apps.py"


@pytest.mark.parametrize("app", TOOL_APPS)
def test_the_kind_name_is_written_once_as_services_kind(app):
    kind = re.search(r'^KIND = "(\w+)"', (ROOT / app / "services.py").read_text(), re.M)
    assert kind, f"{app}/services.py defines no KIND"
    literal = re.compile(rf"""["']{kind.group(1)}["']""")
    places = [
        f"{p.relative_to(ROOT)}:{n}"
        for p in python_files(app)
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if literal.search(line)
    ]
    assert places == [f"{app}/services.py:{n}" for n in [_line_of(app, kind.group(0))]]


def _line_of(app: str, text: str) -> int:
    return (ROOT / app / "services.py").read_text().splitlines().index(text) + 1


# Files that open pictures or zips they trust: model files, generated pictures, benches.
TRUSTED = {"webapp/pictures.py", "webapp/modelfiles.py"}


def test_only_the_one_reader_opens_untrusted_pictures_and_zips():
    offenders = []
    for folder in ("webapp", *TOOL_APPS):
        for path in python_files(folder):
            name = str(path.relative_to(ROOT))
            text = path.read_text()
            if name not in TRUSTED and re.search(r"Image\.open\(|\bimport zipfile\b", text):
                offenders.append(name)
    assert offenders == []


def test_webapp_has_no_import_cycle():
    modules = {f"webapp.{p.stem}": p for p in (ROOT / "webapp").glob("*.py")}
    graph = {
        name: {m for m in module_imports(path) if m in modules and m != name}
        for name, path in modules.items()
    }
    state: dict[str, str] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = "open"
        for nxt in graph[node]:
            if state.get(nxt) == "open":
                pytest.fail("import cycle: " + " -> ".join([*trail, node, nxt]))
            if nxt not in state:
                visit(nxt, [*trail, node])
        state[node] = "done"

    for name in graph:
        if name not in state:
            visit(name, [])
