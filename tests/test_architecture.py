"""The layout ARCHITECTURE.md promises: crates that depend only on the crates below them,
Python modules whose run-time imports point one way, source files small enough to read, and no
PyO3 outside the bindings."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

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


def _rust_sources() -> list[Path]:
    return [*ROOT.joinpath("src").rglob("*.rs"), *ROOT.joinpath("crates").rglob("*.rs")]


#: The workspace's crates and the only workspace crates each may depend on (ARCHITECTURE.md).
#: Dev-dependencies may reach further for tests (the SDK-against-emulator test of the core).
CRATE_ARROWS = {
    "nova-ft-data": set(),
    "nova-ft-models": {"nova-ft-data"},
    "nova-ft-emulator": {"nova-ft-data", "nova-ft-models"},
    "nova-ft-core": {"nova-ft-data"},
    "nova_ft": {"nova-ft-core", "nova-ft-data", "nova-ft-emulator"},
}
#: External crates that mark a side: the AWS SDK's clients are the client's (the emulator is
#: reached through them, never built on them), PyO3 is the bindings'.
CLIENT_ONLY = ("aws-sdk-", "aws-config")
BINDINGS_ONLY = ("pyo3", "pythonize")


def test_crates_depend_only_on_the_crates_below_them() -> None:
    cargo = shutil.which("cargo")
    if cargo is None:
        pytest.skip("cargo is not on the PATH")
    metadata = json.loads(
        subprocess.run(
            [cargo, "metadata", "--format-version", "1", "--no-deps", "--offline"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    members = {p["name"]: p for p in metadata["packages"]}
    assert set(members) == set(CRATE_ARROWS), "a crate was added: give it its arrows here"
    for name, package in members.items():
        normal = [d for d in package["dependencies"] if d["kind"] is None]
        inner = {d["name"] for d in normal if d["name"] in CRATE_ARROWS}
        assert inner <= CRATE_ARROWS[name], f"{name} depends on {inner - CRATE_ARROWS[name]}"
        every = {d["name"] for d in package["dependencies"]}
        if name != "nova-ft-core" and name != "nova_ft":
            client = {d for d in every if d.startswith(CLIENT_ONLY)}
            assert not client, f"{name} uses the AWS SDK's clients: {client}"
        if name != "nova_ft":
            bindings = {d for d in every if d.startswith(BINDINGS_ONLY)}
            assert not bindings, f"{name} uses {bindings}: PyO3 belongs in the root crate"


def test_the_emulator_knows_its_models_only_through_their_trait() -> None:
    """`nova-ft-models`' families plug in behind `ModelFamily`: the emulator names none of the
    stand-ins' types, so another family (a real language model) needs no change to it."""
    concrete = ("TrainedModel", "Classifier", "Retrieval", "RewardPolicy", "Teacher", "zero_shot")
    sources = list(ROOT.joinpath("crates", "nova-ft-emulator", "src").rglob("*.rs"))
    assert len(sources) > 30
    for path in sources:
        code = "\n".join(
            line for line in path.read_text().splitlines() if not line.lstrip().startswith("//")
        )
        named = [name for name in concrete if name in code]
        assert not named, f"{path.relative_to(ROOT)} names {named}"


#: Async methods written by hand, and why they are not generated twins.
HAND_WRITTEN_ASYNC = {
    # No progress bar by default, and Ctrl-C does not offer to stop the job (it cancels).
    "FineTuneJob.wait_async",
    "Deployment.wait_async",
    # Polls the Rust run's progress between awaits instead of driving steps.
    "Benchmark.run_async",
}


def test_every_workflow_step_has_its_async_twin() -> None:
    """Each step is defined once (``@step``) and its ``_async`` twin generated from it
    (``async_twin``); only the methods listed above are written twice, on purpose."""
    import importlib
    import inspect

    steps = 0
    for path in sorted(p for p in PACKAGE.glob("*.py") if p.name != "__main__.py"):
        module = importlib.import_module(_module_name(path))
        for cls in vars(module).values():
            if not inspect.isclass(cls) or cls.__module__ != module.__name__:
                continue
            for name, member in vars(cls).items():
                where = f"{cls.__name__}.{name}"
                if hasattr(member, "__steps__"):
                    steps += 1
                    twin = vars(cls).get(f"{name}_async")
                    assert getattr(twin, "__twin_of__", None) is member, f"{where} has no twin"
                elif name.endswith("_async") and not name.startswith("_"):
                    assert hasattr(member, "__twin_of__") or where in HAND_WRITTEN_ASYNC, where
    assert steps >= 24


def test_no_source_file_does_several_jobs() -> None:
    sources = [*_rust_sources(), *PACKAGE.rglob("*.py")]
    assert len(sources) > 50
    long = {
        str(p.relative_to(ROOT)): n
        for p in sources
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"split these by concern: {long}"


def test_pyo3_stays_in_the_bindings() -> None:
    crates = list(ROOT.joinpath("crates").rglob("*.rs"))
    assert len(crates) > 50
    for path in crates:
        text = path.read_text()
        assert "pyo3" not in text and "pythonize" not in text, path


def test_the_command_line_imports_only_what_a_command_needs() -> None:
    """`nova-ft --help` loads neither the native module nor asyncio, and validating data loads
    no part of the AWS workflow: start-up time is what users feel first (docs/guide/speed.md)."""
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


#: Public signatures that stay ``Any`` on purpose: a boto3 client (no types without
#: boto3-stubs) and options forwarded as keywords.
ANY_ALLOWED = {
    ("LocalEmulator.client", "return"),
    ("LocalEmulator.client", "kwargs"),
    ("Session.local", "emulator_options"),
    ("Session.benchmark", "options"),
}


def test_public_signatures_name_their_types() -> None:
    """No public function, method or property of nova_ft is typed plain ``Any`` where a type
    can be written (DataFrames are ``pandas.DataFrame``, plots ``matplotlib`` figures), and
    every public module says what it exports (``__all__``)."""
    import importlib
    import inspect

    import nova_ft

    loose = set()
    for name in nova_ft.__all__:
        obj = getattr(nova_ft, name)
        members: list[tuple[str, Any]] = [(name, obj)]
        if inspect.isclass(obj):
            members = [
                (f"{name}.{attr}", member.fget if isinstance(member, property) else member)
                for attr, member in vars(obj).items()
                if not attr.startswith("_") or attr == "__init__"
            ]
        for where, member in members:
            function = getattr(member, "__func__", member)
            for parameter, annotation in getattr(function, "__annotations__", {}).items():
                if annotation in ("Any", Any):
                    loose.add((where.replace(".__init__", ""), parameter))
    assert loose == ANY_ALLOWED
    for path in PACKAGE.rglob("*.py"):
        module = _module_name(path)
        if any(part.startswith("_") for part in module.split(".")[1:]):
            continue
        assert "__all__" in vars(importlib.import_module(module)), module
