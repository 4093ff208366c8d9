"""Every check in tests/ can fail: for each test function there (found by parsing
tests/, so a new check without an entry in :data:`canfail_table.CASES` fails here), the
check is called with recorded facts on which its criterion holds, and passes, and with
each set on which it does not, and FAILS (an AssertionError or ``pytest.fail``; a skip,
a pass or any other error is a defect of the check or of its facts)."""

from __future__ import annotations

import ast
import importlib.util
import inspect
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from canfail_table import CASES, Facts

pytestmark = pytest.mark.filterwarnings("ignore::pytest_irp.appcode.AppFinding")
TESTS = Path(__file__).resolve().parent.parent / "tests"


def _checks() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in sorted(TESTS.glob("test_*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith(
                "test"
            ):
                found[node.name] = path
    return found


CHECKS = _checks()
_MODULES: dict[Path, ModuleType] = {}


def _check(name: str) -> Callable[..., Any]:
    path = CHECKS[name]
    if path not in _MODULES:
        spec = importlib.util.spec_from_file_location(f"irp_tests_{path.stem}", path)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _MODULES[path] = module
    check: Callable[..., Any] = getattr(_MODULES[path], name)
    return check


class _Env:
    """Scratch directory and loopback HTTP answers for one fact set."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.servers: list[ThreadingHTTPServer] = []

    def serve(self, status: int, body: str) -> str:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture
def env(tmp_path: Path) -> Iterator[_Env]:
    made = _Env(tmp_path)
    yield made
    for server in made.servers:
        server.shutdown()
        server.server_close()


def _prepared(name: str, facts: Facts, env: _Env) -> Callable[[], Any]:
    """The check bound to the facts (built here, outside the caller's ``try``: an error in
    the facts is an error, never taken for the check failing)."""
    check = _check(name)
    values = facts(env)
    wanted = list(inspect.signature(check).parameters)
    missing = [p for p in wanted if p not in values]
    if missing:
        raise LookupError(f"the facts for {name} lack its fixtures {missing}")
    kwargs = {p: values[p] for p in wanted}

    def call() -> Any:
        try:
            return check(**kwargs)
        except pytest.skip.Exception as exc:
            raise LookupError(f"{name} skipped on these facts: {exc}") from exc

    return call


def test_every_check_in_tests_has_an_entry() -> None:
    assert CHECKS, f"no checks found in {TESTS}"
    missing = sorted(set(CHECKS) - set(CASES))
    assert not missing, (
        f"checks in tests/ without facts on which they fail (add them to "
        f"testing/canfail_table.py): {missing}"
    )
    stale = sorted(set(CASES) - set(CHECKS))
    assert not stale, f"entries in testing/canfail_table.py for no check in tests/: {stale}"
    empty = sorted(name for name, case in CASES.items() if not case.failing)
    assert not empty, f"checks with no failing facts: {empty}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_check_passes_on_facts_where_its_criterion_holds(name: str, env: _Env) -> None:
    _prepared(name, CASES[name].passing, env)()


@pytest.mark.parametrize(
    ("name", "index"),
    [(name, i) for name, case in sorted(CASES.items()) for i in range(len(case.failing))],
)
def test_check_fails_on_facts_where_its_criterion_does_not_hold(
    name: str, index: int, env: _Env
) -> None:
    call = _prepared(name, CASES[name].failing[index], env)
    try:
        call()
    except (AssertionError, pytest.fail.Exception):
        return
    pytest.fail(f"{name} passed on facts #{index} where its criterion does not hold", pytrace=False)
