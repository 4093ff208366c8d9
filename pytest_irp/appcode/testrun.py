"""T05: which command runs the ProbeController spec, and why; and whether a failed run
failed for want of a database.

IHP's flake module (flake-module.nix, v1.5.0 L317-370, same in v1.6.0) has two checks:
``tests`` runs ``Test/Main.hs`` with runghc and no PostgreSQL; ``integration-tests`` (when
``Test/Integration.hs`` exists) starts a temporary PostgreSQL and runs ``Test/Integration.hs``.
IHP.Hspec's ``withIHPApp`` creates a database on the server ``DATABASE_URL`` names
(ihp-hspec/IHP/Hspec.hs v1.5.0 L44-74): a spec that uses it passes only where PostgreSQL is
up, in the integration-tests check or in the app's devenv (the workplan's ``test``; IHP
defines no ``test`` script, so it is the user's ``scripts.test``)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from .flake import version_tuple
from .haskell import Module, last_name, parse, walk
from .spec import describes

MAIN = "Test/Main.hs"
INTEGRATION = "Test/Integration.hs"
SYSTEM = "x86_64-linux"
DESCRIBE = "ProbeController"
DEVENV_TEST = "the devenv `test` script"


@dataclass(frozen=True)
class TestChoice:
    """``where``: ``tests``, ``integration-tests``, ``devenv test`` or ``flake check``."""

    where: str
    argv: tuple[str, ...]
    report: tuple[str, ...]
    needs_db: bool
    spec_file: str
    reason: str
    problem: str = ""  # why this command cannot pass the spec ('' when it can)

    def label(self) -> str:
        if self.where in ("tests", "integration-tests"):
            return f"the flake's {self.where} check"
        return DEVENV_TEST if self.where == "devenv test" else "`nix flake check`"

    def explain(self) -> str:
        return self.reason + (f" Cannot pass as it stands: {self.problem}" if self.problem else "")


def _check(name: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    attr = f".#checks.{SYSTEM}.{name}"
    return (
        ("nix", "build", "--impure", "-L", "--no-link", attr),
        ("nix", "log", "--impure", attr),
    )


def _module_name(path: str) -> str:
    return path.removesuffix(".hs").replace("/", ".")


def _imports(m: Module) -> list[str]:
    out = []
    for node in walk(m.root):
        if node.type == "import":
            mod = node.child_by_field_name("module")
            if mod is not None:
                out.append(m.code(mod))
    return out


def _uses(m: Module, name: str) -> bool:
    return any(
        n.type in ("variable", "qualified") and last_name(m.code(n)) == name for n in walk(m.root)
    )


def _reached(entry: str, modules: Mapping[str, Module]) -> set[str]:
    """The Test/ modules ``entry`` imports, directly or through others (itself included)."""
    by_name = {_module_name(p): p for p in modules}
    seen, todo = set(), [entry]
    while todo:
        path = todo.pop()
        if path in seen or path not in modules:
            continue
        seen.add(path)
        todo += [by_name[i] for i in _imports(modules[path]) if i in by_name]
    return seen


def devenv_test_script(nix_texts: Mapping[str, str]) -> str:
    """The file that defines a devenv ``scripts.test`` (flake.nix's devenv shell or
    devenv.nix), '' if none. Read as Nix syntax: a comment or a string does not count."""
    from .nixexpr import parse as parse_nix

    for path, text in nix_texts.items():
        f = parse_nix(path, text)
        for _names, _expr, node in f.bindings():
            full: list[str] = []
            cur = node
            while cur is not None:
                if cur.type == "binding":
                    full = f.attr_names(cur.child_by_field_name("attrpath")) + full
                cur = cur.parent
            if any(full[i : i + 2] == ["scripts", "test"] for i in range(len(full) - 1)):
                return path
    return ""


def choose(
    tests: Mapping[str, str],
    nix_texts: Mapping[str, str],
    ihp: str | None = None,
) -> TestChoice:
    """``tests``: path -> text of the app's ``Test/**.hs``; ``nix_texts``: flake.nix and
    devenv.nix (when present); ``ihp``: IHP's version from flake.lock."""
    modules = {p: parse(p, t) for p, t in tests.items()}
    spec = next((p for p in sorted(modules) if describes(modules[p], DESCRIBE)), "")
    entries = {e: _reached(e, modules) for e in (INTEGRATION, MAIN) if e in modules}
    entry = next((e for e, seen in entries.items() if spec and spec in seen), "")
    needs_db = bool(spec) and any(
        _uses(modules[p], "withIHPApp") for p in ({spec, entry} - {""}) if p in modules
    )
    devenv = devenv_test_script(nix_texts)
    db = (
        f"{spec} uses withIHPApp, which creates a test database on the PostgreSQL server "
        "DATABASE_URL names (IHP.Hspec)"
        if needs_db
        else f"{spec or 'the spec'} does not use withIHPApp: it needs no PostgreSQL"
    )
    devenv_argv = (
        ("devenv", "shell", "test")
        if devenv == "devenv.nix"
        else ("nix", "develop", "--impure", "--command", "test")
    )
    devenv_reason = (
        f"{DEVENV_TEST} ({devenv}), as the workplan runs it; PostgreSQL must be up there "
        "(`devenv up` running on the build host)."
    )
    old = version_tuple(ihp)
    if old is not None and old < (1, 5):
        if devenv:
            return TestChoice(
                "devenv test",
                devenv_argv,
                (),
                needs_db,
                spec,
                f"IHP {ihp} has no flake checks (they come with 1.5): {devenv_reason} {db}.",
            )
        return TestChoice(
            "flake check",
            ("nix", "flake", "check", "--impure", "-L"),
            (),
            needs_db,
            spec,
            f"IHP {ihp} (flake.lock) has no flake checks: they come with IHP 1.5.",
            "no command of the app runs the specs: define a devenv `scripts.test` or set "
            "test_command",
        )
    if entry == INTEGRATION:
        argv, report = _check("integration-tests")
        return TestChoice(
            "integration-tests",
            argv,
            report,
            needs_db,
            spec,
            f"{spec} is run by {INTEGRATION}: the flake's integration-tests check, which "
            f"starts a temporary PostgreSQL for it (IHP's flake module, 1.5+). {db}.",
        )
    if entry == MAIN and not needs_db:
        argv, report = _check("tests")
        return TestChoice(
            "tests",
            argv,
            report,
            needs_db,
            spec,
            f"{spec} is run by {MAIN}: the flake's tests check (runghc, no PostgreSQL; "
            f"IHP's flake module, 1.5+). {db}.",
        )
    if devenv:
        where = f"{spec} is run by {entry}" if entry else f"{spec} is wired into no Test/ entry"
        return TestChoice(
            "devenv test", devenv_argv, (), needs_db, spec, f"{where}; {db}: {devenv_reason}"
        )
    if entry == MAIN:
        argv, report = _check("tests")
        return TestChoice(
            "tests",
            argv,
            report,
            needs_db,
            spec,
            f"{spec} is run by {MAIN}: the flake's tests check. {db}.",
            "the tests check runs Test/Main.hs with runghc and no PostgreSQL; " + NEXT_STEP_TESTS,
        )
    return TestChoice(
        "flake check",
        ("nix", "flake", "check", "--impure", "-L"),
        (),
        needs_db,
        spec,
        f"{spec or 'no module in Test/ with describe ' + repr(DESCRIBE)} is imported by "
        f"neither {MAIN} nor {INTEGRATION}, and the app has no devenv `test` script.",
        f"no check runs the spec: import it from {INTEGRATION} (it needs a database) or "
        f"{MAIN} (it does not)",
    )


