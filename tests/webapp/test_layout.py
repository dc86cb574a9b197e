"""The shape of the code that docs/architecture.md promises, checked so it cannot drift:
one layout for every tool app (one kind at the app's top, or one subpackage per kind),
one reader of untrusted pictures, no import cycle in any app (imports inside functions
included)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOL_APPS = ("detection", "playground", "styletransfer")
APPS = ("webapp", *TOOL_APPS)
APP_FILES = ("apps.py", "forms.py", "urls.py")  # each tool app's own
KIND_FILES = ("services.py", "worker.py", "views.py")  # each kind's own
# An app with several kinds keeps each in a subpackage named after the kind; the others
# keep their one kind's files at the top.
KIND_PACKAGES = {"playground": ("train", "transfer", "explain", "teach")}


def python_files(folder: str):
    return sorted(p for p in (ROOT / folder).rglob("*.py") if "migrations" not in p.parts)


def kind_folders(app: str) -> list[Path]:
    return [ROOT / app / name for name in KIND_PACKAGES.get(app, ())] or [ROOT / app]


def _type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def all_imports(path: Path) -> set[str]:
    """Every module the file imports when it runs: at module level and inside functions
    (a lazy import still closes a circle once both run), not under `if TYPE_CHECKING`."""
    tree = ast.parse(path.read_text())
    skipped = {id(n) for block in ast.walk(tree) if _type_checking(block)
               for stmt in block.body for n in ast.walk(stmt)}  # fmt: skip
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@pytest.mark.parametrize("app", TOOL_APPS)
def test_every_tool_app_has_the_same_files(app):
    have = {p.name for p in (ROOT / app).glob("*.py")}
    assert set(APP_FILES) <= have, f"{app} lacks {set(APP_FILES) - have}"
    for folder in kind_folders(app):
        files = {p.name for p in folder.glob("*.py")}
        assert set(KIND_FILES) <= files, f"{folder.name} lacks {set(KIND_FILES) - files}"
    if app in KIND_PACKAGES:  # no dumping ground beside the kinds
        assert not set(KIND_FILES) & have, f"{app} keeps {set(KIND_FILES) & have} at its top"
    assert not [p for p in python_files(app) if p.name == "tasks.py"], (
        f"{app}: registration goes in apps.py")


@pytest.mark.parametrize("app", list(KIND_PACKAGES))
def test_each_kind_registers_its_own_worker_template_and_page(app):
    from webapp.jobkinds import KINDS

    for name in KIND_PACKAGES[app]:
        kind = KINDS[name]
        assert kind.run == f"{app}.{name}.worker:run"
        assert kind.template == f"{app}/{name}_job.html"
        assert (ROOT / "templates" / kind.template).exists()
        worker = ast.parse((ROOT / app / name / "worker.py").read_text())
        assert "run" in {n.name for n in worker.body if isinstance(n, ast.FunctionDef)}


@pytest.mark.parametrize("app", TOOL_APPS)
def test_the_kind_name_is_written_once_as_services_kind(app):
    if app in KIND_PACKAGES:
        return  # test_a_kind_in_a_subpackage_is_named_after_it
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


def kind_literal(names: tuple[str, ...]) -> re.Pattern:
    """One of these kinds named by a literal where a kind is meant: kind="x",
    .kind == "x", kind__in=["x", ...]."""
    either = "|".join(names)
    return re.compile(rf"""\bkind(__in)?\s*(=|==|!=|\bin\b)\s*[\[(]?\s*["']({either})["']""")


@pytest.mark.parametrize("app", list(KIND_PACKAGES))
def test_a_kind_in_a_subpackage_is_named_after_it_and_only_through_kind(app):
    for name in KIND_PACKAGES[app]:
        text = (ROOT / app / name / "services.py").read_text()
        assert re.findall(r'^KIND = "(\w+)"', text, re.M) == [name]
    literal = kind_literal(KIND_PACKAGES[app])
    places = [
        f"{p.relative_to(ROOT)}:{n}"
        for p in python_files(app)
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if literal.search(line)
    ]
    assert places == []


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


def test_no_app_has_an_import_cycle():
    modules = {module_name(p): p for app in APPS for p in python_files(app)}
    graph = {
        name: {m for m in all_imports(path) if m in modules and m != name}
        for name, path in modules.items()
    }
    state: dict[str, str] = {}
    cycles: list[str] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                start = [*trail, node].index(nxt)
                cycles.append(" -> ".join([*trail, node][start:] + [nxt]))
            elif nxt not in state:
                visit(nxt, [*trail, node])
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [])
    assert cycles == []
