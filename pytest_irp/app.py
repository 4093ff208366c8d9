"""App-side judges for T01-T05: pure functions over the repository's files and what nix
said about the flake. SQL is parsed with PostgreSQL's own parser (pglast)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

REMOVED_PACKAGES = ("http-conduit", "aeson", "string-conversions", "cryptohash-sha256",
                    "base16-bytestring", "random-bytestring", "yaml", "network-uri")


# --------------------------------------------------------------------------- T01 flake


def _strip_nix_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"(^|\s)#.*$", r"\1", text, flags=re.M)


def flake_problems(flake_text: str, evaluated: Any, app_name: str) -> list[str]:
    """What is wrong with flake.nix for T01. ``evaluated`` is ``nix eval --json .#irp``
    when the flake exposes its data there (preferred: nix itself answers), else None."""
    problems = []
    text = _strip_nix_comments(flake_text)
    if isinstance(evaluated, dict):
        name = evaluated.get("appName")
        packages = [str(p) for p in evaluated.get("haskellPackages", [])]
        overlays = evaluated.get("overlays", {})
        overlay_text = repr(overlays)
    else:
        match = re.search(r'appName\s*=\s*"([^"]*)"', text)
        name = match.group(1) if match else None
        block = re.search(r"haskellPackages\s*=\s*p:\s*with\s+p;\s*\[(.*?)\]", text, re.S)
        packages = block.group(1).split() if block else []
        overlay_text = text
    if name != app_name:
        problems.append(f"appName is {name!r}, expected {app_name!r}")
    present = [p for p in REMOVED_PACKAGES if p in packages]
    if present:
        problems.append(f"packages the workplan removes are still listed: {', '.join(present)}")
    if not ("configureFlags" in overlay_text and "postUnpack" in overlay_text):
        problems.append("the models overlay with configureFlags and postUnpack (ActualTypes "
                        "interface overflow fix, Bug 1) is missing")
    if re.search(r"inter-hub-lib", overlay_text):
        problems.append("the superseded inter-hub-lib overlay is still present")
    return problems


def flake_output_problems(show: Any, build_attr: str) -> list[str]:
    """From ``nix flake show --json``: the image package T06 builds exists, and a Hspec
    ``tests`` check exists for T05 (IHP adds it when Test/Main.hs exists)."""
    if not isinstance(show, dict):
        return ["`nix flake show --json` gave no usable answer"]
    attr = build_attr.split("#", 1)[-1]
    problems = []
    packages = show.get("packages") or {}
    if not any(attr in (outputs or {}) for outputs in packages.values()):
        problems.append(f"the flake has no package {attr!r} (needed by `nix build "
                        f"{build_attr}`); packages: "
                        f"{sorted({n for o in packages.values() for n in (o or {})})}")
    checks = show.get("checks") or {}
    if not any("tests" in (outputs or {}) for outputs in checks.values()):
        problems.append("the flake has no checks.<system>.tests (the Hspec suite)")
    return problems


# --------------------------------------------------------------------------- T03 schema


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    default: str | None
    not_null: bool
    primary_key: bool


def parse_schema(sql: str) -> dict[str, dict[str, Column]]:
    """CREATE TABLE statements -> table -> column -> Column (PostgreSQL's parser)."""
    from pglast import ast, parse_sql
    from pglast.enums import ConstrType
    from pglast.stream import RawStream

    tables: dict[str, dict[str, Column]] = {}
    for raw in parse_sql(sql):
        stmt = raw.stmt
        if not isinstance(stmt, ast.CreateStmt):
            continue
        columns: dict[str, Column] = {}
        for elt in stmt.tableElts or ():
            if not isinstance(elt, ast.ColumnDef) or elt.typeName is None or not elt.colname:
                continue
            type_name = ".".join(n.sval for n in elt.typeName.names or ())
            type_name = type_name.removeprefix("pg_catalog.")
            default, not_null, pk = None, bool(elt.is_not_null), False
            for con in elt.constraints or ():
                if con.contype == ConstrType.CONSTR_DEFAULT:
                    default = RawStream()(con.raw_expr)
                elif con.contype == ConstrType.CONSTR_NOTNULL:
                    not_null = True
                elif con.contype == ConstrType.CONSTR_PRIMARY:
                    pk = True
            columns[elt.colname] = Column(elt.colname, type_name, default, not_null, pk)
        if stmt.relation is not None and stmt.relation.relname:
            tables[str(stmt.relation.relname)] = columns
    return tables


PROBES_EXPECTED = {
    "id": Column("id", "uuid", "uuid_generate_v4()", True, True),
    "name": Column("name", "text", None, True, False),
    "created_at": Column("created_at", "timestamptz", "now()", True, False),
}


def schema_problems(tables: dict[str, dict[str, Column]]) -> list[str]:
    if "probes" not in tables:
        return [f"no table probes (tables: {', '.join(tables) or 'none'})"]
    columns = tables["probes"]
    problems = []
    if set(columns) != set(PROBES_EXPECTED):
        problems.append(f"probes has columns {sorted(columns)}, expected "
                        f"{sorted(PROBES_EXPECTED)}")
    for name, want in PROBES_EXPECTED.items():
        have = columns.get(name)
        if have is None:
            continue
        if have != want:
            problems.append(f"probes.{name} is {_col(have)}, expected {_col(want)}")
    return problems


def _col(c: Column) -> str:
    return (f"{c.type}{' DEFAULT ' + c.default if c.default else ''}"
            f"{' NOT NULL' if c.not_null else ''}{' PRIMARY KEY' if c.primary_key else ''}")


# --------------------------------------------------------------------------- T04 route


def route_problems(routes: str, controller: str, front: str, types: str) -> list[str]:
    problems = []
    if not re.search(r"instance\s+CanRoute\s+HealthController", routes):
        problems.append("Web/Routes.hs has no `instance CanRoute HealthController`")
    if not re.search(r'pathPrefix\s+"/healthz"', routes) and '"/healthz"' not in routes:
        problems.append('Web/Routes.hs does not route "/healthz"')
    if not re.search(r"action\s+HealthAction\s*=\s*renderPlain\s+\"ok\"", controller):
        problems.append('Web/Controller/Health.hs does not render plain "ok" for HealthAction')
    if "HealthController" not in types:
        problems.append("Web/Types.hs does not declare HealthController")
    if not re.search(r"parseRoute\s*@HealthController", front):
        problems.append("Web/FrontController.hs does not wire HealthController")
    return problems


# --------------------------------------------------------------------------- T05 spec


def spec_problems(spec: str) -> list[str]:
    problems = []
    if not re.search(r'describe\s+"ProbeController"', spec):
        problems.append('Test/ProbeControllerSpec.hs has no describe "ProbeController"')
    if not re.search(r'get\s+"/probes"|"GET /probes', spec):
        problems.append("Test/ProbeControllerSpec.hs has no spec for GET /probes")
    return problems


def spec_output_problems(output: str) -> list[str]:
    problems = []
    if "ProbeController" not in output:
        problems.append("the test output does not name the ProbeController spec")
    match = re.search(r"(\d+) examples?, (\d+) failures?", output)
    if match and match.group(2) != "0":
        problems.append(f"hspec reports {match.group(0)}")
    return problems