NEXT_STEP_TESTS = (
    "move the spec to Test/Integration.hs (import it there, not from Test/Main.hs) so the "
    "integration-tests check gives it a temporary PostgreSQL, or run it in devenv where "
    "PostgreSQL is up: `devenv up`, then `nix develop --impure --command test` (a "
    "`scripts.test` of your devenv) as test_command"
)


# ------------------------------------------------------------------ the failed run

# libpq (fe-connect.c): PostgreSQL >= 14 `connection to server on socket "S" failed: R` /
# `connection to server at "H" (A), port P failed: R`; older `could not connect to server: R`.
# Shown through Haskell's `show` (hasql's ConnectionError, postgresql-simple's SqlError)
# the quotes come escaped (\") and the newlines as \n.
_LIBPQ = re.compile(
    r'connection to server (?:on socket \\?"(?P<sock>[^"\\]*)\\?"|at \\?"(?P<host>[^"\\]*)'
    r'\\?"(?: \([^)]*\))?, port (?P<port>\d+)) failed: (?P<why>[^\n\\]*)'
    r"|could not connect to server: (?P<old>[^\n\\]*)"
)
_AUTH = re.compile(r'password authentication failed for user \\?"?(?P<user>[^"\\\s]*)')
_CREATEDB = re.compile(r"permission denied to create database")
_PSQL = re.compile(r"callCommand: psql [^\n]*\(exit (?P<rc>\d+)\)|psql: (?:command )?not found")


def database_failure(output: str) -> str:
    """What in a failed test run says PostgreSQL was missing or refused IHP.Hspec
    (``withIHPApp``): '' when nothing does."""
    m = _LIBPQ.search(output)
    if m:
        if m["sock"] is not None:
            where = f'no PostgreSQL answers on the socket "{m["sock"]}"'
        elif m["host"] is not None:
            where = f"no PostgreSQL answers at {m['host']}, port {m['port']}"
        else:
            where = "no PostgreSQL answers"
        return f"{where} ({(m['why'] or m['old'] or '').strip()}; libpq)"
    m = _AUTH.search(output)
    if m:
        return f"PostgreSQL refused the login of {m['user'] or 'the user'} (password)"
    if _CREATEDB.search(output):
        return (
            "the PostgreSQL user may not create databases, and withIHPApp creates one per run "
            "(CREATE DATABASE)"
        )
    m = _PSQL.search(output)
    if m:
        return (
            "psql could not load the schema (withIHPApp imports IHP's and the app's "
            f"Schema.sql with psql; exit {m['rc'] or 127})"
        )
    return ""


def database_cause(output: str, choice: TestChoice | None, explicit: bool) -> str:
    """The cause and next step of a test run that failed for want of a database ('' when
    the output does not say so)."""
    found = database_failure(output)
    if not found:
        return ""
    spec = (choice.spec_file if choice else "") or "the spec"
    head = f"{spec} failed for want of a database: {found}."
    if explicit or choice is None:
        return (
            f"{head} The spec needs PostgreSQL where test_command runs it; "
            + NEXT_STEP_TESTS.replace(
                " as test_command", ", or set test_command to a command that does"
            )
            + "."
        )
    if choice.where == "tests":
        return f"{head} The flake's tests check has no PostgreSQL: {NEXT_STEP_TESTS}."
    if choice.where == "devenv test":
        return (
            f"{head} PostgreSQL is not up in the devenv: start it on the build host "
            "(`devenv up`, as in T02) and run the tests again."
        )
    if choice.where == "integration-tests":
        return (
            f"{head} The integration-tests check starts its own PostgreSQL and sets "
            "DATABASE_URL to it: check that the spec's config does not set another "
            "database URL, and read the check's log (`nix log`) for pg_ctl's error."
        )
    return f"{head} Run the spec where PostgreSQL runs: {NEXT_STEP_TESTS}."
