"""T03: the ``probes`` table as the schema leaves it, and a migration that makes it.

Statements are applied in order with PostgreSQL's own parser (pglast): CREATE TABLE,
ALTER TABLE ... ADD/DROP/ALTER COLUMN (type, NOT NULL, DEFAULT), ADD/DROP CONSTRAINT,
RENAME, DROP TABLE. Only tables in the ``public`` schema (or unqualified) count, as in
IHP's schema parser (ihp-postgres-parser/IHP/Postgres/Parser.hs, ``qualifiedIdentifier``).
pg_dump's ``\\restrict KEY`` / ``\\unrestrict KEY`` lines are skipped as IHP's parser
skips them (the ``restrict``/``unrestrict`` statements there)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from . import Verdict, line_col, line_of, source_line
from .ihp_schema import PARSER, ihp_problem, type_end

TABLE = "probes"
SCHEMA_FILE = "Application/Schema.sql"
_META = re.compile(r"^[ \t]*\\(?:restrict|unrestrict)[ \t]+[A-Za-z0-9_]+[ \t]*$", re.M)


class SchemaSyntaxError(ValueError):
    """A statement PostgreSQL's parser rejects: names file, line, column and the line."""

    def __init__(self, path: str, line: int, col: int, message: str, quoted: str) -> None:
        self.path, self.line, self.col = path, line, col
        self.detail = f"column {col}: PostgreSQL's parser rejects it ({message}): `{quoted}`"
        super().__init__(f"{path}:{line}: {self.detail}")


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # canonical (pg_catalog) name, `[]` appended for arrays
    spelled: str  # as the user wrote it
    default: str | None
    not_null: bool
    line: int  # the statement that last set this column

    def describe(self, primary_key: bool) -> str:
        spelled = self.spelled or self.type
        text = spelled if spelled.lower() == self.type else f"{spelled} ({self.type})"
        if self.default:
            text += f" DEFAULT {self.default}"
        if self.not_null or primary_key:
            text += " NOT NULL"
        if primary_key:
            text += " PRIMARY KEY"
        return text


@dataclass
class Table:
    name: str
    line: int
    columns: dict[str, Column] = field(default_factory=dict)
    primary_key: tuple[str, ...] = ()
    pk_name: str = ""


def strip_meta(sql: str) -> str:
    """Blank pg_dump's psql meta-commands, keeping every offset."""
    return _META.sub(lambda m: " " * len(m.group(0)), sql)


def parse_statements(sql: str, path: str) -> list[tuple[int, Any]]:
    """(line, statement) pairs; :class:`SchemaSyntaxError` on a syntax error."""
    from pglast import parse_sql
    from pglast.parser import ParseError

    text = strip_meta(sql)
    try:
        raws = parse_sql(text)
    except ParseError as exc:
        message, index = (exc.args + (None,))[:2]
        offset = int(index) if isinstance(index, int) else 0
        line, col = line_col(text, offset)
        raise SchemaSyntaxError(
            path, line, col, str(message), source_line(sql, line).strip()
        ) from None
    out = []
    for raw in raws:
        start = raw.stmt_location or 0
        # the statement's location includes leading comments and blank lines
        while start < len(text) and text[start].isspace():
            start += 1
        while text.startswith("--", start):
            start = text.find("\n", start)
            start = len(text) if start < 0 else start
            while start < len(text) and text[start].isspace():
                start += 1
        out.append((line_of(text, start), raw.stmt))
    return out


def _public(relation: Any) -> str | None:
    if relation is None or relation.schemaname not in (None, "public"):
        return None
    return str(relation.relname)


def _type_of(type_name: Any, sql: str) -> tuple[str, str]:
    names = [n.sval for n in type_name.names or ()]
    if names[:1] == ["pg_catalog"]:
        names = names[1:]
    canonical = ".".join(names)
    if type_name.arrayBounds:
        canonical += "[]"
    spelled = ""
    loc = getattr(type_name, "location", None)
    if isinstance(loc, int) and loc >= 0:
        spelled = " ".join(sql[loc : type_end(sql, loc)].split())
    return canonical, spelled


def _deparse(node: Any) -> str:
    """An expression as PostgreSQL prints it; functions of public/pg_catalog unqualified
    (``public.uuid_generate_v4()`` as pg_dump writes it is ``uuid_generate_v4()``)."""
    from pglast.stream import RawStream

    return re.sub(r"\b(?:public|pg_catalog)\.(?=\w+\()", "", str(RawStream()(node)))


