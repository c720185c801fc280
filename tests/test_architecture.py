"""The layout ARCHITECTURE.md promises: Python modules whose run-time imports point one way,
source files small enough to read, and no PyO3 outside the bindings."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "python" / "nova_ft"
#: A file past this many lines does several jobs: split it by concern.
MAX_LINES = 650


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_imports(path: Path) -> set[str]:
    """The package modules `path` imports when it runs (not under ``if TYPE_CHECKING``)."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for branch in node.orelse:
                visit(branch)
            return
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            base = package.split(".")
            base = base[: len(base) - (node.level - 1)]
            target = ".".join(base + ([node.module] if node.module else []))
            if node.module is None:
                found.update(f"{target}.{alias.name}" for alias in node.names)
            else:
                found.add(target)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text()))
    known = {_module_name(p) for p in PACKAGE.rglob("*.py")}
    return {name for name in found if name in known and name != module}


def test_python_modules_import_each_other_without_cycles() -> None:
    graph = {_module_name(p): _runtime_imports(p) for p in PACKAGE.rglob("*.py")}
    # The package's __init__ re-exports everything; what matters is the modules below it.
    graph = {m: {d for d in deps if d != "nova_ft"} for m, deps in graph.items()}
    state: dict[str, str] = {}
    path: list[str] = []

    def walk(node: str) -> None:
        state[node] = "open"
        path.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == "open":
                cycle = [*path[path.index(dep) :], dep]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if dep not in state:
                walk(dep)
        path.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            walk(node)
    # The workflow steps are resources under the Session facade, not beside it.
    for resource in ("job", "deployment", "storage", "role", "benchmark", "dataset"):
        assert "nova_ft.session" not in graph[f"nova_ft.{resource}"], resource


def test_no_source_file_does_several_jobs() -> None:
    sources = [*ROOT.joinpath("src").rglob("*.rs"), *PACKAGE.rglob("*.py")]
    assert len(sources) > 50
    long = {
        str(p.relative_to(ROOT)): n
        for p in sources
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"split these by concern: {long}"


def test_pyo3_stays_in_the_bindings() -> None:
    for path in ROOT.joinpath("src").rglob("*.rs"):
        if "py" in path.relative_to(ROOT / "src").parts[:1]:
            continue
        text = path.read_text()
        assert "pyo3" not in text and "pythonize" not in text, path


def test_the_command_line_imports_only_what_a_command_needs() -> None:
    """`nova-ft --help` loads neither the native module nor asyncio, and validating data loads
    no part of the AWS workflow: start-up time is what users feel first (README: Speed)."""
    import subprocess
    import sys

    probe = (
        "import sys; {}; "
        "print(' '.join(m for m in ('nova_ft._nova_ft', 'asyncio', 'urllib.request', "
        "'nova_ft.session', 'nova_ft.storage', 'nova_ft.benchmark') if m in sys.modules))"
    )

    def loaded(statement: str) -> set[str]:
        out = subprocess.run(
            [sys.executable, "-c", probe.format(statement)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return set(out.split())

    assert loaded("import nova_ft.cli; nova_ft.cli.build_parser()") == set()
    assert loaded("import nova_ft; nova_ft.Dataset; nova_ft.validate") == {"nova_ft._nova_ft"}
    assert loaded("from nova_ft import datasets") == set()
