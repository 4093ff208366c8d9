"""The package's house rules: no import cycle (lazy imports inside functions count too),
no module over 500 lines, every module importable, the lab (pytest_irp_lab, its own
package) never imported by the plugin but through importlib for --irp-lab."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "pytest_irp"
MAX_LINES = 500  # every module of the plugin (the lab, pytest_irp_lab, is another package)


def module_names() -> dict[str, Path]:
    names = {}
    for file in sorted(PACKAGE.rglob("*.py")):
        parts = list(file.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = file
    return names


def imports_of(name: str, file: Path, known: set[str]) -> set[str]:
    """The package's modules ``file`` imports anywhere (top level, inside functions, under
    TYPE_CHECKING): ``from . import x`` names module x, ``from .x import y`` module x."""
    package = name if file.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in known)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                if f"{target}.{alias.name}" in known:
                    found.add(f"{target}.{alias.name}")
                elif target in known:
                    found.add(target)
    found.discard(name)
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for dep in sorted(graph.get(node, ())):
            if dep not in index:
                visit(dep)
                low[node] = min(low[node], low[dep])
            elif dep in on_stack:
                low[node] = min(low[node], index[dep])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_cycle_finder_finds_a_cycle_and_only_cycles() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set(), "c": {"a", "b"}}) == []


def test_import_graph_reads_relative_imports(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "sub" / "x.py").write_text(
        "from .. import a\nfrom ..b import thing\ndef f():\n    from . import y\n"
    )
    known = {"pkg", "pkg.a", "pkg.b", "pkg.sub", "pkg.sub.x", "pkg.sub.y"}
    assert imports_of("pkg.sub.x", pkg / "sub" / "x.py", known) == {"pkg.a", "pkg.b", "pkg.sub.y"}


def test_no_import_cycle_in_the_package() -> None:
    names = module_names()
    graph = {name: imports_of(name, file, set(names)) for name, file in names.items()}
    assert cycles(graph) == []


@pytest.mark.parametrize("name", sorted(module_names()))
def test_every_module_imports(name: str) -> None:
    importlib.import_module(name)


def test_the_plugin_never_imports_the_lab() -> None:
    """Anywhere in pytest_irp (top level, in functions): the lab is its own distribution,
    imported lazily by name (activation.LAB_MODULE) only when --irp-lab asks for it."""
    found = []
    for name, file in module_names().items():
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                targets = [node.module or ""]
            else:
                continue
            found += [f"{name}: {t}" for t in targets if t.split(".")[0] == "pytest_irp_lab"]
    assert found == []


def test_no_module_of_the_plugin_over_500_lines() -> None:
    long = {
        str(file.relative_to(PACKAGE)): n
        for file in PACKAGE.rglob("*.py")
        if (n := len(file.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}, f"split these by concern (at most {MAX_LINES} lines): {long}"


# names vulture cannot see used: pytest hooks and fixtures (called by name), hook arguments
# pytest passes by name, the stage functions pipeline.py imports by name, attributes that
# pytest or requests read, methods overriding testinfra's (run_local), and STATIC (the
# corpus self-test's table of judges), __signature__ (read by inspect.signature: the
# generated fixtures' arguments), the steps of a stage's Commands that only its plan lists
# (namespace_secret, rollout); the keys of the value types (pytest_irp/values.py, not
# scanned) are read as string keys, which vulture cannot follow
VULTURE_IGNORE = (
    "pytest_*,*_plan,*_run,trust_env,__qualname__,toterminal,count_towards_summary,"
    "testsfailed,postfix,pytestmark,run_local,STATIC,__signature__,namespace_secret,rollout"
)


def test_no_dead_code() -> None:
    """vulture over the plugin (outside the lab) and the criteria that use it."""
    pytest.importorskip("vulture")
    import subprocess
    import sys

    root = PACKAGE.parent
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "vulture",
            "pytest_irp",
            "tests",
            "--min-confidence",
            "60",
            "--ignore-names",
            VULTURE_IGNORE,
            "--exclude",
            "pytest_irp/values.py",
            "--ignore-decorators",
            "@pytest.fixture,@pytest.hookimpl",
        ],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_plugin_module_holds_hooks_only() -> None:
    """plugin.py defines pytest hooks and nothing else (no classes, no helpers): the
    domain code lives in the modules of its concern."""
    tree = ast.parse((PACKAGE / "plugin.py").read_text(encoding="utf-8"))
    defined = [
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    ]
    assert defined
    assert [name for name in defined if not name.startswith("pytest_")] == []
    assert not [node for node in tree.body if isinstance(node, ast.Assign | ast.AnnAssign)]