def _column(elt: Any, sql: str, line: int) -> tuple[Column, bool]:
    from pglast.enums import ConstrType

    canonical, spelled = _type_of(elt.typeName, sql)
    default, not_null, pk = None, bool(elt.is_not_null), False
    for con in elt.constraints or ():
        if con.contype == ConstrType.CONSTR_DEFAULT:
            default = _deparse(con.raw_expr)
        elif con.contype == ConstrType.CONSTR_NOTNULL:
            not_null = True
        elif con.contype == ConstrType.CONSTR_NULL:
            not_null = False
        elif con.contype == ConstrType.CONSTR_PRIMARY:
            pk = True
    loc = getattr(elt, "location", None)
    if isinstance(loc, int) and loc >= 0:
        line = line_of(sql, loc)
    return Column(str(elt.colname), canonical, spelled, default, not_null, line), pk


def final_tables(sql: str, path: str = SCHEMA_FILE) -> dict[str, Table]:
    """The public tables as the whole file leaves them."""
    from pglast import ast
    from pglast.enums import AlterTableType as At
    from pglast.enums import ConstrType, ObjectType

    tables: dict[str, Table] = {}
    text = strip_meta(sql)
    for line, stmt in parse_statements(sql, path):
        if isinstance(stmt, ast.CreateStmt):
            name = _public(stmt.relation)
            if name is None:
                continue
            if name in tables and stmt.if_not_exists:
                continue
            table = Table(name, line)
            for elt in stmt.tableElts or ():
                if isinstance(elt, ast.ColumnDef) and elt.typeName is not None:
                    col, pk = _column(elt, text, line)
                    table.columns[col.name] = col
                    if pk:
                        table.primary_key = (col.name,)
                elif isinstance(elt, ast.Constraint) and elt.contype == ConstrType.CONSTR_PRIMARY:
                    table.primary_key = tuple(k.sval for k in elt.keys or ())
                    table.pk_name = elt.conname or ""
            tables[name] = table
        elif isinstance(stmt, ast.AlterTableStmt):
            altered = tables.get(_public(stmt.relation) or "")
            if altered is not None:
                for cmd in stmt.cmds or ():
                    _alter(altered, cmd, text, line, At, ConstrType)
        elif isinstance(stmt, ast.RenameStmt):
            _rename(tables, stmt, ObjectType, line)
        elif isinstance(stmt, ast.DropStmt) and stmt.removeType == ObjectType.OBJECT_TABLE:
            for obj in stmt.objects or ():
                parts = [n.sval for n in obj]
                if len(parts) == 1 or parts[0] == "public":
                    tables.pop(parts[-1], None)
    return tables


def _alter(table: Table, cmd: Any, sql: str, line: int, At: Any, ConstrType: Any) -> None:
    col = table.columns.get(cmd.name or "")
    if cmd.subtype == At.AT_AddColumn:
        new, pk = _column(cmd.def_, sql, line)
        table.columns[new.name] = new
        if pk:
            table.primary_key = (new.name,)
    elif cmd.subtype == At.AT_DropColumn:
        table.columns.pop(cmd.name, None)
        if cmd.name in table.primary_key:
            table.primary_key = ()
    elif col is not None and cmd.subtype == At.AT_AlterColumnType:
        canonical, spelled = _type_of(cmd.def_.typeName, sql)
        table.columns[col.name] = replace(col, type=canonical, spelled=spelled, line=line)
    elif col is not None and cmd.subtype == At.AT_SetNotNull:
        table.columns[col.name] = replace(col, not_null=True, line=line)
    elif col is not None and cmd.subtype == At.AT_DropNotNull:
        table.columns[col.name] = replace(col, not_null=False, line=line)
    elif col is not None and cmd.subtype == At.AT_ColumnDefault:
        default = _deparse(cmd.def_) if cmd.def_ is not None else None
        table.columns[col.name] = replace(col, default=default, line=line)
    elif cmd.subtype == At.AT_AddConstraint and cmd.def_.contype == ConstrType.CONSTR_PRIMARY:
        table.primary_key = tuple(k.sval for k in cmd.def_.keys or ())
        table.pk_name = cmd.def_.conname or ""
    elif (
        cmd.subtype == At.AT_DropConstraint
        and table.primary_key
        and cmd.name in (table.pk_name or f"{table.name}_pkey", f"{table.name}_pkey")
    ):
        table.primary_key = ()


def _rename(tables: dict[str, Table], stmt: Any, ObjectType: Any, line: int) -> None:
    table = tables.get(_public(stmt.relation) or "")
    if table is None:
        return
    if stmt.renameType == ObjectType.OBJECT_TABLE:
        tables.pop(table.name)
        table.name = stmt.newname
        tables[stmt.newname] = table
    elif stmt.renameType == ObjectType.OBJECT_COLUMN and stmt.subname in table.columns:
        old = table.columns.pop(stmt.subname)
        table.columns[stmt.newname] = replace(old, name=stmt.newname, line=line)
        table.primary_key = tuple(
            stmt.newname if k == stmt.subname else k for k in table.primary_key
        )


# The workplan's table: (canonical type, default, primary key). NOT NULL everywhere.
EXPECTED = {
    "id": ("uuid", "uuid_generate_v4()", True),
    "name": ("text", None, False),
    "created_at": ("timestamptz", "now()", False),
}
_WANT_SPELLED = {
    "id": "UUID DEFAULT uuid_generate_v4() NOT NULL PRIMARY KEY",
    "name": "TEXT NOT NULL",
    "created_at": "TIMESTAMP WITH TIME ZONE (timestamptz) DEFAULT now() NOT NULL",
}


def schema_verdict(sql: str, path: str = SCHEMA_FILE) -> Verdict:
    verdict = Verdict()
    try:
        tables = final_tables(sql, path)
    except SchemaSyntaxError as exc:
        verdict.fail(exc.path, exc.line, exc.detail)
        return verdict
    text = strip_meta(sql)
    problem = ihp_problem(text, parse_statements(sql, path))
    if problem is not None:
        at_line, at_col = line_col(text, problem[0])
        verdict.fail(
            path,
            at_line,
            f"column {at_col}: IHP's schema parser rejects it, so code generation fails "
            f"though PostgreSQL accepts it: {problem[1]} ({PARSER}): "
            f"`{source_line(sql, at_line).strip()}`",
        )
        return verdict
    table = tables.get(TABLE)
    if table is None:
        verdict.fail(
            path,
            0,
            f"the schema leaves no table {TABLE} in schema public "
            f"(tables: {', '.join(sorted(tables)) or 'none'})",
        )
        return verdict
    have, want = set(table.columns), set(EXPECTED)
    if have != want:
        extra, missing = sorted(have - want), sorted(want - have)
        parts = ([f"lacks {', '.join(missing)}"] if missing else []) + (
            [f"has extra {', '.join(extra)}"] if extra else []
        )
        verdict.fail(
            path,
            table.line,
            f"{TABLE} {' and '.join(parts)} (columns: "
            f"{', '.join(table.columns)}; expected id, name, "
            f"created_at)",
        )
    for name, (type_, default, pk) in EXPECTED.items():
        col = table.columns.get(name)
        if col is None:
            continue
        is_pk = table.primary_key == (name,)
        if (
            col.type != type_
            or (col.default or None) != default
            or not (col.not_null or is_pk)
            or is_pk != pk
        ):
            verdict.fail(
                path,
                col.line,
                f"{TABLE}.{name} is {col.describe(is_pk)}, expected {_WANT_SPELLED[name]}",
            )
    if table.primary_key and table.primary_key != ("id",):
        verdict.fail(
            path,
            table.line,
            f"{TABLE}'s primary key is ({', '.join(table.primary_key)}), expected (id)",
        )
    return verdict


def migration_verdict(migrations: dict[str, str]) -> Verdict:
    """One migration (path -> SQL) must create or change ``probes`` in code, not a comment."""
    from pglast import ast

    verdict = Verdict()
    touching = []
    for path in sorted(migrations):
        try:
            statements = parse_statements(migrations[path], path)
        except SchemaSyntaxError as exc:
            verdict.fail(exc.path, exc.line, exc.detail)
            continue
        for _line, stmt in statements:
            relation = getattr(stmt, "relation", None)
            if (
                isinstance(stmt, (ast.CreateStmt, ast.AlterTableStmt, ast.RenameStmt))
                and _public(relation) == TABLE
            ):
                touching.append(path)
    if not migrations:
        verdict.fail("Application/Migration", 0, "no migration (*.sql) in Application/Migration/")
    elif not touching:
        verdict.fail(
            "Application/Migration",
            0,
            f"none of the {len(migrations)} migrations creates or alters table "
            f"{TABLE} in code ({', '.join(sorted(migrations))})",
        )
    return verdict
